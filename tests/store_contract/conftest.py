"""The Store contract suite runs once per engine: SQLite, and Elasticsearch (the noida-db stand-in,
or a real cluster when NETSWORD_TEST_ES_URL is set). Each Elasticsearch test gets its own index
prefix on one session-wide server, dropped afterwards."""

from __future__ import annotations

import itertools
import uuid

import pytest
from standin import REAL_ES_URL, StandIn, StandInUnavailable, drop_prefix, es_store_url

from pipelines.store import open_store

ES_ENGINE = "elasticsearch-real" if REAL_ES_URL else "elasticsearch-stand-in"
ENGINES = ["sqlite", ES_ENGINE]
_n = itertools.count()


@pytest.fixture(scope="session")
def es_url(tmp_path_factory):
    """Base URL of the Elasticsearch the tests use (the stand-in, started once per session)."""
    if REAL_ES_URL:
        yield REAL_ES_URL.rstrip("/")
        return
    server = StandIn(tmp_path_factory.mktemp("es-standin"))
    try:
        server.start()
    except StandInUnavailable as e:
        pytest.skip(f"Elasticsearch stand-in cannot start here: {e}")
    yield server.url
    server.stop()


@pytest.fixture
def es_factory(request, tmp_path):
    """Opens Elasticsearch stores on fresh prefixes; drops their indices afterwards."""
    url = request.getfixturevalue("es_url")
    made: list[tuple[str, object]] = []

    def make(prefix: str | None = None, **kwargs):
        prefix = prefix or f"t{next(_n)}-{uuid.uuid4().hex[:6]}"
        s = open_store(es_store_url(url, prefix, tmp_path / f"{prefix}.spool.jsonl"), **kwargs)
        made.append((prefix, s))
        return s

    yield make
    for prefix, s in made:
        s.close()
        drop_prefix(s, prefix)


@pytest.fixture(params=ENGINES)
def store(request, tmp_path):
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/netsword.db")
        yield s
        s.close()
        return
    yield request.getfixturevalue("es_factory")()
