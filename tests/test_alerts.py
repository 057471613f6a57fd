"""Alert digests: new leads at or above a severity reach a real local webhook, once per sweep."""

from __future__ import annotations

from webhook_receiver import WebhookReceiver

from crawler.items import Finding, ListingItem
from pipelines.store import open_store
from pipelines.store.base import SweepRun
from scheduling.alerts import AlertConfig, notify_run


def _listing(n: int, shop: str, sweep: str, severity: str, rule: str = "ad.absolute-terms") -> ListingItem:
    item = ListingItem(url=f"http://127.0.0.1/item/L{n}.html", site="demo", sweep_id=sweep, status=200,
                       fetched_at="2026-12-12T02:00:00+00:00", listing_id=f"L{n}", shop_id=shop,
                       shop_name=f"店铺{shop}", title=f"商品{n} 全网最佳", price=99.0)
    item.findings = [Finding(rule_id=rule, rule_version="2026.1", pack="advertising", title="使用绝对化用语",
                             category="虚假违法互联网广告", severity=severity, basis="《广告法》第九条",
                             subject_kind="listing", subject_id=item.subject_id, site="demo", shop_id=shop,
                             url=item.url, field="title", matched=["最佳"], snippet=f"商品{n} 全网【最佳】",
                             sweep_id=sweep, found_at=item.fetched_at)]
    return item


def _store(tmp_path, sweep: str = "s2"):
    store = open_store(tmp_path / "netsword.db")
    store.start_sweep("s1", "demo", "2026-12-11T02:00:00+00:00", {})
    store.save(_listing(1, "S01", "s1", "high"))  # an old finding: seen again in s2, not new
    store.finish_sweep("s1", "2026-12-11T02:10:00+00:00", {})
    store.start_sweep(sweep, "demo", "2026-12-12T02:00:00+00:00", {})
    old = _listing(1, "S01", sweep, "high")
    store.save(old)
    for n, shop, sev in ((2, "S02", "high"), (3, "S02", "critical"), (4, "S03", "low")):
        store.save(_listing(n, shop, sweep, sev))
    store.finish_sweep(sweep, "2026-12-12T02:10:00+00:00", {})
    run = SweepRun(sweep, "demo", "daily", "2026-netsword", "double12", started_at="2026-12-12T02:00:00+00:00",
                   finished_at="2026-12-12T02:10:00+00:00", status="ok", pages=12)
    store.put_run(run)
    return store, run


def test_digest_reaches_the_webhook_once_per_sweep(tmp_path):
    store, run = _store(tmp_path)
    with WebhookReceiver() as hook:
        config = AlertConfig(min_severity="high", notify=[hook.url("/netsword")], console_url="http://console:8000",
                             campaign_title="2026网剑行动", festival_name="双12")
        run.alert = notify_run(store, run, config)
        [post] = hook.wait_for(1)
        assert run.alert.startswith("sent: 1 leads, 2 findings"), run.alert
        assert post["path"] == "/netsword"
        title, body = post["json"]["title"], post["json"]["message"]
        assert "双12" in title and "新线索 1 个" in title and "新发现 2 条" in title
        assert "商品3" in body and "商品2" in body and "严重 1，高 1" in body
        assert "商品1" not in body and "商品4" not in body  # not new / below the floor
        assert "http://127.0.0.1/item/L3.html" in body
        assert "http://console:8000/leads/demo%3AS02" in body and "sweep_id=s2" in body
        # the same sweep never sends a second digest
        assert notify_run(store, run, config) == run.alert
        assert len(hook.received) == 1
    store.close()


def test_nothing_due_sends_nothing(tmp_path, monkeypatch):
    store, run = _store(tmp_path)
    with WebhookReceiver() as hook:
        assert notify_run(store, run, AlertConfig(min_severity="critical", notify=[], campaign_title="x")) == ""
        monkeypatch.setenv("HOOK_PORT", str(hook.port))
        monkeypatch.setenv("NETSWORD_ALERT_URLS", "json://127.0.0.1:${HOOK_PORT}/env json://x/${UNSET_VAR_X}")
        alert = notify_run(store, run, AlertConfig(min_severity="critical"))
        [post] = hook.wait_for(1)
        assert alert.startswith("sent: 1 leads, 1 findings -> 1 target(s)")
        assert post["path"] == "/env" and "商品3" in post["json"]["message"] and "商品2" not in post["json"]["message"]
    store.close()
