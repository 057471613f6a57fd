"""The engine's fast paths give exactly what the plain way gives (issue 3, speed).

Each fast path is compared with the reference it replaces on seeded random input: the quick
normalisation path with the step-by-step one, fields normalised together with one by one,
plain prices with price-parser, the digit-trick scan with a whole-word regex, ``when:``
closures with simpleeval, reference prices from the engine's scan with the table's own
lookup. No timings here: ``python -m bench bench_match`` measures the speed.
"""

from __future__ import annotations

import random
import re

import pytest
from simpleeval import SimpleEval

from crawler.items import ListingItem
from pipelines import normalize as N
from pipelines.match import RuleSet
from pipelines.match.context import ItemText
from pipelines.match.variants import SKELETON, DigitTricks
from pipelines.match.when import WHEN_FUNCTIONS, compile_when
from pipelines.normalize import prices as NP
from pipelines.normalize import text as NT
from pipelines.normalize.homoglyphs import LETTERS, SYMBOLS


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load()


def char_pool(rnd: random.Random) -> list[str]:
    """Characters every normalisation step cares about, and ordinary ones."""
    t2s = NT._load_t2s()
    pool = [chr(c) for c in range(0xFF01, 0xFF5F)]  # full-width ASCII
    pool += list("，。、！？；：（）【】《》“”‘’…—　①⑴㎡™ﬁⅫ\u00a0\u2002\t\n\r\x0b\x1c\x85\u2028")
    pool += list(NT.ZERO_WIDTH) + sorted(LETTERS) + sorted(SYMBOLS)
    pool += rnd.sample(sorted(c for c in t2s.chars if c < "\U00010000"), 200) + sorted(t2s.astral)[:20]
    pool += ["\u0301", "\u0308", "\u1100", "\u1161", "\u11a8", "\u3099", "か", "가", "İ", "Σ", "ς", "ǅ", "ß"]
    pool += ["😀", "🔥", "\ufe0f", "𝐀", "𝟙", "\U0002f800", "𠀀", "\U00010400", "\U0001e900", "\U00050000", "\x00"]
    pool += [chr(c) for c in range(0x20, 0x7F)] * 2
    pool += [chr(rnd.randrange(0x4E00, 0x9FA5)) for _ in range(400)]
    return pool


def random_text(rnd: random.Random, pool: list[str]) -> str:
    cjk = rnd.choice([0.0, 0.5, 0.9])
    return "".join(chr(rnd.randrange(0x4E00, 0x9FA5)) if rnd.random() < cjk else rnd.choice(pool)
                   for _ in range(rnd.choice([1, 2, 5, 12, 40, 150])))


def test_quick_normalisation_is_the_step_by_step_one():
    rnd = random.Random(1)
    pool = char_pool(rnd)
    for _ in range(6000):
        s = random_text(rnd, pool)
        assert N.normalize_with_notes(s) == NT._normalize_steps(s), repr(s)


@pytest.mark.parametrize("text", ["ＮＩＫＥ Ａ货　１２３，", "高\u200b倣", "e\u0301好", "好😀🔥", "𝐀货", "ΣΑΣ 包",
                                  "  前后\n ", "\U00010400x", "1∶1复刻 ❶号"])
def test_quick_normalisation_on_chosen_texts(text):
    assert N.normalize_with_notes(text) == NT._normalize_steps(text)


def test_fields_normalised_together_are_normalised_one_by_one():
    rnd = random.Random(2)
    pool = char_pool(rnd)
    for _ in range(3000):
        texts = [random_text(rnd, pool) if rnd.random() < 0.7 else rnd.choice(["", " ", "¥99.00"])
                 for _ in range(rnd.randint(1, 8))]
        assert N.normalize_many(texts) == [NT._normalize_steps(t)[0] if t else "" for t in texts], texts


def test_the_whitespace_class_is_what_str_isspace_calls_whitespace():
    cls = re.compile(f"[{NT.WHITESPACE}]")
    chars = [chr(i) for i in range(0x10000) if not 0xD800 <= i < 0xE000] + ["😀", "\U00050000"]
    assert [c for c in chars if cls.match(c)] == [c for c in chars if c.isspace()]


def test_separators_stripped_together_are_stripped_one_by_one():
    rnd = random.Random(3)
    pool = [*"高仿手表包 -*·★/|\x00", "😀", "a", "1"]
    for _ in range(2000):
        norms = ["".join(rnd.choice(pool) for _ in range(rnd.randint(0, 12))) for _ in range(rnd.randint(1, 6))]
        joined, texts = N.strip_joined(norms)
        assert texts == [N.strip_separators(n).text for n in norms]
        assert joined == "\x00".join(texts)


def test_plain_prices_read_as_price_parser_reads_them():
    rnd = random.Random(4)
    texts = [f"{sym}{a}" for sym in "¥￥" for a in ("0", "0.5", "99", "99.9", "1,299", "1,299.00", "12,345,678.9")]
    for _ in range(3000):
        body = "".join(rnd.choice("0123456789,.") for _ in range(rnd.randint(1, 10)))
        texts.append(rnd.choice("¥￥") + body)
    plain = [t for t in texts if NP._PLAIN_PRICE_RE.fullmatch(t)]
    assert len(plain) > 500
    for t in texts:
        assert N.parse_price(t) == NP._price_parser(t), t


def test_caches_change_no_result_and_stay_bounded():
    texts = [f"服务{i} 七天无理由退货　ＯＫ" for i in range(NT.CACHE_SIZE + 10)]
    first = [N.normalize_text(t) for t in texts]
    assert len(NT._norm_cache) <= NT.CACHE_SIZE
    N.clear_caches()
    assert [N.normalize_text(t) for t in texts] == first == [NT._normalize_steps(t)[0] for t in texts]


