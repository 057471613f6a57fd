"""Items, findings and a small corpus for the Store contract suite (also used by test_search and test_export)."""

from __future__ import annotations

from typing import Any

from crawler.items import Finding as FindingItem
from crawler.items import ListingItem, ShopItem

T1 = "2026-06-01T02:00:00+00:00"
T2 = "2026-06-10T02:00:00+00:00"
T3 = "2026-06-17T02:00:00+00:00"

COUNTERFEIT, PRICE, AD = "网络销售假冒伪劣商品", "不正当价格行为", "虚假违法互联网广告"
DISCLOSURE = "电子商务经营者未履行市场主体公示义务"


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
            category: str = COUNTERFEIT, severity: str = "high", snippet: str = "", title: str = "疑似高仿",
            sweep: str | None = None, at: str | None = None, matched: list[str] | None = None) -> FindingItem:
    return FindingItem(rule_id=rule_id, rule_version="2026.1", pack=rule_id.split(".")[0], title=title,
                       category=category, severity=severity, basis="《电子商务法》第十三条",
                       subject_kind=subject.kind, subject_id=subject.subject_id, site=subject.site,
                       shop_id=subject.shop_id, url=subject.url, field="title", matched=matched or [],
                       snippet=snippet or f"【{getattr(subject, 'title', '') or subject.shop_id}】", start=0, end=2,
                       snapshot_sha256=subject.html_sha256, sweep_id=sweep or subject.sweep_id,
                       found_at=at or subject.fetched_at)


def fill_corpus(store):
    """Six listings on two sites, one shop; findings of several categories and severities."""
    rows = [  # id, title, price, site, shop, time, [(rule, category, severity)]
        ("1", "耐克高仿运动鞋", 199.0, "demo", "s1", T1, [("fake.imitation", COUNTERFEIT, "high")]),
        ("2", "高仿名牌包 全网最低价", 88.0, "demo", "s1", T2,
         [("fake.imitation", COUNTERFEIT, "high"), ("price.lowest", PRICE, "medium")]),
        ("3", "国家级 最佳 保健茶", 58.0, "demo", "s2", T3, [("ad.absolute", AD, "medium")]),
        ("4", "高仿手表 假一赔十", 1299.0, "mall", "m1", T2, [("fake.imitation", COUNTERFEIT, "critical")]),
        ("5", "普通运动鞋", 299.0, "demo", "s2", T3, []),
        ("6", "原价999现价99 限时", 99.0, "mall", "m1", T1, [("price.fake-original", PRICE, "low")]),
    ]
    for lid, title, price, site, shop_id, at, fs in rows:
        item = listing(lid, title, price=price, site=site, shop_id=shop_id, at=at, sweep="sw2" if at == T3 else "sw1")
        store.upsert_listing(item)
        store.upsert_findings([finding(item, r, category=c, severity=s) for r, c, s in fs])
    s = shop("m1", "名表商城", site="mall", notices="高仿手表专卖")
    store.upsert_shop(s)
    store.upsert_findings([finding(s, "disclosure.no-license", category=DISCLOSURE, severity="medium",
                                   snippet="未公示营业执照")])
    return store


def ids(result) -> list[str]:
    return [h.subject_id for h in result.hits]
