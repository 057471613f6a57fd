"""A campaign's worth of console data, made the way sweeps make it: listings and shops matched by the real
rule engine (the bundled rule packs) and saved through the Store API, over five sweeps of two platforms
around the 618 festival of campaigns/2026-netsword.yml (06-16..06-18), one of them the baseline.

Used by the console tests and scripts/console-screenshots.py. Shops are in several provinces; two shops
share a phone number (an operator group); one listing raises its price before the festival and shows the
raised price as the struck-through price during it (先涨后降).
"""

from __future__ import annotations

from typing import Any

from crawler.items import ListingItem, ShopItem
from pipelines.match import RuleSet
from pipelines.store.base import Store, SweepRun

#: (sweep id, site, started at UTC, kind, pages, failures)
SWEEPS = (("demo-0601", "demo", "2026-06-01T01:00:00+00:00", "daily", 120, 0),
          ("demo-0606", "demo", "2026-06-06T01:00:00+00:00", "baseline", 131, 2),
          ("shopx-0610", "shopx", "2026-06-10T01:00:00+00:00", "daily", 64, 0),
          ("demo-0616", "demo", "2026-06-16T01:00:00+00:00", "daily", 140, 5),
          ("shopx-0617", "shopx", "2026-06-17T01:00:00+00:00", "daily", 70, 1))
#: shop id -> (site, name, operator, address, phone, licence number)
SHOPS: dict[str, tuple[str, str, str, str, str, str]] = {
    "S01": ("demo", "潮牌运动专营店", "广州某某贸易有限公司", "广东省广州市天河区体育西路1号", "020-1111-2222", ""),
    "S02": ("demo", "潮牌运动二店", "广州某某贸易有限公司", "广东省广州市越秀区中山五路2号", "020-1111-2222", ""),
    "S03": ("demo", "养生堂滋补旗舰店", "杭州某某健康科技有限公司", "浙江省杭州市西湖区文三路3号", "0571-333", ""),
    "S04": ("demo", "名表小铺", "福州某某商行", "福建省福州市鼓楼区五四路4号", "0591-444", ""),
    "S05": ("shopx", "家电优选", "成都某某电器有限公司", "四川省成都市武侯区人民南路5号", "028-555", ""),
    "S06": ("shopx", "童装乐园", "郑州某某服饰店", "河南省郑州市金水区花园路6号", "0371-666", ""),
    "S07": ("demo", "无名小店", "", "", "", ""),
}
#: (listing id, shop id, title, {sweep id: (price, original price)})
LISTINGS: tuple[tuple[str, str, str, dict[str, tuple[float, float | None]]], ...] = (
    ("L01", "S01", "高仿耐克 AJ1 篮球鞋 1:1复刻", {"demo-0601": (199.0, None), "demo-0616": (189.0, None)}),
    ("L02", "S01", "国家级工艺 最好的跑鞋 全网第一", {"demo-0601": (299.0, None), "demo-0616": (299.0, None)}),
    ("L03", "S02", "精仿LV老花手提包 原单尾货", {"demo-0606": (468.0, None), "demo-0616": (468.0, None)}),
    ("L04", "S03", "降血糖 降血压 纯中药 保健茶", {"demo-0601": (88.0, None), "demo-0616": (88.0, None)}),
    ("L05", "S03", "空气炸锅 家用大容量", {"demo-0606": (399.0, None), "demo-0616": (399.0, 599.0)}),
    ("L06", "S04", "劳力士 绿水鬼 机械表 40mm", {"demo-0606": (1280.0, None), "demo-0616": (1180.0, 1580.0)}),
    ("L07", "S05", "空气净化器 除甲醛 治疗鼻炎", {"shopx-0610": (599.0, None), "shopx-0617": (599.0, None)}),
    ("L08", "S05", "加厚羽绒服 冬季新款", {"shopx-0610": (99.0, 1999.0), "shopx-0617": (99.0, 1999.0)}),
    ("L09", "S06", "儿童玩具 全网最低价 第一品牌", {"shopx-0617": (59.0, None)}),
    ("L10", "S07", "高仿 香奈儿 五号香水 100ml", {"demo-0616": (59.0, None)}),
)
#: the 先涨后降 listing: its history during the festival sweep (what pipelines.history computes from the baseline)
HISTORY = {("L05", "demo-0616"): {"baseline_price": 399.0, "baseline_reference_price": 399.0,
                                  "max_price_since_baseline": 599.0}}
