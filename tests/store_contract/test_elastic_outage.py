"""Elasticsearch outages during real sweeps lose nothing (issue 12, item 2).

The stand-in is stopped and started again under a running `netsword crawl` of the demo
marketplace: reads made during the crawl degrade (price history unknown, page states from the
job folder), every write reaches the store or the spool, a sweep whose writes wait in the spool
stays resumable, and after `netsword index replay` and `netsword crawl --resume` the store holds
what an uninterrupted sweep of the same site holds.

These tests run their own stand-in (they stop it); with NETSWORD_TEST_ES_URL set they are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cli_helpers import ROOT
from standin import REAL_ES_URL, StandIn, StandInUnavailable
from store_builders import finding, listing

from pipelines.history import HistoryPipeline
from pipelines.match import MatchPipeline
from pipelines.normalize import NormalizePipeline
from pipelines.store import open_store
from pipelines.store.base import HISTORY_UNKNOWN
from pipelines.store.pipeline import StorePipeline

pytestmark = pytest.mark.skipif(bool(REAL_ES_URL), reason="stops and restarts its own stand-in server")

TESTS = ROOT / "tests"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def es(tmp_path_factory):
    """One stand-in for the module, stopped and started by the tests (same port, same data dir)."""
    server = StandIn(tmp_path_factory.mktemp("es-outage"))
    try:
        server.start()
    except StandInUnavailable as e:
        pytest.skip(f"Elasticsearch stand-in cannot start here: {e}")
    yield server
    server.stop()


def _up(server: StandIn) -> None:
    if server.proc is None or server.proc.poll() is not None:
        server.start()


def _store_url(server: StandIn, prefix: str, where: Path) -> str:
    return f"elasticsearch://{server.store_host}/{prefix}?spool={where / f'{prefix}.spool.jsonl'}"


def _env(home: Path, store_url: str) -> dict[str, str]:
    """`netsword` with its data under ``home``, writing to ``store_url``, without finding screenshots."""
    return {**os.environ, "NETSWORD_HOME": str(home), "NETSWORD_STORE": store_url, "COLUMNS": "250",
            "SCRAPY_SETTINGS_MODULE": "quick_crawl_settings",
            "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)}


def _netsword(home: Path, store_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=_env(home, store_url),
                          capture_output=True, text=True, timeout=600)


def _start_crawl(home: Path, store_url: str, *args: str) -> subprocess.Popen:
    home.mkdir(parents=True, exist_ok=True)
    out, err = open(home / "crawl.out", "w"), open(home / "crawl.err", "w")  # noqa: SIM115 - the child writes them
    return subprocess.Popen([sys.executable, "-m", "cli", "crawl", "--site", "demo", *args], cwd=ROOT,
                            env=_env(home, store_url), stdout=out, stderr=err, stdin=subprocess.DEVNULL)


def _wait_requests(proc: subprocess.Popen, site: Any, target: float, timeout: float = 300) -> bool:
    """Until the demo site has answered ``target`` requests in all; False if the crawl ended first."""
    deadline = time.monotonic() + timeout
    while site.requests < target:
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return proc.poll() is None


def _contents(store_url: str) -> dict[str, Any]:
    """What the store holds of the demo sweep, by id, with the fields an analyst sees (sweep ids left out)."""
    store = open_store(store_url)
    try:
        records = list(store.dump())
    finally:
        store.close()
    out: dict[str, Any] = {"listings": {}, "history": {}, "shops": {}, "findings": {}, "pages": set(),
                           "snapshots": set(), "versions": {}}
    for r in records:
        if r["type"] == "listing":
            it = r["item"]
            sid = f"{it['site']}:{it['listing_id']}"
            out["listings"][sid] = (it["url"], it["title"], it["price"], it["original_price"], it["shop_id"],
                                    it["category"], it["status"], it["html_sha256"])
            out["history"][sid] = it.get("history") or {}
            out["versions"][sid] = len(r["versions"])
        elif r["type"] == "shop":
            it = r["item"]
            out["shops"][f"{it['site']}:{it['shop_id']}"] = (it["url"], it["name"], it["license_number"],
                                                             it["listing_count"], it["status"], it["html_sha256"])
        elif r["type"] == "finding":
            f, st = r["finding"], r["state"]
            out["findings"][f"{f['subject_kind']}|{f['subject_id']}|{f['rule_id']}"] = (
                f["category"], f["severity"], f["field"], f["snippet"], f["snapshot_sha256"], st["status"])
        elif r["type"] == "snapshot":
            out["snapshots"].add((r["url"], r["sha256"]))
        elif r["type"] == "page_state":
            out["pages"].add((r["state"]["url"], r["state"]["sha256"]))
    return out


def _compare(got: dict[str, Any], want: dict[str, Any], *, history: bool) -> None:
    for key in ("listings", "shops", "findings"):
        missing, extra = set(want[key]) - set(got[key]), set(got[key]) - set(want[key])
        assert not missing and not extra, (f"{key}: {len(got[key])} of {len(want[key])}; missing {len(missing)} "
                                           f"{sorted(missing)[:5]}, extra {len(extra)} {sorted(extra)[:5]}")
        changed = [k for k in want[key] if got[key][k] != want[key][k]]
        assert not changed, f"{key}: {len(changed)} differ, e.g. {changed[0]}: {got[key][changed[0]]} != " \
                            f"{want[key][changed[0]]}"
    assert got["snapshots"] == want["snapshots"]
    assert got["pages"] == want["pages"]
    assert got["versions"] == want["versions"]  # one version per listing: nothing stored twice
    if history:
        assert got["history"] == want["history"]


@pytest.fixture(scope="module")
def baseline(es, demo_server, tmp_path_factory) -> dict[str, Any]:
    """One uninterrupted sweep of the demo site into its own index prefix."""
    home = tmp_path_factory.mktemp("baseline-home")
    url = _store_url(es, "base", home)
    before = demo_server.requests
    proc = _netsword(home, url, "crawl", "--site", "demo", "--base-url", demo_server.url, "--sweep-id", "demo-base")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"contents": _contents(url), "requests": demo_server.requests - before}


# --------------------------------------------------------------------------- the sweep


def test_stand_in_stopped_at_three_points_of_a_sweep_loses_nothing(es, demo_server, baseline, tmp_path):
    want, total = baseline["contents"], baseline["requests"]
    home = tmp_path / "home"
    url = _store_url(es, "outage", tmp_path)
    job = home / "jobs" / "demo"
    stops: list[int] = []

    es.stop()  # 1. down when the sweep starts ...
    start = demo_server.requests
    proc = _start_crawl(home, url, "--base-url", demo_server.url, "--sweep-id", "demo-outage")
    stops.append(0)
    _wait_requests(proc, demo_server, start + 0.1 * total)
    _up(es)  # ... back a little later
    if _wait_requests(proc, demo_server, start + 0.4 * total):  # 2. in the middle, for a while
        es.stop()
        stops.append(demo_server.requests - start)
        _wait_requests(proc, demo_server, start + 0.6 * total)
        _up(es)
    if _wait_requests(proc, demo_server, start + 0.85 * total):  # 3. near the end, until after the crawl
        es.stop()
        stops.append(demo_server.requests - start)
    rc = proc.wait(timeout=600)
    out, err = (home / "crawl.out").read_text(), (home / "crawl.err").read_text()
    print(f"\nstopped at requests {stops} of {total}; the crawl's last lines:\n{err[-1500:]}")

    # the whole sweep was crawled in that one run: every page, no failure, one line saying what to do
    assert "Traceback" not in err, err[-5000:]
    assert rc == 3, out + err[-3000:]  # the store could not be reached (cli.EXIT_STORE)
    last = err.strip().splitlines()[-1]
    assert "writes wait in" in last and "netsword index replay, then netsword crawl --site demo --resume" in last
    assert "failed 0" in out, out
    assert len(stops) == 3, f"the crawl ended before the later stops ({stops})"
    assert json.loads((job / "sweep.json").read_text())["finished"] is False

    # still down: a resume refuses in one line, and changes nothing
    refused = _netsword(home, url, "crawl", "--site", "demo", "--resume")
    assert refused.returncode == 3 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    first = refused.stderr.strip().splitlines()[0]
    assert "cannot resume" in first and "netsword index replay, then netsword crawl --site demo --resume" in first
    assert len(refused.stderr.strip().splitlines()) <= 2, refused.stderr  # and the command line's usual hint

    _up(es)
    replay = _netsword(home, url, "index", "replay")
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert "spooled operations sent" in replay.stdout
    got = _contents(url)
    print(f"after the replay: {len(got['listings'])} listings, {len(got['shops'])} shops, "
          f"{len(got['findings'])} findings (uninterrupted: {len(want['listings'])}, {len(want['shops'])}, "
          f"{len(want['findings'])})")
    _compare(got, want, history=False)  # listings whose history was unknown still say so

    resumed = _netsword(home, url, "crawl", "--site", "demo", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    _compare(_contents(url), want, history=True)  # matched again with their (empty) history: the same
    assert json.loads((job / "sweep.json").read_text())["finished"] is True
    assert not (tmp_path / "outage.spool.jsonl").exists()
    assert not (job / "history_unknown.txt").exists()


# --------------------------------------------------------------------------- price history


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, n: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + n

    def get_stats(self) -> dict[str, int]:
        return dict(self.values)


NOW = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


def _at(days_before: float) -> str:
    return (NOW - timedelta(days=days_before)).isoformat()


def test_listing_matched_without_price_history_is_matched_again_when_the_store_is_back(es, tmp_path):
    """The store is down while a listing goes through history and match: it is stored (spooled) without
    its history and resolves nothing; when the store is back, the end of the sweep gives it its history
    and matches it again, so the finding over price history appears."""
    _up(es)
    url = _store_url(es, "history", tmp_path)
    store = open_store(url)
    for sweep, days in (("sw1", 10), ("sw2", 3)):  # shown at 599 for ten days
        store.save(listing("L1", "羊毛大衣", price=599.0, sweep=sweep, at=_at(days), sha=f"h-{sweep}"))
    earlier = listing("L2", "高仿运动鞋", price=99.0, sweep="sw2", at=_at(3), sha="h-L2")
    earlier.findings = [finding(earlier, "counterfeit.earlier-rule")]
    store.save(earlier)
    store.close()

    es.stop()
    stats, spider, job = Stats(), SimpleNamespace(site="demo", sweep_id="sw3", search_terms=None), tmp_path / "job"
    stages = [NormalizePipeline(), HistoryPipeline(url, stats=stats, job_dir=job), MatchPipeline(stats=stats),
              StorePipeline(url, stats=stats, job_dir=str(job))]
    for stage in stages:
        if hasattr(stage, "open_spider"):
            stage.open_spider(spider)
    now = listing("L1", "羊毛大衣", price=599.0, sweep="sw3", at=_at(0), sha="h-sw3",
                  original_price_text="¥1599")  # "was 1599": it never was, in the ten days before
    l2 = listing("L2", "运动鞋", price=99.0, sweep="sw3", at=_at(0), sha="h-L2-now")  # no longer says 高仿
    for item in (now, l2):
        for stage in stages:
            item = stage.process_item(item, spider)
    assert now.history == {HISTORY_UNKNOWN: 1.0}
    assert "price.reference-never-charged" not in {f.rule_id for f in now.findings}
    assert stats.values["history/unknown"] == 2
    assert (job / "history_unknown.txt").read_text().split() == ["demo:L1", "demo:L2"]
    stages[3].close_spider(spider)  # the store stage closes first (Scrapy closes pipelines in reverse order)
    spooled = [json.loads(line) for line in (tmp_path / "history.spool.jsonl").read_text().splitlines()]
    assert spooled and not [op for op in spooled if op["op"] == "resolve"]  # an outage closes no finding

    es.start()
    stages[1].close_spider(spider)  # the history stage: the spool goes first, then both are matched again
    assert stats.values["history/recomputed"] == 2
    assert not (job / "history_unknown.txt").exists()
    store = open_store(url)
    try:
        stored = store.get_listing("demo:L1")
        assert stored.history["max_price_7d"] == 599.0 and stored.history["history_days"] == 10.0
        assert HISTORY_UNKNOWN not in stored.history
        l1_findings = {f.finding.rule_id: f for f in store.findings_for("demo:L1")}
        assert "price.reference-never-charged" in l1_findings
        assert l1_findings["price.reference-never-charged"].status == "open"
        (old,) = store.findings_for("demo:L2")
        assert old.finding.rule_id == "counterfeit.earlier-rule" and old.resolved_at  # the page no longer says it
    finally:
        store.close()


# --------------------------------------------------------------------------- page states


def test_incremental_sweep_with_the_store_down_uses_the_job_folder_page_states(es, demo_server, tmp_path):
    """A second sweep made while the store is down still skips unchanged pages (their states come from
    the job folder's copy); after the replay the store has them as seen by that sweep."""
    _up(es)
    home = tmp_path / "home"
    url = _store_url(es, "incremental", tmp_path)
    small = ("--base-url", demo_server.url, "-s", "NETSWORD_MAX_PAGES=40")
    first = _netsword(home, url, "crawl", "--site", "demo", "--sweep-id", "inc-1", *small)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (home / "jobs" / "demo" / "pages.sqlite").exists()

    es.stop()
    second = _netsword(home, url, "crawl", "--site", "demo", "--sweep-id", "inc-2", *small)
    _up(es)
    assert second.returncode == 3 and "Traceback" not in second.stderr, second.stderr[-3000:]
    assert "writes wait in" in second.stderr and "failed 0" in second.stdout, second.stdout
    unchanged = int(second.stdout.split("unchanged ", 1)[1].split(",")[0])
    assert unchanged > 20, second.stdout  # most of the pages, from the job folder's page states

    replay = _netsword(home, url, "index", "replay")
    assert replay.returncode == 0, replay.stderr[-3000:]
    store = open_store(url)
    try:
        c1, c2 = store.counts(sweep_id="inc-1"), store.counts(sweep_id="inc-2")
        assert c2["listings"] >= c1["listings"] - 5 and c2["listings"] > 0, (c1, c2)
        assert store.counts()["listing_versions"] == store.counts()["listings"]  # unchanged: no new versions
    finally:
        store.close()
