"""The Store contract, run against the SQLite engine (real files in tmp_path).

Another engine passes the same tests by adding itself to the ``store`` fixture's params.
The item builders here are also used by test_search.py and test_export.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import pytest

from crawler.items import Finding as FindingItem
from crawler.items import ListingItem, ShopItem
from pipelines.store import SearchQuery, Store, open_store
from pipelines.store.sqlite import SQLiteStore

T1 = "2026-06-01T02:00:00+00:00"
T2 = "2026-06-10T02:00:00+00:00"
T3 = "2026-06-17T02:00:00+00:00"


def listing(lid: str, title: str, *, price: float | None = 99.0, site: str = "demo", shop_id: str = "s1",
            shop_name: str = "测试小店", sweep: str = "sw1", at: str = T1, sha: str | None = None,
            **kw: Any) -> ListingItem:
    return ListingItem(url=f"http://{site}.test/item/{lid}.html", site=site, sweep_id=sweep, status=200,
                       fetched_at=at, html_sha256=sha if sha is not None else f"sha-{lid}-{price}-{title}",
                       html_path=f"html/{lid}.html.gz", listing_id=lid, shop_id=shop_id, shop_name=shop_name,
                       title=title, price=price, price_text=f"¥{price}", **kw)


def shop(shop_id: str, name: str, *, site: str = "demo", sweep: str = "sw1", at: str = T1, **kw: Any) -> ShopItem:
    return ShopItem(url=f"http://{site}.test/shop/{shop_id}/", site=site, sweep_id=sweep, status=200, fetched_at=at,
                    html_sha256=f"sha-shop-{shop_id}", shop_id=shop_id, name=name, **kw)


def finding(subject: ListingItem | ShopItem, rule_id: str = "counterfeit.high-imitation", *,
            category: str = "网络销售假冒伪劣商品", severity: str = "high", snippet: str = "", title: str = "疑似高仿",
            sweep: str | None = None, at: str | None = None, matched: list[str] | None = None) -> FindingItem:
    return FindingItem(rule_id=rule_id, rule_version="2026.1", pack=rule_id.split(".")[0], title=title,
                       category=category, severity=severity, basis="《电子商务法》第十三条",
                       subject_kind=subject.kind, subject_id=subject.subject_id, site=subject.site,
                       shop_id=subject.shop_id, url=subject.url, field="title", matched=matched or [],
                       snippet=snippet or f"【{getattr(subject, 'title', '') or subject.shop_id}】", start=0, end=2,
                       snapshot_sha256=subject.html_sha256, sweep_id=sweep or subject.sweep_id,
                       found_at=at or subject.fetched_at)


@pytest.fixture(params=["sqlite"])
def store(request, tmp_path) -> Store:
    s = open_store(f"sqlite:///{tmp_path}/netsword.db")
    yield s
    s.close()


# --------------------------------------------------------------------------- opening


def test_open_store_urls(tmp_path):
    for url in (f"sqlite:///{tmp_path}/a.db", str(tmp_path / "b.db"), tmp_path / "c.db"):
        s = open_store(url)
        assert isinstance(s, SQLiteStore)
        s.close()
    assert (tmp_path / "a.db").exists() and (tmp_path / "b.db").exists()
    with pytest.raises(ValueError, match="sqlite"):
        open_store("mongodb://localhost/x")


def test_file_is_wal_with_schema_version(tmp_path):
    open_store(tmp_path / "n.db").close()
    con = sqlite3.connect(tmp_path / "n.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] >= 1
    con.close()
    open_store(tmp_path / "n.db").close()  # reopening an existing file is fine


# --------------------------------------------------------------------------- subjects and history


def test_upserts_are_idempotent(store):
    item = listing("1", "耐克高仿运动鞋", html=b"<html>big page</html>")
    f = finding(item)
    for _ in range(2):
        store.upsert_listing(item)
        store.upsert_findings([f, f])
    c = store.counts()
    assert (c["listings"], c["findings"], c["listing_versions"]) == (1, 1, 1)
    assert c["by_category"]["网络销售假冒伪劣商品"] == 1
    assert c["by_severity"]["high"] == 1
    got = store.get_listing(item.subject_id)
    assert got.title == "耐克高仿运动鞋" and got.price == 99.0 and got.html == b""  # the body is not kept
    assert [x.finding_id for x in got.findings] == [f.finding_id]
    assert store.get_listing("demo:nope") is None


def test_history_across_two_sweeps(store):
    store.upsert_listing(listing("1", "月饼礼盒", price=88.0, sweep="sw1", at=T1))
    store.upsert_listing(listing("1", "月饼礼盒", price=128.0, sweep="sw2", at=T2))
    store.upsert_listing(listing("1", "月饼礼盒", price=128.0, sweep="sw3", at=T3))  # unchanged page
    hist = store.listing_history("demo:1")
    assert [(v.price, v.sweep_id) for v in hist] == [(88.0, "sw1"), (128.0, "sw2")]
    assert hist[1].last_seen_at == T3 and hist[1].last_sweep_id == "sw3"
    assert store.get_listing("demo:1").price == 128.0
    # an older page arriving late (re-import) does not overwrite the newer observation
    store.upsert_listing(listing("1", "旧标题", price=50.0, sweep="sw0", at="2026-05-01T00:00:00+00:00"))
    assert store.get_listing("demo:1").title == "月饼礼盒"
    assert store.listing_history("demo:1")[0].price == 50.0


def test_price_back_and_forth_keeps_each_change(store):
    for price, at in ((88.0, T1), (128.0, T2), (88.0, T3)):
        store.upsert_listing(listing("1", "月饼", price=price, at=at))
    assert [v.price for v in store.listing_history("demo:1")] == [88.0, 128.0, 88.0]
    store.upsert_listing(listing("1", "月饼", price=128.0, at=T2))  # replay: nothing new
    assert len(store.listing_history("demo:1")) == 3


def test_shop_round_trip(store):
    s = shop("s1", "潮鞋工厂店", operator="某某贸易有限公司", license_number="91330100MA2XXXXX1",
             notices="不支持七天无理由退货", norm={"notices": "不支持七天无理由退货"})
    store.upsert_shop(s)
    store.upsert_shop(s)
    got = store.get_shop("demo:s1")
    assert got.operator == "某某贸易有限公司" and got.kind == "shop" and got.norm == s.norm
    assert store.counts()["shops"] == 1


def test_listing_and_shop_with_same_id_do_not_collide(store):
    item, s = listing("7", "高仿包", shop_id="7"), shop("7", "店铺七")
    store.upsert_listing(item)
    store.upsert_shop(s)
    disclosure = "电子商务经营者未履行市场主体公示义务"
    store.upsert_findings([finding(item), finding(s, "disclosure.no-license", category=disclosure)])
    assert len(store.findings_for("demo:7", kind="listing")) == 1
    assert len(store.findings_for("demo:7", kind="shop")) == 1
    assert store.resolve_findings("demo:7", [], kind="shop") == 1
    assert store.findings_for("demo:7", kind="listing")[0].status == "open"


# --------------------------------------------------------------------------- findings life cycle


def test_finding_first_and_last_seen_across_sweeps(store):
    a = listing("1", "高仿鞋", sweep="sw1", at=T1)
    b = listing("1", "高仿鞋", sweep="sw2", at=T2)
    store.upsert_findings([finding(a)])
    store.upsert_findings([finding(b, snippet="新的【高仿】证据")])
    (sf,) = store.findings_for("demo:1")
    assert (sf.first_seen, sf.last_seen, sf.first_sweep_id, sf.last_sweep_id) == (T1, T2, "sw1", "sw2")
    assert sf.sweeps == ["sw1", "sw2"]
    assert sf.finding.snippet == "新的【高仿】证据"  # latest evidence kept


def test_soft_resolve_and_reopen(store):
    item = listing("1", "高仿鞋 全网最低价")
    f1, f2 = finding(item), finding(item, "price.lowest", category="不正当价格行为", severity="medium")
    store.upsert_listing(item)
    store.upsert_findings([f1, f2])
    assert store.resolve_findings(item.subject_id, [f1.finding_id], at=T2, sweep_id="sw2") == 1
    assert store.resolve_findings(item.subject_id, [f1.finding_id], at=T2, sweep_id="sw2") == 0
    status = {sf.finding_id: sf.status for sf in store.findings_for(item.subject_id)}
    assert status == {f1.finding_id: "open", f2.finding_id: "resolved"}  # soft: still there
    assert [x.finding_id for x in store.get_listing(item.subject_id).findings] == [f1.finding_id]
    c = store.counts()
    assert (c["findings"], c["resolved"]) == (1, 1)
    assert store.search(SearchQuery(category="不正当价格行为")).total == 0
    assert store.search(SearchQuery(category="不正当价格行为", include_resolved=True)).total == 1
    assert store.search(SearchQuery(status="resolved")).total == 1
    # it comes back in a later sweep: open again
    store.upsert_findings([finding(listing("1", "高仿鞋 全网最低价", at=T3, sweep="sw3"), "price.lowest",
                                   category="不正当价格行为", severity="medium")])
    assert {sf.status for sf in store.findings_for(item.subject_id)} == {"open"}


def test_save_resolves_what_the_page_no_longer_shows(store):
    item = listing("1", "高仿鞋")
    item.findings = [finding(item)]
    store.save(item)
    again = listing("1", "运动鞋", at=T2, sweep="sw2")
    store.save(again)  # rescan: no findings any more
    assert [sf.status for sf in store.findings_for("demo:1")] == ["resolved"]
    assert store.snapshots(item.html_sha256)[0].url == item.url
    failed = listing("2", "高仿包")
    failed.findings = [finding(failed)]
    store.save(failed)
    store.save(ListingItem(site="demo", listing_id="2", status=503, fetched_at=T2, url=failed.url))
    assert [sf.status for sf in store.findings_for("demo:2")] == ["open"]  # an error page resolves nothing
    assert store.get_listing("demo:2").title == "高仿包"  # ... and does not replace the stored page


# --------------------------------------------------------------------------- sweeps and snapshots


def test_sweeps_and_snapshots(store):
    store.start_sweep("sw1", "demo", T1, {"robots_obeyed": True})
    store.finish_sweep("sw1", T2, {"pages": 10})
    store.start_sweep("sw2", "demo", T3, {})
    sweeps = store.sweeps()
    assert [s.sweep_id for s in sweeps] == ["sw2", "sw1"]
    assert sweeps[1].settings == {"robots_obeyed": True} and sweeps[1].stats == {"pages": 10}
    assert sweeps[0].finished_at is None
    for _ in range(2):
        store.record_snapshot("abc", "http://x/1", "html/ab/abc.html.gz", T1, 200, "sw1", True)
    store.record_snapshot("abc", "http://x/1", "html/ab/abc.html.gz", T2, 200, "sw2", True)
    snaps = store.snapshots("abc")
    assert [(s.sweep_id, s.rendered) for s in snaps] == [("sw1", True), ("sw2", True)]
    assert store.counts()["snapshots"] == 2


# --------------------------------------------------------------------------- durability and concurrency


def test_batched_writes_visible_to_others_after_flush(tmp_path):
    path = tmp_path / "n.db"
    writer = SQLiteStore(path, batch_size=10_000, max_delay=3600)
    other = SQLiteStore(path)
    writer.upsert_listing(listing("1", "高仿鞋"))
    assert writer.counts()["listings"] == 1  # read-your-writes (commits first)
    writer.upsert_listing(listing("2", "运动鞋"))
    assert other.counts()["listings"] == 1  # the second write is not committed yet
    writer.flush()
    assert other.counts()["listings"] == 2
    writer.upsert_listing(listing("3", "皮鞋"))
    writer.close()
    assert other.counts()["listings"] == 3  # close flushes
    other.close()


def test_transaction_rolls_back_on_error(tmp_path):
    s = SQLiteStore(tmp_path / "n.db")
    s.upsert_listing(listing("1", "a"))
    with pytest.raises(RuntimeError), s.transaction():
        s.upsert_listing(listing("2", "b"))
        assert s.counts()["listings"] == 2  # the owner reads its own transaction
        raise RuntimeError("boom")
    assert s.counts()["listings"] == 1
    with s.transaction():
        s.upsert_listing(listing("3", "c"))
    assert s.counts()["listings"] == 2
    s.close()


def test_threads_share_one_store(store):
    def work(n: int) -> None:
        for i in range(50):
            item = listing(f"{n}-{i}", f"高仿鞋{n}号")
            store.upsert_listing(item)
            store.upsert_findings([finding(item)])
            store.search(SearchQuery(text="高仿", limit=5))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.counts()["listings"] == 200
    assert store.search(SearchQuery(text="高仿")).total == 200


def test_failing_call_leaves_nothing_half_written(tmp_path, monkeypatch):
    s = SQLiteStore(tmp_path / "n.db")
    item = listing("1", "运动鞋")
    s.upsert_listing(item)
    original = SQLiteStore._upsert_finding

    def flaky(self, c, f, found):
        if f.rule_id == "broken.rule":
            raise RuntimeError("boom")
        return original(self, c, f, found)

    monkeypatch.setattr(SQLiteStore, "_upsert_finding", flaky)
    with pytest.raises(RuntimeError):
        s.upsert_findings([finding(item, snippet="高仿证据"), finding(item, "broken.rule")])
    assert s.counts()["findings"] == 0 and s.counts()["listings"] == 1  # earlier calls are kept
    assert s.search(SearchQuery(text="高仿", flagged_only=False)).total == 0  # no index entry leaked
    s.close()


def test_in_memory_store_and_search_inside_a_transaction():
    s = open_store("sqlite:///:memory:")
    with s.transaction():
        s.upsert_listing(listing("1", "耐克高仿运动鞋"))
        assert s.search(SearchQuery(text="高仿", flagged_only=False)).total == 1
    assert s.get_listing("demo:1").title == "耐克高仿运动鞋"
    s.close()


def test_counts_per_sweep_and_plain_dict_filters(store):
    a, b = listing("1", "高仿鞋", sweep="sw1"), listing("2", "高仿包", sweep="sw2", at=T2)
    for item in (a, b):
        store.upsert_listing(item)
        store.upsert_findings([finding(item)])
    store.upsert_listing(listing("1", "高仿鞋", sweep="sw2", at=T2))  # seen again in sw2, its finding not
    c = store.counts(sweep_id="sw2")
    assert (c["listings"], c["shops"], c["findings"], c["listing_versions"]) == (2, 0, 1, 1)
    assert c["by_category"]["网络销售假冒伪劣商品"] == 1
    assert store.counts(sweep_id="sw1")["listings"] == 1
    assert [d["subject_id"] for d in store.iter_findings({"sweep_id": "sw1"})] == ["demo:1"]
    result = store.search({"text": "高仿"})
    assert result.total == 2
    assert json.loads(json.dumps(result.to_dict(), ensure_ascii=False))["hits"][0]["findings"][0]["rule_id"]
