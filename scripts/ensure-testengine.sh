#!/bin/sh
# Builds the tests' real search engine (deploy/testengine: OpenSearch 2.19 from Maven Central) so
# `make test` and `make bench` can start it. Needs Java 17+ and Maven; as root with apt-get, installs
# Debian's JDK and Maven when they are missing. Without them the engine tests are skipped, with one
# line saying why; under CI (CI set) a missing JVM or a failed build is an error.
DIR=deploy/testengine
OUT=$DIR/target/classpath.txt
fail() {
  if [ -n "$CI" ]; then echo "netsword: $1 (CI needs the real engine)" >&2; exit 1; fi
  echo "netsword: $1; the tests on the real search engine will be skipped" >&2; exit 0
}
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "netsword: installing Debian's JDK and Maven (apt-get) for the test engine ..."
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jdk-headless maven >/dev/null; } \
      || echo "netsword: apt-get could not install a JDK and Maven" >&2
  fi
fi
command -v java >/dev/null 2>&1 || fail "no Java found"
command -v mvn >/dev/null 2>&1 || fail "no Maven found"
# up to date: built after the last change of the pom and the launcher
if [ -f "$OUT" ] && [ -z "$(find "$DIR/pom.xml" "$DIR/src" -newer "$OUT" 2>/dev/null | head -n 1)" ]; then exit 0; fi
echo "netsword: building the test engine (OpenSearch from Maven Central, $DIR) ..."
mvn -q -B -f "$DIR/pom.xml" package || fail "the test engine did not build (mvn package in $DIR)"
