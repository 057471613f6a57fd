"""De-obfuscation beyond separators: look-alike letters, digit tricks, pinyin and initials; price numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from crawler.items import ListingItem
from pipelines.match import RuleSet
from pipelines.match.variants import NOTE_DIGITS, NOTE_INITIALS, NOTE_PINYIN, lookalike_variants, pinyin_variants
from pipelines.normalize import NOTE_HOMOGLYPH, normalize_text, normalize_with_notes


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load()


def listing(title: str, **kw) -> ListingItem:
    return ListingItem(site="t", listing_id="L1", title=title, **kw)


def by_rule(findings):
    return {f.rule_id: f for f in findings}


# ------------------------------------------------------------------ look-alike letters and dingbat digits


@pytest.mark.parametrize("raw, norm", [
    ("Guссi 酒神包", "gucci 酒神包"),  # Cyrillic с
    ("ΝΙΚΕ 空军一号", "nike 空军一号"),  # Greek capitals
    ("Chanеl 链条包", "chanel 链条包"),  # Cyrillic е
    ("1∶1复刻 ❶号色 ➁", "1:1复刻 1号色 2"),
])
def test_look_alikes_are_folded(raw, norm):
    text, notes = normalize_with_notes(raw)
    assert text == norm and NOTE_HOMOGLYPH in notes


@pytest.mark.parametrize("text", ["β-胡萝卜素 软胶囊", "α-亚麻酸", "Россия 套娃", "ω-3 鱼油"])
def test_greek_and_cyrillic_words_of_their_own_stay(text):
    assert normalize_text(text) == text.lower()


def test_cyrillic_brand_fires_and_says_why(rules):
    f = by_rule(rules.match(listing("Guссi 酒神包 高仿 专柜品质")))["cf.replica-with-brand"]
    assert "gucci" in f.matched and NOTE_HOMOGLYPH in f.deobfuscated


# ------------------------------------------------------------------ digits for letters


@pytest.mark.parametrize("title, brand", [("N1KE 空军一号 高仿", "nike"), ("ch4nel 菱格包 A货", "chanel"),
                                          ("R0LEX 绿水鬼 超A", "rolex"), ("guCC1 皮带 1:1复刻", "gucci")])
def test_digit_tricks_in_brand_words(rules, title, brand):
    f = by_rule(rules.match(listing(title)))["cf.replica-with-brand"]
    assert any(n.startswith(NOTE_DIGITS) and n.endswith(f"→{brand}") for n in f.deobfuscated), f.deobfuscated


@pytest.mark.parametrize("title", ["iPhone15 Pro 高仿手机壳 图案", "罗技 G502 鼠标 A货", "ThinkPad X1 高仿贴纸",
                                   "1v1 辅导 高仿真模型"])
def test_model_numbers_are_not_brands(rules, title):
    assert "cf.replica-with-brand" not in by_rule(rules.match(listing(title)))


# ------------------------------------------------------------------ an l for an i (NlKE, Adldas, DJl, LOUlS VUITTON)


@pytest.mark.parametrize("title, brand", [("NlKE 空军一号 高仿", "nike"), ("Adldas 椰子 A货", "adidas"),
                                          ("DJl 无人机 高仿", "dji"), ("LOUlS VUITTON 老花 高仿", "louis vuitton"),
                                          ("KlEHL'S 高保湿霜 高仿", "kiehl's"), ("OFF-WHlTE 卫衣 高仿", "off-white")])
def test_an_l_for_an_i_in_brand_words(rules, title, brand):
    f = by_rule(rules.match(listing(title)))["cf.replica-with-brand"]
    assert any(n.startswith(NOTE_DIGITS) and n.endswith(f"→{brand}") for n in f.deobfuscated), f.deobfuscated


def test_lookalike_spellings_of_several_words():
    assert {v.text for v in lookalike_variants("louis vuitton")} == {"louls vuitton", "louis vultton", "louls vultton"}
    assert lookalike_variants("nike") == [] and lookalike_variants("lv") == []  # single words: by skeleton


@pytest.mark.parametrize("title", ["ISD 国际长途 转接头 高仿真", "Nike 官方旗舰店 空军一号", "Apple 原装 数据线 1m",
                                   "lily 毛绒 玩偶 高仿真"])
def test_ordinary_words_are_not_tricks(rules, title):
    findings = rules.match(listing(title))
    assert not any(n.startswith(NOTE_DIGITS) for f in findings for n in f.deobfuscated), findings
    assert "pro.controlled-drugs" not in by_rule(findings)  # isd is not lsd


# ------------------------------------------------------------------ pinyin and initials


def test_pinyin_variants_of_a_term():
    texts = {(v.text, v.how) for v in pinyin_variants("高仿", "both")}
    assert texts == {("gaofang", "pinyin"), ("gao fang", "pinyin"), ("gf", "initials"),
                     ("gao仿", "pinyin"), ("高fang", "pinyin")}  # and pinyin mixed with hanzi
    assert {v.text for v in pinyin_variants("a货", "both")} == {"ahuo", "a huo"}  # mixed: no initials
    assert pinyin_variants("1:1", "both") == [] and pinyin_variants("高仿", "") == []
    assert {v.text for v in pinyin_variants("精仿", "initials")} == {"jf"}
    mixed = {v.text for v in pinyin_variants("顶级复刻", "full")} - {"dingjifuke", "ding ji fu ke"}
    assert len(mixed) == 14 and {"ding级复刻", "顶级fuke", "dingji复ke"} <= mixed  # every mix of 4 characters
    mixed = {v.text for v in pinyin_variants("跟正品一样", "full")} - {"genzhengpinyiyang", "gen zheng pin yi yang"}
    # longer terms: one character at a time
    assert mixed == {"gen正品一样", "跟zheng品一样", "跟正pin一样", "跟正品yi样", "跟正品一yang"}


def test_toned_pinyin_loses_its_tones(rules):
    assert normalize_text("Gāo Fǎng 路易威登 nǚ款") == "gao fang 路易威登 nv款"
    assert "cf.replica-with-brand" in by_rule(rules.match(listing("gāo fǎng LV 老花包")))


def test_pinyin_and_initials_are_whole_latin_words_and_reported(rules):
    found = by_rule(rules.match(listing("LV 老花包 gaofang 顶级")))
    f = found["cf.replica-with-brand"]
    assert f.matched[1] == "gaofang" and f"{NOTE_PINYIN}: gaofang→高仿" in f.deobfuscated
    f = by_rule(rules.match(listing("Gucci 酒神包 GF 原厂皮")))["cf.replica-with-brand"]
    assert f"{NOTE_INITIALS}: gf→高仿" in f.deobfuscated
    assert "cf.replica-with-brand" not in by_rule(rules.match(listing("Gucci 酒神包 gfx 显卡贴纸")))
    # initials are not opted in for the rule that fires on slang alone
    assert "cf.replica-terms" not in by_rule(rules.match(listing("GF 男友礼物 钢带手表")))


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "p.yml").write_text(textwrap.dedent(body), encoding="utf-8")
    return tmp_path


def test_pinyin_is_opt_in_per_group(tmp_path):
    rs = RuleSet.load(write(tmp_path, """\
        pack: p
        version: "1"
        rules:
          - {id: with, title: t, category: 其他, severity: low, basis: b, applies_to: listing,
             any: {terms: [迷药], pinyin: full}}
          - {id: without, title: t, category: 其他, severity: low, basis: b, applies_to: listing, any: [迷药]}
          - {id: near, title: t, category: 其他, severity: low, basis: b, applies_to: listing,
             near: {a: [品牌], b: {terms: [尾单], pinyin: initials}, within: 5}}
        """))
    assert [f.rule_id for f in rs.match(listing("miyao 无色无味"))] == ["with"]
    assert [f.rule_id for f in rs.match(listing("品牌 wd 清仓"))] == ["near"]


# ------------------------------------------------------------------ reference prices and price history


def test_reference_price_rules(rules):
    f = by_rule(rules.match(listing("劳力士 绿水鬼 机械表", price=1280.0)))["cf.price-far-below-reference"]
    assert f.field == "price_text" and "劳力士" in f.matched and "品牌参考价" in f.snippet
    assert "reference_prices.yml" in f.snippet
    assert not rules.match(listing("适用于劳力士 表带 钢带", price=59.0))  # accessory: excluded
    assert not rules.match(listing("劳力士 绿水鬼 机械表", price=68000.0))
    g = by_rule(rules.match(listing("戴森 吹风机", price=2299.0, original_price=29999.0)))
    assert "price.original-above-reference" in g


def test_history_numbers_feed_when(tmp_path):
    """Names the price-history helper adds to WHEN_NAMES are read from item.history."""
    from pipelines.match import when as rules_model

    rules_model.WHEN_NAMES.setdefault("prev_price", "上次扫描的现价")
    rs = RuleSet.load(write(tmp_path, """\
        pack: p
        version: "1"
        rules:
          - {id: jump, title: t, category: 不正当价格行为, severity: low, basis: b, applies_to: listing,
             when: "price >= 1.5 * prev_price"}
        """))
    assert [f.rule_id for f in rs.match(listing("电饭煲", price=599.0, history={"prev_price": 399.0}))] == ["jump"]
    assert rs.match(listing("电饭煲", price=599.0)) == []  # no history: never true
    f = rs.match(listing("电饭煲", price=599.0, history={"prev_price": 399.0}))[0]
    assert "prev_price=399" in f.snippet


# ------------------------------------------------------------------ a brand written in disguise (cf.disguised-brand)


@pytest.mark.parametrize("title, note", [("NlKE 空军一号 男鞋", NOTE_DIGITS), ("Guссi 酒神包 女", NOTE_HOMOGLYPH),
                                         ("ch4nel 链条包 小号", NOTE_DIGITS), ("香*奈*儿 五号香水", "去除分隔符"),
                                         ("Ad\u200bidas 卫衣", "去除零宽字符")])
def test_a_brand_written_in_disguise_is_a_lead_on_its_own(rules, title, note):
    items = [listing(title)]
    f = by_rule(rules.match(items[0])).get("cf.disguised-brand")
    assert f is not None and any(n.startswith(note) for n in f.deobfuscated), f
    assert [x.rule_id for x in rules.match_many(items)[0]] == [x.rule_id for x in rules.match(items[0])]


@pytest.mark.parametrize("title", ["Nike 空军一号 男鞋", "ＮＩＫＥ 运动袜 全角", "香奈兒 五號香水 專櫃",
                                   "苹果 手表 表带 适用", "LOUIS VUITTON 官方 钱包", "iPhone15 手机壳"])
def test_a_brand_written_plainly_is_not(rules, title):
    assert "cf.disguised-brand" not in by_rule(rules.match(listing(title)))