#: the versions of L05 between the baseline and the festival (a price raised to 599), not a sweep of their own
RAISED = ("L05", "demo-0606b", "2026-06-11T01:00:00+00:00", 599.0)


def _at(sweep_id: str) -> str:
    return next(s[2] for s in SWEEPS if s[0] == sweep_id).replace("01:00:00", "01:20:00")


def _shop_item(shop_id: str, sweep_id: str) -> ShopItem:
    site, name, operator, address, phone, lic = SHOPS[shop_id]
    return ShopItem(url=f"http://{site}.test/shop/{shop_id}/", site=site, sweep_id=sweep_id, status=200,
                    fetched_at=_at(sweep_id), html_sha256=f"sha-shop-{shop_id}-{sweep_id}", shop_id=shop_id, name=name,
                    operator=operator, address=address, phone=phone, license_number=lic,
                    license_text=f"营业执照 {operator}" if operator else "", listing_count=5)


def build_console_data(store: Store, rules: RuleSet | None = None) -> dict[str, Any]:
    """Plant the data; returns the rule set and the ids the tests look for."""
    rules = rules or RuleSet.load()
    for sweep_id, site, started, kind, pages, failures in SWEEPS:
        store.start_sweep(sweep_id, site, started, {})
        store.put_run(SweepRun(sweep_id, site, kind, "2026-netsword", "618", started_at=started,
                               finished_at=started.replace("01:00:00", "01:40:00"), status="ok", pages=pages))
        shops = {sid for lid, sid, _, prices in LISTINGS if sweep_id in prices} | (
            {sid for sid, s in SHOPS.items() if s[0] == site})
        for shop_id in sorted(shops):
            if SHOPS[shop_id][0] != site:
                continue
            shop = _shop_item(shop_id, sweep_id)
            shop.findings = _dated(rules.match(shop), shop.fetched_at)
            store.save(shop)
        for lid, shop_id, title, prices in LISTINGS:
            if sweep_id not in prices:
                continue
            if (lid, sweep_id) == ("L05", "demo-0616"):
                _listing_version(store, rules, RAISED[0], "S03", "空气炸锅 家用大容量", RAISED[1], RAISED[2],
                                 RAISED[3], None, {})
            price, original = prices[sweep_id]
            _listing_version(store, rules, lid, shop_id, title, sweep_id, _at(sweep_id), price, original,
                             HISTORY.get((lid, sweep_id), {}))
        store.finish_sweep(sweep_id, started.replace("01:00:00", "01:40:00"),
                           {"response_received_count": pages, "downloader/exception_count": failures,
                            "elapsed_time_seconds": 2400.0})
    store.flush()
    return {"rules": rules, "price_lead": "demo:S03", "price_listing": "demo:L05", "group": ("demo:S01", "demo:S02")}


def _listing_version(store: Store, rules: RuleSet, lid: str, shop_id: str, title: str, sweep_id: str, at: str,
                     price: float, original: float | None, history: dict[str, float]) -> None:
    site = SHOPS[shop_id][0]
    item = ListingItem(url=f"http://{site}.test/item/{lid}.html", site=site, sweep_id=sweep_id, status=200,
                       fetched_at=at, html_sha256=f"sha-{lid}-{sweep_id}", listing_id=lid, shop_id=shop_id,
                       shop_name=SHOPS[shop_id][1], title=title, price=price, original_price=original,
                       price_text=f"¥{price:.2f}", original_price_text=f"¥{original:.2f}" if original else "",
                       history=dict(history))
    item.findings = _dated(rules.match(item), at)
    store.save(item)


def _dated(findings: list[Any], at: str) -> list[Any]:
    """Findings found when their page was fetched (the rule engine stamps the time it ran)."""
    for f in findings:
        f.found_at = at
    return findings
