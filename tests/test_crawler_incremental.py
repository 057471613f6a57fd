"""Incremental sweeps: a second sweep of the unchanged demo parses nothing again (304s and same-hash
browser pages) but still counts every listing, shop and finding as seen in that sweep; a third
sweep after a price change stores new listing versions (price history across sweeps)."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_helpers import run_cli

from pipelines.store import open_store

#: the changed pages' findings are not screenshot again (test_evidence*.py cover screenshots; here: ~70 live
#: captures that no assertion reads)
NO_FINDING_SCREENSHOTS = ("-s", "EVIDENCE_FINDING_SCREENSHOTS=False")


@pytest.fixture(scope="module")
def inc_home(demo_sweep, tmp_path_factory):
    """A copy of the session's demo sweep (store + evidence), to sweep again without touching it."""
    home = tmp_path_factory.mktemp("incremental") / "home"
    shutil.copytree(demo_sweep["home"], home, ignore=shutil.ignore_patterns("jobs"))
    return home


def _stats(store, sweep_id: str) -> dict:
    return next(s.stats for s in store.sweeps() if s.sweep_id == sweep_id)


def test_unchanged_site_is_not_parsed_again_but_seen(inc_home, demo_sweep, demo_server):
    demo_server.reset_stats()
    proc = run_cli("crawl", "--site", "demo", "--base-url", demo_server.url, "--sweep-id", "inc-2", home=inc_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = [status for _method, path, status in demo_server.log if path != "/robots.txt"
                and not path.startswith(("/api/", "/static/"))]  # the browser's own requests are not conditional
    store = open_store(f"sqlite:///{inc_home / 'netsword.db'}")
    try:
        stats = _stats(store, "inc-2")
        first, second = store.counts(sweep_id=demo_sweep["sweep_id"]), store.counts(sweep_id="inc-2")
        history = store.listing_history("demo:L0001")
        total_versions = store.counts()["listing_versions"]
    finally:
        store.close()
    print(f"\nsecond sweep: {stats.get('netsword/incremental/not_modified')} answered 304, "
          f"{stats.get('netsword/incremental/same_hash')} same hash, {stats.get('match/items', 0)} items matched")
    assert stats.get("match/items", 0) == 0  # nothing went through normalise + rules again
    assert stats["netsword/pages/unchanged"] == stats["netsword/pages/ok"] > 500
    assert statuses.count(304) == stats["netsword/incremental/not_modified"] > 500
    assert statuses.count(200) == stats["netsword/browser/pages"]  # a browser navigation cannot ask "changed?"
    # ... and yet the sweep saw everything
    for key in ("listings", "shops", "findings"):
        assert second[key] == first[key], key
    assert total_versions == first["listings"]  # no new versions for unchanged pages
    assert len(history) == 1 and history[0].last_sweep_id == "inc-2"


def test_changed_prices_make_new_versions(inc_home, demo_server):
    demo_server.price_factor = 1.3
    try:
        proc = run_cli("crawl", "--site", "demo", "--base-url", demo_server.url, "--sweep-id", "inc-3",
                       *NO_FINDING_SCREENSHOTS, home=inc_home)
    finally:
        demo_server.price_factor = 1.0
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = open_store(f"sqlite:///{inc_home / 'netsword.db'}")
    try:
        stats = _stats(store, "inc-3")
        history = store.listing_history("demo:L0001")
        listing = store.get_listing("demo:L0001")
    finally:
        store.close()
    assert stats.get("match/items", 0) >= 466  # changed pages are parsed and matched again
    prices = [v.price for v in history]
    print("L0001 price history:", json.dumps([(v.sweep_id, v.price) for v in history], ensure_ascii=False))
    assert len(prices) == 2 and prices[1] == pytest.approx(prices[0] * 1.3, abs=0.01)
    assert [v.sweep_id for v in history] == ["demo-e2e", "inc-3"]
    assert listing is not None and listing.price == prices[1]
