"""Readable evidence: the sentence an analyst reads for each kind of rule, from findings the real rule engine
made (the bundled rule packs and reference-price table), and the price timeline exhibit from a real SQLite store."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from leads_fixtures import PRICE, finding, listing, plant

from crawler.items import ListingItem, ShopItem
from leads.charts import price_timeline, timeline_svg
from leads.readable import explain_finding
from pipelines.match import RuleSet
from pipelines.store import open_store
from pipelines.store.base import SweepRun

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load()


def fired(rules: RuleSet, item) -> dict[str, dict]:
    return {f.rule_id: f.to_dict() for f in rules.match(item)}


def test_reference_price_finding_reads_as_a_sentence_naming_the_entry(rules):
    f = fired(rules, ListingItem(site="t", listing_id="L1", title="劳力士 绿水鬼 机械表", price=1280.0))
    text = explain_finding(f["cf.price-far-below-reference"])
    assert text.startswith("售价¥1,280，低于参考价¥"), text
    assert "的25%（实为" in text and "参考价取自参考价表「劳力士" in text
    assert "reference_prices.yml" not in text and "price <" not in text and "reference_price" not in text


def test_raised_before_discount_reads_with_the_baseline_numbers(rules):
    item = ListingItem(site="t", listing_id="L2", title="空气炸锅", price=399.0, original_price=599.0,
                       history={"baseline_price": 399.0, "baseline_reference_price": 399.0,
                                "max_price_since_baseline": 599.0})
    text = explain_finding(fired(rules, item)["price.raised-before-discount"])
    assert "划线价¥599，高于售价¥399" in text
    assert "节前比较价¥399的1.1倍（实为1.50倍）" in text and "节前基准售价¥399的1.05倍" in text
    assert "baseline" not in text and "=" not in text


def test_inflated_original_price_and_term_and_check_rules(rules):
    text = explain_finding(fired(rules, ListingItem(site="t", listing_id="L3", title="加厚羽绒服", price=99.0,
                                                    original_price=1999.0))["price.inflated-reference"])
    assert text == "划线价¥1,999，不低于售价¥99的5倍（实为20.19倍）"
    hits = fired(rules, ListingItem(site="t", listing_id="L4", title="国家级工艺 高仿耐克 跑鞋"))
    assert any(explain_finding(f).startswith("商品标题中出现「") and "高仿" in explain_finding(f)
               for f in hits.values())
    shop = ShopItem(site="t", shop_id="S1", name="某某小店")
    sentences = [explain_finding(f) for f in fired(rules, shop).values()]
    assert any("未公示营业执照" in s for s in sentences), sentences
    assert not any("【" in s or " / " in s for s in sentences)


def test_price_timeline_marks_baseline_and_festival(tmp_path):
    store = open_store(tmp_path / "t.db")
    # the 618 festival of campaigns/2026-netsword.yml runs 06-16..06-18; the baseline sweep is on 06-06
    store.put_run(SweepRun("base-1", "demo", "baseline", "2026-netsword", "618", started_at="2026-06-06T01:00:00+00:00",
                           finished_at="2026-06-06T02:00:00+00:00", status="ok"))
    versions = [("2026-06-06T01:30:00+00:00", "sw-a", 399.0, None), ("2026-06-12T01:30:00+00:00", "sw-b", 599.0, None),
                ("2026-06-16T01:30:00+00:00", "sw-c", 399.0, 599.0)]
    for at, sweep, price, original in versions:
        item = listing("P1", "空气炸锅", at=at, sweep=sweep, price=price, sha=f"sha-{sweep}", original_price=original)
        plant(store, item, finding(item, "price.raised-before-discount", PRICE))
    store.flush()
    t = price_timeline(store, "demo:P1")
    assert t is not None and [p.price for p in t.points] == [399.0, 599.0, 399.0]
    assert {(w.kind, w.name) for w in t.windows} >= {("baseline", "基准扫描"), ("festival", "618年中大促")}
    svg = ET.fromstring(str(timeline_svg(t)))  # well-formed, standalone SVG
    assert len(svg.findall(f".//{SVG}circle")) == 3
    kinds = {g.get("data-kind") for g in svg.findall(f".//{SVG}g") if g.get("data-kind")}
    assert kinds == {"baseline", "festival"}
    titles = " ".join(e.text or "" for e in svg.iter(f"{SVG}title"))
    assert "618年中大促 06-16–06-18" in titles and "售价 ¥599" in titles and "划线价 ¥599" in titles
    assert svg.find(f".//{SVG}path[@class='line-original']") is not None
    store.close()


def test_evidence_bundle_carries_the_timeline_and_the_sentence(tmp_path, monkeypatch):
    import json
    import zipfile

    from leads.bundle import write_bundle

    monkeypatch.setenv("NETSWORD_HOME", str(tmp_path / "home"))
    store = open_store(tmp_path / "b.db")
    rules = RuleSet.load()
    for at, sweep, price, original in (("2026-06-06T01:30:00+00:00", "sw-a", 1280.0, None),
                                       ("2026-06-16T01:30:00+00:00", "sw-b", 1180.0, 1580.0)):
        item = listing("R1", "劳力士 绿水鬼 机械表", at=at, sweep=sweep, price=price, sha=f"sha-{sweep}",
                       original_price=original)
        plant(store, item, *rules.match(item))
    store.flush()
    write_bundle(store, tmp_path / "b.zip", {"site": "demo"}, evidence_dir=tmp_path / "evidence")
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        manifest = json.loads(zf.read("manifest.json"))
        entry = next(f for f in manifest["findings"] if f["rule_id"] == "cf.price-far-below-reference")
        assert entry["explanation"].startswith("售价¥1,180，低于参考价¥")
        svg = ET.fromstring(zf.read(entry["price_timeline"]))
        assert len(svg.findall(f".//{SVG}circle")) == 2
        assert entry["price_timeline"] in zf.read("SHA256SUMS").decode()
    store.close()
