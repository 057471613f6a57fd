"""Shared fixtures: the demo marketplace on 127.0.0.1 and a finished demo sweep."""

from __future__ import annotations

import sys

import pytest
from cli_helpers import run_cli


@pytest.fixture(scope="session")
def demo_server():
    from crawler.demo.server import DemoServer

    with DemoServer() as server:
        yield server


@pytest.fixture(scope="session")
def bazaar_server():
    """crawler/bazaar: the 仿真集市 marketplace (login, JSON API, walls) on a free 127.0.0.1 port, once per
    session. Tests that change its knobs use the ``bazaar`` fixture, which resets them afterwards."""
    from crawler.bazaar.server import BazaarServer

    with BazaarServer() as server:
        yield server


@pytest.fixture
def bazaar(bazaar_server):
    """The session's bazaar with fresh sessions, counters and default knobs (set yours with .configure())."""
    bazaar_server.reset()
    yield bazaar_server
    bazaar_server.reset()


@pytest.fixture(scope="session")
def tsa():
    """tests/tsa_server.py: a real RFC 3161 TSA (openssl ts -reply, a test CA made now) on 127.0.0.1."""
    from tsa_server import TestTSA

    with TestTSA() as server:
        yield server


@pytest.fixture(scope="session")
def demo_sweep(demo_server, tsa, tmp_path_factory):
    """One full sweep of the demo site (HTTP + browser pages) into a fresh embedded store, by a unit
    with its key (netsword keys init) and the test TSA configured: the manifest is signed and stamped."""
    home = tmp_path_factory.mktemp("demo-home")
    proc = run_cli("keys", "init", home=home)
    assert proc.returncode == 0, proc.stderr
    (home / "netsword.yml").write_text(f"tsa_url: {tsa.url}\ntsa_certs: {tsa.chain}\n", encoding="utf-8")
    proc = run_cli("crawl", "--site", "demo", "--base-url", demo_server.url, "--sweep-id", "demo-e2e", home=home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"home": home, "db": home / "netsword.db", "stdout": proc.stdout, "stderr": proc.stderr,
            "sweep_id": "demo-e2e"}



@pytest.fixture(scope="session")
def hostile_site():
    """tests/hostilesite.py: the hostile shop (named misbehaving pages) on 127.0.0.1, once per session."""
    from hostilesite import HostileSite

    with HostileSite() as site:
        yield site


@pytest.fixture(scope="session")
def redis_server():
    """tests/redis_server.py: a real redis-server on a free 127.0.0.1 port, once per session."""
    from redis_server import RedisServer

    server = RedisServer()
    if not server.available:
        pytest.skip("redis-server is not installed (make test installs it: scripts/ensure-redis.sh)")
    with server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    """A Redis database of this test's own."""
    return redis_server.new_db()


def pytest_terminal_summary(terminalreporter):
    """Say which search engines the Store tests ran on (tests/store_contract/realengine.py fills RAN)."""
    ran = getattr(sys.modules.get("realengine"), "RAN", None)
    for name, what in (ran or {}).items():
        terminalreporter.write_line(f"search engine {name}: {what}")


@pytest.fixture(scope="session")
def qual_site():
    """tests/qualsite.py: shops with their licence on separate 资质 pages, on 127.0.0.1, once per session."""
    from qualsite import QualSite

    with QualSite() as site:
        yield site
