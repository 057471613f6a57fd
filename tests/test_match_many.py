"""``RuleSet.match_many`` (the batched path) gives exactly what ``RuleSet.match`` gives item by item.

Compared field by field (rule id, finding id, field, offsets, snippet, matched fragments, the
de-obfuscation notes, the check evidence) on the independent evaluation corpus
(``tests/corpus/eval/cases.jsonl``), the demo marketplace's listings and shops, both as crawled
(the engine normalises) and normalised first (as the crawl pipeline does), with both automaton
libraries; and on seeded random listings built from the rules' own terms, price texts, evasion
characters (traditional, zero-width, full-width, emoji, a NUL inside a field) and item mixes
longer than one batch. No timings here: ``python -m bench bench_match`` measures the speed.
"""

from __future__ import annotations

import copy
import random

import pytest
from test_corpus_eval import build, load_cases
from test_rule_demo_eval import demo_items

from crawler.items import ListingItem, ShopItem
from pipelines.match import RuleSet
from pipelines.match.engine import BATCH
from pipelines.normalize import NormalizePipeline


def key(findings: list) -> list[tuple]:
    """Everything of a finding but found_at (the clock)."""
    return [(f.rule_id, f.finding_id, f.subject_id, f.category, f.field, f.start, f.end, f.snippet, f.matched,
             f.deobfuscated) for f in findings]


def normalised(items: list) -> list:
    items = copy.deepcopy(items)
    p = NormalizePipeline(tokens=False)
    for it in items:
        p.process_item(it)
    return items


def assert_same(rules: RuleSet, items: list, **kw) -> int:
    one_by_one = [key(rules.match(it, **kw)) for it in items]
    batched = [key(fs) for fs in rules.match_many(items, **kw)]
    assert len(batched) == len(items)
    for it, a, b in zip(items, one_by_one, batched, strict=True):
        assert b == a, it.subject_id
    return sum(map(len, one_by_one))


@pytest.fixture(scope="module", params=["ahocorasick_rs", "pyahocorasick"])
def rules(request) -> RuleSet:
    return RuleSet.load(backend=request.param)


@pytest.fixture(scope="module")
def corpus() -> list[ListingItem | ShopItem]:
    return [build(c) for c in load_cases()]


@pytest.mark.parametrize("prenormalised", [False, True], ids=["raw", "normalised"])
def test_eval_corpus_batched_is_item_by_item(rules, corpus, prenormalised):
    items = normalised(corpus) if prenormalised else corpus
    assert len(items) > 2 * BATCH and {it.kind for it in items} == {"listing", "shop"}
    assert assert_same(rules, items) > 500  # hundreds of findings compared, not an empty run


@pytest.mark.parametrize("prenormalised", [False, True], ids=["raw", "normalised"])
def test_demo_items_batched_is_item_by_item(rules, prenormalised):
    items = demo_items()
    items = normalised(items) if prenormalised else items
    assert assert_same(rules, items) > 50


def test_rule_selection_and_test_rules_are_the_same(rules, corpus):
    some = {r.id for r in rules.rules[::3]}
    assert_same(rules, corpus[:300], only=some)
    assert_same(rules, corpus[:300], include_test=True)
    assert rules.match_many([]) == []


def random_listing(rnd: random.Random, n: int, terms: list[str]) -> ListingItem:
    tricks = ["高 仿", "髙仿", "A\u200b货", "ＮＩＫＥ", "n1ke", "😀", "℃", "薰衣草", "最佳", "\x00", "GAO FANG",
              "\n\t", "  "]
    filler = "本店商品质量保证，欢迎选购。发货快，包邮。"

    def text(k: int) -> str:
        parts = [rnd.choice(terms) if rnd.random() < 0.3 else rnd.choice(tricks) if rnd.random() < 0.3
                 else filler[rnd.randrange(len(filler)):] for _ in range(k)]
        return "".join(parts)

    price = rnd.choice([0, 9.9, 99, 1299, 30000])
    op = rnd.choice([None, price * 1.2, price * 8, 59999])
    return ListingItem(site="rnd", listing_id=str(n), title=text(3), description=text(rnd.choice([0, 2, 12])),
                       promo=text(rnd.choice([0, 1])), service=rnd.choice(["", "不支持七天无理由退货", "七天无理由"]),
                       category=rnd.choice(["", "食品饮料", "美妆护肤", "家居日用"]),
                       price_text=f"¥{price:,.2f}" if rnd.random() < 0.9 else "",
                       original_price_text=f"¥{op:,.2f}" if op else "",
                       history=rnd.choice([{}, {"max_price_7d": price, "history_days": 9.0}]))


def test_random_listings_batched_is_item_by_item(rules):
    rnd = random.Random(13)
    terms = sorted({t for r in rules.rules for g in ([r.any] if r.any else []) + list(r.all) for t in g.terms})
    terms += ["劳力士 手表", "飞天茅台", "适用于iPhone", "lv老花"]
    items = [random_listing(rnd, n, terms) for n in range(3 * BATCH + 7)]
    assert assert_same(rules, items) > 100
    assert_same(rules, normalised(items))


def test_results_keep_the_order_of_mixed_kinds(rules, corpus):
    rnd = random.Random(5)
    items = corpus[:]
    rnd.shuffle(items)
    batched = rules.match_many(items)
    assert [[f.subject_id for f in fs] for fs in batched] == [[it.subject_id] * len(fs)
                                                              for it, fs in zip(items, batched, strict=True)]
    assert [key(fs) for fs in batched] == [key(rules.match(it)) for it in items]


def test_explain_jsonl_is_explain_item_line_by_line(rules, corpus):
    """`rules explain --jsonl` (batched, in chunks) writes for each line what `explain_item` finds for it
    alone; refused lines keep their place."""
    import io
    import json

    from pipelines.match import explain_item
    from pipelines.match.commands import EXPLAIN_CHUNK, explain_lines

    cases = load_cases()
    assert len(cases) > EXPLAIN_CHUNK  # more than one chunk
    keys = ("kind", "id", "title", "description", "promo", "service", "category", "price_text",
            "original_price_text", "name", "license_text", "license_number", "food_license", "notices")
    rows = [{k: c[k] for k in keys if k in c} for c in cases]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(7, "not json")
    lines.insert(600, json.dumps({"kind": "boat", "title": "x"}))
    out = io.StringIO()
    done, failed = explain_lines(rules, lines, out)
    assert (done, failed) == (len(rows), 2)
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["line"] for r in results] == list(range(1, len(lines) + 1))
    assert "error" in results[7] and "error" in results[600]
    got = [r for r in results if "error" not in r]
    n = 0
    for row, res in zip(rows, got, strict=True):
        want = [f.to_dict() for f in explain_item(rules, row)]
        for f in want + res["findings"]:
            f.pop("found_at")
        assert res["findings"] == want, row
        n += len(want)
    assert n > 500


def test_normalising_many_items_is_normalising_each(corpus):
    rnd = random.Random(3)
    items = corpus + [random_listing(rnd, n, ["高仿", "最佳"]) for n in range(300)]
    each = normalised(items)
    many = copy.deepcopy(items)
    NormalizePipeline(tokens=False).process_many(many)
    assert [(it.norm, getattr(it, "price", None), getattr(it, "original_price", None)) for it in many] == [
        (it.norm, getattr(it, "price", None), getattr(it, "original_price", None)) for it in each]
