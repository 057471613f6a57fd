"""Store contract: Chinese full text (two-character words), filters, facets, ordering, deep pagination."""

from __future__ import annotations

import pytest
from store_builders import AD, COUNTERFEIT, PRICE, fill_corpus, finding, ids, listing, shop

from leads.search import search
from pipelines.store import SearchQuery


def test_two_character_words_without_false_hits(store):
    positives = {"1": "耐克高仿运动鞋", "2": "高仿", "3": "Nike 高仿 AJ1", "4": "【高仿】包包"}
    negatives = {"5": "仿真花 客厅装饰", "6": "高端仿古家具", "7": "高 仿", "8": "仿高跟鞋"}
    for lid, title in {**positives, **negatives}.items():
        store.upsert_listing(listing(lid, title))
    found = search(store, "高仿", flagged_only=False)
    assert sorted(ids(found)) == sorted(f"demo:{k}" for k in positives)
    assert found.total == len(positives)
    assert all("【高仿】" in h.highlight for h in found.hits)


def test_phrases_latin_words_and_single_characters(store):
    store.upsert_listing(listing("1", "运动鞋", description="本店不支持七天无理由退货"))
    store.upsert_listing(listing("2", "七天 无理由"))  # separated: not the phrase
    store.upsert_listing(listing("3", "ＮＩＫＥ　Air Max 90"))  # full-width latin
    store.upsert_listing(listing("4", "snikers 9000"))
    store.upsert_shop(shop("s1", "潮鞋店", service="支持七天无理由退换"))

    def hits(text: str) -> list[str]:
        return sorted(ids(search(store, text, flagged_only=False)))

    assert hits("七天无理由") == ["demo:1", "demo:s1"]
    assert hits("nike") == ["demo:3"] and hits("NIKE air") == ["demo:3"]
    assert hits("90") == ["demo:3"]  # numbers whole: not 9000
    assert hits("鞋") == ["demo:1", "demo:s1"]  # one character: any position
    assert hits("七") == ["demo:1", "demo:2", "demo:s1"]
    assert hits("运动鞋 七天") == ["demo:1"]  # terms are ANDed
    assert hits("七天 -运动") == ["demo:2", "demo:s1"]  # minus excludes
    assert hits("!!!") == hits("") == sorted(["demo:1", "demo:2", "demo:3", "demo:4", "demo:s1"])
    h = search(store, "七天无理由", kind="listing", flagged_only=False).hits[0]
    assert h.highlight_field == "description" and "【七天无理由】" in h.highlight


def test_search_syntax_or_phrases_exclusion_and_fields(store):
    """What analysts type (``pipelines.store.base.parse_text``), the same on every engine."""
    from leads.search import build_query

    store.upsert_listing(listing("1", "高仿 耐克 运动鞋"))
    store.upsert_listing(listing("2", "精仿 LV 手提包 正品"))
    store.upsert_listing(listing("3", "1:1 复刻 名表", site="other"))
    store.upsert_listing(listing("4", "复刻 1:1 名表"))  # the same words, another order
    store.upsert_listing(listing("5", "正品 耐克 跑鞋"))
    s1 = listing("6", "高仿包包", shop_id="s9")
    store.upsert_listing(s1)
    store.upsert_findings([finding(s1, "ad.absolute", category=AD, snippet="【高仿】包包", matched=["高仿"])])

    def hits(text: str, **kw) -> list[str]:
        q = build_query(text, include_clean=True, per_page=100, **kw)
        return sorted(h.subject_id for h in store.search(q).hits)

    assert hits("高仿 OR 精仿") == ["demo:1", "demo:2", "demo:6"]
    assert hits("高仿 | 精仿 包") == ["demo:2", "demo:6"]  # (高仿 or 精仿) and 包
    assert hits('"1:1 复刻"') == ["other:3"]  # a phrase: in this order
    assert hits("1:1 复刻") == ["demo:4", "other:3"]
    assert hits("耐克 -正品") == ["demo:1"]
    assert hits('-"LV 手提包" 仿') == ["demo:1", "demo:6"]
    assert hits("名表 site:other") == ["other:3"]
    assert hits("shop:s9") == ["demo:6"]
    assert hits("高仿 category:" + AD) == ["demo:6"]
    assert sorted(f["subject_id"] for f in store.iter_findings(build_query("精仿 OR 高仿 category:" + AD))) == [
        "demo:6"]


