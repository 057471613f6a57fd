package netsword.testengine;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.opensearch.Version;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * One single-node OpenSearch on 127.0.0.1 for netsword's tests and benchmarks.
 *
 * <pre>java -Xmx512m -cp CLASSPATH netsword.testengine.Launcher HOME HTTP_PORT TRANSPORT_PORT</pre>
 *
 * HOME holds data/ and logs/ (kept across restarts: stop and start on the same HOME finds the data).
 * Prints one line "ready opensearch VERSION http://127.0.0.1:PORT" when the node serves; stops
 * (closing the node cleanly) on SIGTERM or when its standard input closes, so a test run that dies
 * does not leave a JVM behind.
 */
public final class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: Launcher HOME HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "netsword-test")
            .put("node.name", "netsword-test-0")
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", args[2])
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null,
            () -> "netsword-test-0");
        Node node = new ClasspathNode(env, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class,
            PainlessPlugin.class, ReindexPlugin.class));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        node.start();
        System.out.println("ready opensearch " + Version.CURRENT + " http://127.0.0.1:" + args[1]);
        System.out.flush();
        InputStream in = System.in;
        while (in.read() != -1) {
            // wait for the parent to go away
        }
        System.exit(0);
    }

    /** A node whose modules come from the class path (the distribution loads them from modules/). */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }
}
