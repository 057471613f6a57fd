"""Precision and recall per statistics-form category on the demo marketplace's ground truth, offline.

Items are built from ``crawler/demo/catalog.json`` the way the demo site profile extracts them
(titles, prices as shown, descriptions, promotions, after-sales text; shop licence blocks), with
no crawl, then normalised and matched like a sweep. The scoring is ``crawler/demo/evaluate.py``:
the unit is (subject, category).
"""

from __future__ import annotations

import json
from pathlib import Path

from crawler.demo.evaluate import score, truth_keys
from crawler.items import ListingItem, ShopItem
from pipelines.match import RuleSet
from pipelines.normalize import NormalizePipeline

CATALOG = Path(__file__).resolve().parents[1] / "crawler" / "demo" / "catalog.json"


def _pictures(pics: dict, ids_by_role: dict) -> list[dict]:
    """The item's pictures with the lines painted on them, as OCR reads sharp text (a blurred one: nothing)."""
    from crawler.demo.pictures import picture_text

    return [{"role": role, "status": "ok", "ocr": "given", "sha256": "", "url": "",
             "lines": [] if pics[pid].get("blur") else
             [{"text": t, "box": [0, 0, 0, 0]} for t in picture_text(pics[pid], pics).splitlines()]}
            for role, ids in ids_by_role.items() for pid in ids]


def demo_items() -> list[ListingItem | ShopItem]:
    from pipelines.images.text import assemble

    c = json.loads(CATALOG.read_text(encoding="utf-8"))
    pics = c.get("pictures") or {}
    labels = {x["slug"]: x["label"] for x in c["categories"]}
    items: list[ListingItem | ShopItem] = []
    for li in c["listings"]:
        op = li.get("original_price")
        items.append(ListingItem(
            site="demo", listing_id=li["id"], shop_id=li["shop_id"], title=li["title"],
            price_text=f"¥{li['price']:,.2f}", original_price_text=f"¥{op:,.2f}" if op else "",
            category=labels[li["category"]], description=li.get("description") or "", promo=li.get("promo") or "",
            service=li.get("service") or "", attributes=li.get("attributes") or {},
            images=_pictures(pics, li.get("images") or {})))
        assemble(items[-1])
    for s in c["shops"]:
        lic = s.get("license") or {}
        parts = []
        if lic:
            parts.append("营业执照信息" if lic.get("uscc") else "经营者身份信息")
            parts.append(f"经营者名称：{lic.get('company')}")
            if lic.get("uscc") and not lic.get("image_only"):
                parts.append(f"统一社会信用代码：{lic['uscc']}")
            if lic.get("food_license"):
                parts.append(f"{lic.get('food_license_label') or '食品经营许可证'}：{lic['food_license']}")
            parts += lic.get("other") or []
            if lic.get("exemption"):
                parts.append(lic["exemption"])
        items.append(ShopItem(
            site="demo", shop_id=s["id"], name=s["name"], operator=lic.get("company") or "",
            license_text=" ".join(parts), license_number="" if lic.get("image_only") else lic.get("uscc") or "",
            license_image=f"/static/license/{s['id']}.svg" if lic.get("image") else "",
            food_license=lic.get("food_license") or "", description=s.get("intro") or "",
            service=s.get("policy") or "", notices=s.get("notice") or "", phone=s.get("phone") or "",
            images=_pictures(pics, {"license": [lic["picture"]]} if lic.get("picture") else {})))
        assemble(items[-1])
    return items


def test_demo_precision_and_recall_per_category():
    rules = RuleSet.load()
    normalize = NormalizePipeline(tokens=False)
    findings = []
    for item in demo_items():
        normalize.process_item(item)
        findings += rules.match(item)
    predicted = {(f.subject_kind, f.subject_id.split(":", 1)[1], f.category) for f in findings}
    ev = score(truth_keys(), predicted)
    print("\n" + ev.table())
    for key in ev.missed:
        print("  missed", key)
    for key in ev.false_alarms:
        print("  false alarm", key, [f.rule_id for f in findings if f.subject_id.endswith(f":{key[1]}")
                                     and f.category == key[2]])
    truth_categories = {cat for _, _, cat in truth_keys()}
    assert len(truth_categories) >= 13
    for cat, row in ev.per_category.items():
        if cat in truth_categories:
            assert row["precision"] >= 0.95, (cat, row)
            assert row["recall"] >= 0.90, (cat, row)
    assert not set(ev.per_category) - truth_categories, "flags in categories the demo has no violations of"
