"""Price history: the numbers pipelines.history gives rules, and 先涨后降 found across two real demo sweeps."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import run_cli
from webhook_receiver import WebhookReceiver

from crawler.demo.server import DemoServer
from pipelines.history import HISTORY_NAMES, price_history
from pipelines.match.when import WHEN_NAMES
from pipelines.store import open_store
from pipelines.store.base import ListingVersion

NOW = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)


@pytest.fixture
def quick_crawls(monkeypatch):
    """Sweeps run with tests/quick_crawl_settings.py (no finding screenshots: seconds, not half a minute)."""
    tests = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "quick_crawl_settings")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p))


def _v(days_ago: float, price: float, original: float | None = None, seen_days_ago: float | None = None,
       sweep: str = "s") -> ListingVersion:
    at = (NOW - timedelta(days=days_ago)).isoformat()
    last = (NOW - timedelta(days=days_ago if seen_days_ago is None else seen_days_ago)).isoformat()
    return ListingVersion("demo:L1", "h", price, original, "t", sweep, at, last, sweep)


def test_history_names_are_when_names():
    assert set(HISTORY_NAMES) <= set(WHEN_NAMES)


def test_price_history_numbers():
    versions = [_v(40, 100.0, seen_days_ago=20), _v(14, 100.0, 150.0, seen_days_ago=10, sweep="base"),
                _v(6, 130.0, seen_days_ago=1)]
    baseline = (NOW - timedelta(days=14, minutes=5), NOW - timedelta(days=14) + timedelta(minutes=5))
    h = price_history(versions, now=NOW, price=120.0, baseline=baseline)
    assert set(h) <= set(HISTORY_NAMES)
    assert h["prev_price"] == 130.0 and "prev_original_price" not in h
    assert (h["max_price_7d"], h["min_price_7d"]) == (130.0, 130.0)
    assert (h["max_price_30d"], h["min_price_30d"]) == (130.0, 100.0)
    assert h["baseline_price"] == 100.0 and h["baseline_reference_price"] == 150.0
    assert h["max_price_since_baseline"] == 130.0
    assert h["history_days"] == 40.0
    assert h["days_since_price_change"] == 0.0  # 120 now, 130 before
    same = price_history(versions, now=NOW, price=130.0)
    assert same["days_since_price_change"] == 6.0 and "baseline_price" not in same
    assert price_history([], now=NOW, price=1.0) == {}


def test_raised_then_discounted_between_two_demo_sweeps(tmp_path, quick_crawls):
    """Baseline at the demo's prices, then the demo raises every price by 30% (struck-through prices too):
    the festival sweep shows a discount from a compared price raised above the baseline's -> 先涨后降."""
    home = tmp_path / "home"
    with DemoServer() as server, WebhookReceiver() as hook:
        campaign = tmp_path / "c.yml"
        campaign.write_text(f"""\
campaign: ph
title: 价格记录测试
phases: [{{name: 组织实施, start: 2026-01-01, end: 2026-12-31}}]
sites:
  - site: demo
    base_url: "{server.url}"
    start_urls: ["{{base_url}}/shop/S031/"]   # a shop with struck-through prices: a small, quick sweep
festivals: [{{id: fest, name: 测试节, date: "2026-12-12"}}]
alerts: {{min_severity: high, notify: ["{hook.url('/price')}"]}}
""", encoding="utf-8")
        first = run_cli("schedule", "run-now", "fest:baseline", "--campaign", str(campaign), home=home)
        assert first.returncode == 0, first.stdout + first.stderr[-3000:]
        server.price_factor = 1.3
        second = run_cli("schedule", "run-now", "fest:daily", "--campaign", str(campaign), home=home)
        assert second.returncode == 0, second.stdout + second.stderr[-3000:]
        store = open_store(home / "netsword.db")
        try:
            base_run, daily_run = sorted(store.runs(), key=lambda r: r.started_at)
            assert (base_run.kind, base_run.status, daily_run.kind, daily_run.status) == (
                "baseline", "ok", "daily", "ok")
            found = [f for f in store.iter_findings({"include_resolved": True})
                     if f["rule_id"] == "price.raised-before-discount"]
            assert found, "no 先涨后降 finding"
            assert {f["first_sweep_id"] for f in found} == {daily_run.run_id}
            assert all(f["shop_id"] == "S031" for f in found)
            assert "baseline_price" in found[0]["snippet"] or "基准" in found[0]["snippet"]
            listing = store.get_listing(found[0]["subject_id"])
            assert listing.history["baseline_price"] < listing.price
            assert daily_run.alert.startswith("sent"), daily_run.alert
        finally:
            store.close()
        posts = [p["json"] for p in hook.wait_for(2)]
        digest = next(p for p in posts if daily_run.run_id in p["message"])
        assert "先涨后降" in digest["message"]
