"""The real search engine of the tests: one OpenSearch 2.19 node in one JVM (``deploy/testengine``).

``scripts/ensure-testengine.sh`` (run by ``make test`` and ``make bench``) resolves it from Maven
Central and writes ``deploy/testengine/target/classpath.txt``. :class:`TestEngine` starts the node on
127.0.0.1 at free ports with its own home (data and logs), the heap capped at 512 MB, and stops it
(SIGTERM: the node closes cleanly). It can be stopped and started again on the same home and ports
(an outage in the middle of a sweep), like the stand-in (:mod:`standin`).

Where Java or the built engine is missing, :class:`EngineUnavailable` says why in one line; the
tests skip on it, except under CI (``CI`` set), where a missing engine fails them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

#: the repository: the nearest folder above this file that holds setup.cfg
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "setup.cfg").is_file())
ENGINE_DIR = ROOT / "deploy" / "testengine"
CLASSPATH = ENGINE_DIR / "target" / "classpath.txt"
CLASSES = ENGINE_DIR / "target" / "classes"
MAIN = "netsword.testengine.Launcher"
#: which search engines this session ran, for the summary at its end (tests/conftest.py prints it)
RAN: dict[str, str] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EngineUnavailable(RuntimeError):
    """Java or the built test engine is missing, or the node did not start."""


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise EngineUnavailable("no Java here (install a JDK 17, e.g. apt-get install openjdk-17-jdk-headless maven, "
                                "then make test)")
    return found


def classpath() -> str:
    if not CLASSPATH.is_file() or not (CLASSES / "netsword" / "testengine").is_dir():
        raise EngineUnavailable(f"the test engine is not built ({CLASSPATH.relative_to(ROOT)} missing): "
                                "run sh scripts/ensure-testengine.sh (needs Maven)")
    return os.pathsep.join([str(CLASSES), CLASSPATH.read_text(encoding="utf-8").strip()])


class TestEngine:
    """One OpenSearch node on 127.0.0.1 with its data under ``home``; restartable on the same ports."""

    __test__ = False  # not a test class
    scheme = "opensearch"

    def __init__(self, home: Path, heap: str = "512m", *, quick_start: bool = True) -> None:
        self.home = Path(home)
        self.heap = heap
        # C1 only: the node starts with less CPU (the tests' small indices need no C2); benchmarks want C2
        self.jit = ["-XX:TieredStopAtLevel=1"] if quick_start else []
        self.port = free_port()
        self.transport_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.home / "engine.log"
        self.version = ""
        self.started_in = 0.0  # seconds the first start took

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return f"OpenSearch {self.version}".strip()

    def start(self, timeout: float = 600.0) -> TestEngine:
        cmd = [java(), f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseSerialGC", *self.jit,
               "-Djava.awt.headless=true", f"-Djava.io.tmpdir={self.home / 'tmp'}", "-Dlog4j2.disable.jmx=true",
               "-cp", classpath(), MAIN,
               str(self.home), str(self.port), str(self.transport_port)]
        (self.home / "tmp").mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        with open(self.log, "ab") as log:
            # stdin stays open while we run: the node exits by itself when this process goes away
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE)
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EngineUnavailable(f"the test engine exited with {self.proc.returncode}: "
                                        f"{self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/_cluster/health?wait_for_status=yellow&timeout=1s",
                                            timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise EngineUnavailable(f"the test engine did not answer on {self.url} within {timeout:.0f} s: "
                                    f"{self.log.read_text(errors='replace')[-2000:]}")
        if not self.started_in:
            self.started_in = time.monotonic() - began
        with urllib.request.urlopen(self.url + "/", timeout=5) as r:
            self.version = json.load(r)["version"]["number"]
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> None:
        """Stop the node (SIGTERM: it closes its indices cleanly)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> TestEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
