"""Store contract: findings idempotent by id, first/last seen, soft resolve and reopen, sweeps, snapshots,
counts, the export stream, and one store shared by threads."""

from __future__ import annotations

import json
import threading

from store_builders import AD, COUNTERFEIT, PRICE, T1, T2, T3, fill_corpus, finding, listing, shop

from crawler.items import ListingItem
from pipelines.store import SearchQuery
from pipelines.store.sqlite import SQLiteStore


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


def test_threads_share_one_store(store):
    every = 1 if isinstance(store, SQLiteStore) else 10  # the stand-in is slow to refresh: fewer searches

    def work(n: int) -> None:
        for i in range(50):
            item = listing(f"{n}-{i}", f"高仿鞋{n}号")
            store.upsert_listing(item)
            store.upsert_findings([finding(item)])
            if i % every == 0:
                store.search(SearchQuery(text="高仿", limit=5))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.counts()["listings"] == 200
    assert store.search(SearchQuery(text="高仿")).total == 200


def test_export_stream_worst_first_with_subject_fields(store):
    fill_corpus(store)
    store.upsert_shop(shop("s1", "测试小店", operator="某某商贸有限公司", license_number="91330100MA2XXXXX1"))
    sha = "sha-1-199.0-耐克高仿运动鞋"  # listing 1's page
    store.record_snapshot(sha, "http://demo.test/item/1.html", "html/1.html.gz", T3, 200, "sw9", False)
    rows = list(store.iter_findings())
    assert len(rows) == 7
    ranks = ["critical", "high", "medium", "low"]
    assert [ranks.index(r["severity"]) for r in rows] == sorted(ranks.index(r["severity"]) for r in rows)
    by_id = {(r["subject_id"], r["rule_id"]): r for r in rows}
    r1 = by_id[("demo:1", "fake.imitation")]
    assert (r1["subject_title"], r1["price"], r1["shop_name"], r1["operator"], r1["license_number"]) == \
        ("耐克高仿运动鞋", 199.0, "测试小店", "某某商贸有限公司", "91330100MA2XXXXX1")
    assert r1["fetched_at"] == T3  # of the evidence snapshot
    assert r1["status"] == "open" and r1["first_seen"] == T1 and r1["matched"] == [] and r1["start"] == 0
    shop_row = by_id[("mall:m1", "disclosure.no-license")]
    assert (shop_row["subject_title"], shop_row["price"], shop_row["shop_name"]) == ("", None, "名表商城")
    assert {r["subject_id"] for r in store.iter_findings({"text": "高仿"})} == {"demo:1", "demo:2", "mall:4",
                                                                              "mall:m1"}
    assert {r["rule_id"] for r in store.iter_findings({"text": "高仿", "category": PRICE})} == {"price.lowest"}
    assert {r["subject_id"] for r in store.iter_findings({"price_max": 100})} == {"demo:2", "demo:3", "mall:6"}
    assert {r["subject_id"] for r in store.iter_findings({"text": "-高仿", "category": [AD, COUNTERFEIT]})} == {
        "demo:3"}
    assert list(store.iter_findings({"text": "不存在的词"})) == []