def test_snippets_and_normalised_text_are_searchable(store):
    item = listing("1", "耐克 高*仿 鞋", norm={"title": "耐克高仿鞋"})  # obfuscated, normalised by the pipeline
    store.upsert_listing(item)
    store.upsert_findings([finding(item, snippet="耐克【高仿】鞋", matched=["高仿"])])
    other = listing("2", "运动鞋")
    store.upsert_listing(other)
    store.upsert_findings([finding(other, "ad.absolute", category=AD, snippet="全网【第一】品牌", matched=["第一"])])
    assert ids(search(store, "高仿")) == ["demo:1"]
    assert ids(search(store, "全网第一")) == ["demo:2"]  # only in the finding's evidence


@pytest.fixture
def corpus(store):
    return fill_corpus(store)


def test_flagged_only_and_ordering(corpus):
    r = search(corpus)
    assert r.total == 6  # the unflagged listing 5 is left out
    # critical first, then high (newest first), then medium (newest first), then low
    assert ids(r) == ["mall:4", "demo:2", "demo:1", "demo:3", "mall:m1", "mall:6"]
    assert r.hits[0].max_severity == "critical" and r.hits[0].shop_name == "测试小店"
    assert search(corpus, flagged_only=False).total == 7


def test_filters(corpus):
    assert sorted(ids(search(corpus, category=COUNTERFEIT))) == ["demo:1", "demo:2", "mall:4"]
    assert sorted(ids(search(corpus, category=[PRICE, AD]))) == ["demo:2", "demo:3", "mall:6"]
    assert ids(search(corpus, severity="critical")) == ["mall:4"]
    assert sorted(ids(search(corpus, site="mall"))) == ["mall:4", "mall:6", "mall:m1"]
    assert sorted(ids(search(corpus, shop_id="s1"))) == ["demo:1", "demo:2"]
    assert sorted(ids(search(corpus, price_min=90, price_max=300))) == ["demo:1", "mall:6"]
    assert ids(search(corpus, kind="shop")) == ["mall:m1"]
    assert ids(search(corpus, sweep_id="sw2")) == ["demo:3"]
    assert sorted(ids(search(corpus, "高仿"))) == ["demo:1", "demo:2", "mall:4", "mall:m1"]
    assert ids(search(corpus, "高仿", site="mall", kind="listing")) == ["mall:4"]
    # a hit lists the findings that passed the filters
    (hit,) = search(corpus, "高仿", category=PRICE).hits
    assert hit.subject_id == "demo:2" and [f.rule_id for f in hit.findings] == ["price.lowest"]


def test_facets(corpus):
    r = search(corpus)
    assert r.facets["site"] == {"demo": 3, "mall": 3}
    assert r.facets["category"] == {COUNTERFEIT: 3, PRICE: 2, AD: 1, "电子商务经营者未履行市场主体公示义务": 1}
    assert r.facets["severity"] == {"high": 2, "medium": 3, "critical": 1, "low": 1}
    r = search(corpus, "高仿")
    assert r.facets["category"][COUNTERFEIT] == 3 and r.facets["site"] == {"demo": 2, "mall": 2}


def test_facets_count_categories_outside_the_form(store):
    item = listing("1", "测试")
    store.upsert_listing(item)
    store.upsert_findings([finding(item, "x.custom", category="试点类别", severity="high")])
    r = search(store)
    assert r.facets["category"] == {"试点类别": 1} and r.facets["severity"] == {"high": 1}


def test_pagination(corpus):
    every = ids(search(corpus, limit=100))
    pages = [ids(search(corpus, limit=4, offset=o)) for o in (0, 4)]
    assert pages[0] + pages[1] == every and len(pages[0]) == 4
    beyond = search(corpus, limit=4, offset=50)
    assert beyond.hits == [] and beyond.total == 6
    assert search(corpus, limit=0).hits == []


def test_deep_pagination_walks_every_hit_once(store):
    """Pages far down the list (past Elasticsearch's result window, here made tiny) are the same pages."""
    if hasattr(store, "config"):
        store.config.max_window = 5
    for i in range(23):
        item = listing(f"{i:02d}", f"高仿商品{i}", at=f"2026-06-01T02:{i:02d}:00+00:00")
        store.upsert_listing(item)
        store.upsert_findings([finding(item, severity=("low", "medium", "high")[i % 3])])
    seen = []
    for offset in range(0, 25, 4):
        seen += ids(search(store, "高仿", limit=4, offset=offset))
    assert len(seen) == 23 and len(set(seen)) == 23
    assert seen == ids(search(store, "高仿", limit=23))
    assert ids(search(store, "高仿", limit=3, offset=20)) == seen[20:23]


def test_search_query_defaults():
    q = SearchQuery()
    assert q.flagged_only and q.limit == 20 and q.offset == 0 and q.terms() == ([], [])
