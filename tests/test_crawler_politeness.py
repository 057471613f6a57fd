"""Politeness and robustness against a misbehaving site: robots.txt, retries with backoff, failures.

One sweep of tests/testsite.py (real server on 127.0.0.1) with robots obeyed, one with robots
turned off in the profile; each failed URL gets one clear log line; the sweep record keeps the
counts of pages ok / retried / failed / skipped and whether robots.txt was obeyed.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap

import pytest
from cli_helpers import run_cli
from testsite import TestSite

HOME_LINKS = ["/item/A1.html", "/flaky/429/F1.html?n=2", "/flaky/503/F2.html?n=1", "/dead/D1.html",
              "/private/P1.html"]

PROFILE = """\
site: badshop
name: 测试坏店
start_urls: ['{base_url}/']
allowed_domains: [127.0.0.1]
politeness: {obey_robots: OBEY, concurrency: 4, delay: 0, autothrottle: false, retries: 3}
pages:
  home:
    type: page
    match: ['^/$']
    follow: ['a.go']
  listing:
    type: listing
    match: ['^/(item|flaky/\\d+|dead|private)/']
    fields:
      title: 'h1.title'
      price_text: 'span.price'
"""

FAST_RETRIES = ("-s", "NETSWORD_RETRY_BACKOFF_BASE=0.05", "-s", "NETSWORD_RETRY_BACKOFF_MAX=1", "-s", "LOG_LEVEL=INFO")


def sweep(tmp_path, monkeypatch, site: TestSite, obey: bool):
    sites = tmp_path / "sites"
    sites.mkdir(exist_ok=True)
    (sites / "badshop.yml").write_text(textwrap.dedent(PROFILE).replace("OBEY", str(obey).lower()), encoding="utf-8")
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(sites))
    home = tmp_path / ("home-obey" if obey else "home-ignore")
    proc = run_cli("crawl", "--site", "badshop", "--base-url", site.url, "--sweep-id", f"bad-{obey}",
                   *FAST_RETRIES, home=home, timeout=300)
    db = sqlite3.connect(home / "netsword.db")
    row = db.execute("select settings, stats from sweeps where sweep_id=?", (f"bad-{obey}",)).fetchone()
    db.close()
    assert row is not None, proc.stderr[-3000:]
    return proc, json.loads(row[0]), json.loads(row[1])


@pytest.fixture(scope="module")
def obeyed(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        with TestSite(HOME_LINKS) as site:
            proc, settings, stats = sweep(tmp_path_factory.mktemp("polite"), mp, site, obey=True)
            yield proc, settings, stats, dict(site.hits)
    finally:
        mp.undo()


def test_retries_then_success_counted_and_failures_logged_once(obeyed):
    proc, _settings, stats, hits = obeyed
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert hits["/flaky/429/F1.html"] == 3  # two 429s, then the page
    assert hits["/flaky/503/F2.html"] == 2
    assert hits["/dead/D1.html"] == 4  # first try + RETRY_TIMES 3
    assert stats["netsword/pages/ok"] == 4  # home, A1, F1, F2
    assert stats["netsword/pages/retried"] == 2  # F1 and F2 needed retries
    assert stats["netsword/pages/failed"] == 1
    assert stats["netsword/pages/skipped"] == 1  # /private/ (robots.txt)
    failed = [line for line in proc.stderr.splitlines() if "page failed" in line]
    assert len(failed) == 1 and "/dead/D1.html" in failed[0] and "4 tries" in failed[0] and "HTTP 500" in failed[0]
    assert "sweep bad-True" in proc.stdout and "failed 1" in proc.stdout


def test_retry_after_is_honoured(obeyed):
    proc, *_ = obeyed
    # the 429 carries Retry-After: 1 (capped by NETSWORD_RETRY_BACKOFF_MAX=1); the 503 has none: base backoff
    log = "\n".join(line for line in proc.stderr.splitlines() if "retrying" in line)
    assert "F1.html?n=2 in 1.0 s" in log, log


def test_robots_obeyed_by_default_and_recorded(obeyed):
    _proc, settings, _stats, hits = obeyed
    assert hits.get("/robots.txt") == 1
    assert "/private/P1.html" not in hits
    assert settings["robots_obeyed"] is True


def test_profile_can_turn_robots_off_and_the_sweep_records_it(tmp_path, monkeypatch):
    with TestSite(["/private/P1.html", "/item/A1.html"]) as site:
        proc, settings, stats = sweep(tmp_path, monkeypatch, site, obey=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert site.hits["/private/P1.html"] == 1
        assert "/robots.txt" not in site.hits
    assert settings["robots_obeyed"] is False
    assert stats["netsword/pages/ok"] == 3
