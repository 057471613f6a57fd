"""Store contract: listings and shops, idempotent by stable ids, with the history of a listing across sweeps."""

from __future__ import annotations

from store_builders import T1, T2, T3, finding, listing, shop


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


def test_every_item_field_round_trips(store):
    item = listing("9", "进口奶粉", description="澳洲原装", promo="满300减50", service="支持七天无理由退货",
                   category="食品保健", attributes={"产地": "澳大利亚"}, original_price=399.0, currency="CNY",
                   norm={"title": "进口奶粉"}, tokens=["进口", "奶粉"], rendered=True)
    store.upsert_listing(item)
    got = store.get_listing(item.subject_id)
    for name in ("url", "site", "sweep_id", "status", "fetched_at", "rendered", "html_sha256", "html_path", "shop_id",
                 "shop_name", "title", "price_text", "category", "description", "promo", "service", "attributes",
                 "price", "original_price", "currency", "norm", "tokens"):
        assert getattr(got, name) == getattr(item, name), name