MIXED_WORD = re.compile(r"(?<![a-z0-9])(?=[a-z0-9]*(?:[a-z][013457]|[013457][a-z]))[a-z0-9]+(?![a-z0-9])")


def test_digit_tricks_find_the_mixed_words_a_word_regex_finds():
    tricks = DigitTricks(["nike", "gucci", "rolex", "chanel", "lv", "aaa", "iphone"])

    def reference(text: str) -> list[tuple[int, int, int]]:
        out = []
        for m in MIXED_WORD.finditer(text):
            i = tricks._table.get(m.group().translate(SKELETON))
            if i is not None and sum(c.isalpha() for c in m.group()) >= 2:
                out.append((i, m.start(), m.end()))
        return out

    rnd = random.Random(5)
    alphabet = "nikegucrolexcha0134579 高仿\x00-"
    words = ["n1ke", "g0cci", "r0lex", "ch4nel", "444", "a4a", "iphone15", "1v"]
    found = 0
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) if rnd.random() < 0.8 else rnd.choice(words)
                       for _ in range(rnd.randint(0, 12)))
        assert tricks.scan(text) == reference(text), text
        found += len(reference(text))
    assert found > 500


def random_expression(rnd: random.Random, depth: int = 0) -> str:
    names = ["price", "original_price", "ratio", "reference_price", "max_price_7d"]
    r = rnd.random()
    if depth > 3 or r < 0.3:
        return rnd.choice([*names, "0", "1", "2.5", "-3", "0.25", "True", "1e308", "5000000"])
    sub = lambda: random_expression(rnd, depth + 1)  # noqa: E731
    if r < 0.5:
        return f"({sub()} {rnd.choice(['+', '-', '*', '/', '//', '%', '**'])} {sub()})"
    if r < 0.65:
        return f"({sub()} {rnd.choice(['<', '<=', '>', '>=', '==', '!='])} {sub()} {rnd.choice(['<', '>='])} {sub()})"
    if r < 0.8:
        return f"({sub()} {rnd.choice(['and', 'or'])} {sub()})"
    if r < 0.9:
        return f"({rnd.choice(['not ', '-', '+'])}({sub()}))"
    return f"{rnd.choice(['min', 'max'])}({sub()}, {sub()})" if rnd.random() < 0.7 else f"abs({sub()})"


def outcome(fn, *args, **kw) -> tuple:
    try:
        return ("value", bool(fn(*args, **kw)))
    except Exception as exc:  # the engine turns every error into "false"
        return ("error", type(exc).__name__)


def test_when_closures_do_what_simpleeval_does():
    rnd = random.Random(6)
    evaluator = SimpleEval(names={}, functions=dict(WHEN_FUNCTIONS))
    errors = 0
    for _ in range(4000):
        expr = random_expression(rnd)
        parsed = SimpleEval.parse(expr)
        closure = compile_when(parsed)
        assert closure is not None, expr
        for _ in range(3):
            values = {k: rnd.choice([0.0, 1.0, -2.0, 99.9, 1e300, float(rnd.randint(-5, 500))])
                      for k in ("price", "original_price", "ratio", "reference_price", "max_price_7d")}
            evaluator.names = values
            want = outcome(evaluator.eval, expr, previously_parsed=parsed)
            assert outcome(closure, values) == want, (expr, values)
            errors += want[0] == "error"
    assert errors > 100  # division by zero, overflow, too large powers are covered


def test_when_with_other_constants_is_left_to_simpleeval():
    assert compile_when(SimpleEval.parse("price > 'a'")) is None
    assert compile_when(SimpleEval.parse("price > 2 * min")) is None


def test_reference_prices_from_the_engine_scan_match_the_table_lookup(rules):
    table = rules.references
    assert table is not None
    words = sorted(table.roles)
    rnd = random.Random(7)
    matched = 0
    for i in range(600):
        parts = [rnd.choice(words) if rnd.random() < 0.4 else rnd.choice(["正品", "包邮", "ab", "2024新款"])
                 for _ in range(rnd.randint(0, 3))]
        if rnd.random() < 0.7:  # a brand and one of its products
            ref = rnd.choice(table.refs)
            parts += [rnd.choice(ref.brand), rnd.choice(ref.product)]
        rnd.shuffle(parts)
        title = rnd.choice([" ", "", "*"]).join(parts)
        item = ListingItem(site="t", listing_id=str(i), title=title, description=rnd.choice(["", title]))
        ctx = ItemText(item, table)
        rules._scan("listing", ctx)
        assert ctx.reference_hits is not None
        want = table.lookup(N.strip_separators(N.normalize_text(title)).text)
        assert ctx.reference() == want, title
        matched += want is not None
    assert matched > 50


def test_rules_whose_positive_groups_did_not_all_hit_are_rejected_early(rules):
    # 正品 is only an allow-word of some rules, 高仿 a term of others: evaluation must not change
    for title in ("正品保证 支持验货", "高仿 正品", "官方正品 高仿包包 LV"):
        item = ListingItem(site="t", listing_id="1", title=title)
        ctx = ItemText(item, rules.references)
        hits = rules._scan("listing", ctx)
        for ridx, rule_hits in hits.items():
            groups = {h[0] for h in rule_hits}
            if not rules._required[ridx] <= groups:
                assert rules._evaluate(ridx, rule_hits, ctx) is None
