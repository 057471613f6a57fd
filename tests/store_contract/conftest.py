"""The Store contract suite runs once per engine: SQLite; the real search engine (OpenSearch 2.19 in one
JVM, ``realengine``, started once per session); and the noida-db Elasticsearch stand-in (``standin``,
a fast extra that speaks the ES 8 API), or a real Elasticsearch when NETSWORD_TEST_ES_URL is set. Each
search-engine test gets its own index prefix on the session's server, dropped afterwards."""

from __future__ import annotations

import itertools
import uuid
from types import SimpleNamespace

import pytest
from realengine import RAN, EngineUnavailable, TestEngine, in_ci
from standin import REAL_ES_URL, StandIn, StandInUnavailable, drop_prefix, store_url

from pipelines.store import open_store
from pipelines.store.elastic.admin import KINDS

ES_ENGINE = "elasticsearch-real" if REAL_ES_URL else "elasticsearch-stand-in"
SEARCH_ENGINES = ["opensearch", ES_ENGINE]
ENGINES = ["sqlite", *SEARCH_ENGINES]
_n = itertools.count()


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory, request):
    """The real search engine, started once per session (skipped where Java is missing, except under CI)."""
    engine = TestEngine(tmp_path_factory.mktemp("opensearch"))
    try:
        engine.start()
    except EngineUnavailable as e:
        RAN["opensearch"] = f"not started: {str(e).splitlines()[0]}"
        if in_ci():
            pytest.fail(f"the real search engine must run under CI: {e}")
        pytest.skip(f"real search engine unavailable: {str(e).splitlines()[0]}")
    RAN["opensearch"] = f"{engine.name} (one JVM, heap {engine.heap}), started in {engine.started_in:.1f} s"
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nsearch engine: {RAN['opensearch']} at {engine.url}")
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def es_url(tmp_path_factory):
    """Base URL of the Elasticsearch stand-in (started once per session), or of NETSWORD_TEST_ES_URL."""
    if REAL_ES_URL:
        yield REAL_ES_URL.rstrip("/")
        return
    server = StandIn(tmp_path_factory.mktemp("es-standin"))
    try:
        server.start()
    except StandInUnavailable as e:
        pytest.skip(f"Elasticsearch stand-in cannot start here: {e}")
    RAN.setdefault("stand-in", "noida-db (Elasticsearch 8 stand-in)")
    yield server.url
    server.stop()


@pytest.fixture(params=SEARCH_ENGINES)
def search_server(request):
    """The search engine of this test: the real one (OpenSearch) or the Elasticsearch stand-in."""
    if request.param == "opensearch":
        engine = request.getfixturevalue("real_engine")
        if not engine.running():  # a test that stopped it failed before starting it again
            engine.start()
        return SimpleNamespace(url=engine.url, scheme="opensearch", name=engine.name)
    return SimpleNamespace(url=request.getfixturevalue("es_url"), scheme="elasticsearch", name=request.param)


@pytest.fixture
def es_factory(search_server, tmp_path):
    """Opens search-engine stores on fresh prefixes; drops their indices afterwards."""
    made: list[tuple[str, object]] = []

    def make(prefix: str | None = None, **kwargs):
        prefix = prefix or f"t{next(_n)}-{uuid.uuid4().hex[:6]}"
        s = open_store(store_url(search_server, prefix, tmp_path / f"{prefix}.spool.jsonl"), **kwargs)
        made.append((prefix, s))
        return s

    yield make
    for prefix, s in made:
        s.close()
        drop_prefix(s, prefix)


@pytest.fixture(scope="session")
def shared_prefixes(tmp_path_factory):
    """One index prefix on the real engine for the contract tests, made once: creating eleven indices per test
    costs seconds there (the stand-in does it at once). Each test empties it afterwards (``_wipe``)."""
    made: dict[str, tuple[str, str]] = {}
    yield made  # the test engine keeps its data in this session's temporary folder: nothing to drop


def _wipe(s) -> None:
    """Delete every document of store ``s`` (its indices, templates and aliases stay); before ``close()``:
    elasticsearch-py refuses requests on a closed client (opensearch-py does not)."""
    index = ",".join(s.alias(k) for k in KINDS)
    s.es.delete_by_query(index=index, query={"match_all": {}}, refresh=True, conflicts="proceed")


@pytest.fixture(params=ENGINES)
def store(request, tmp_path, shared_prefixes):
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/netsword.db")
        yield s
        s.close()
        return
    if request.param != "opensearch":  # the stand-in: a fresh prefix per test costs nothing there
        server = SimpleNamespace(url=request.getfixturevalue("es_url"), scheme="elasticsearch")
        prefix = f"t{next(_n)}-{uuid.uuid4().hex[:6]}"
        s = open_store(store_url(server, prefix, tmp_path / f"{prefix}.spool.jsonl"))
        yield s
        s.close()
        drop_prefix(s, prefix)
        return
    engine = request.getfixturevalue("real_engine")
    if not engine.running():
        engine.start()
    server = SimpleNamespace(url=engine.url, scheme="opensearch")
    if request.param not in shared_prefixes:
        prefix = f"contract-{uuid.uuid4().hex[:6]}"
        shared_prefixes[request.param] = (store_url(server, prefix, tmp_path / "drop.spool.jsonl"), prefix)
    prefix = shared_prefixes[request.param][1]
    s = open_store(store_url(server, prefix, tmp_path / f"{prefix}.spool.jsonl"))
    yield s
    s.flush()  # what the test wrote is in, then gone: the next test finds the indices empty
    _wipe(s)
    s.close()
