"""The rule engine: loading (with errors naming file and line), matching semantics, evidence."""

from __future__ import annotations

import copy
import re
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from crawler.items import CATEGORIES, ListingItem, ShopItem, finding_id
from pipelines.match import (
    DuplicateRuleError,
    MatchPipeline,
    RuleExpressionError,
    RuleListError,
    RuleSchemaError,
    RuleSet,
    RuleSyntaxError,
    RuleValueError,
    default_rules_dir,
)
from pipelines.normalize import NOTE_NFKC, NOTE_SEPARATORS, NOTE_T2S, NOTE_ZERO_WIDTH, NormalizePipeline


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load()


def listing(title: str = "", **kw) -> ListingItem:
    kw.setdefault("site", "demo")
    kw.setdefault("listing_id", "L1")
    kw.setdefault("shop_id", "S1")
    kw.setdefault("url", "http://127.0.0.1/item/L1.html")
    kw.setdefault("sweep_id", "sweep-1")
    kw.setdefault("html_sha256", "ab" * 32)
    return ListingItem(title=title, **kw)


def shop(**kw) -> ShopItem:
    kw.setdefault("site", "demo")
    kw.setdefault("shop_id", "S1")
    kw.setdefault("url", "http://127.0.0.1/shop/S1/")
    return ShopItem(**kw)


def by_rule(findings):
    return {f.rule_id: f for f in findings}


def write_pack(tmp_path: Path, body: str, name: str = "pack.yml", lists: dict[str, str] | None = None) -> Path:
    (tmp_path / name).write_text(textwrap.dedent(body), encoding="utf-8")
    for fname, content in (lists or {}).items():
        (tmp_path / "lists").mkdir(exist_ok=True)
        (tmp_path / "lists" / fname).write_text(content, encoding="utf-8")
    return tmp_path


RULE_HEAD = """\
pack: t
version: "9.9"
rules:
  - id: t.one
    title: 测试
    category: 其他
    severity: low
    basis: 测试依据
    applies_to: listing
"""


# ------------------------------------------------------------------ the shipped packs


def test_shipped_packs_load_and_cover_most_categories(rules):
    assert not rules.errors
    assert len(rules.packs) >= 6
    covered = {r.category for r in rules.rules}
    assert covered <= set(CATEGORIES)
    assert len(covered) >= 11, sorted(set(CATEGORIES) - covered)


def test_default_rules_dir_and_env_override(monkeypatch, tmp_path):
    assert default_rules_dir() == Path(__file__).resolve().parents[1] / "rules"
    write_pack(tmp_path, RULE_HEAD + "    any: [独角兽]\n")
    monkeypatch.setenv("NETSWORD_RULES_DIR", str(tmp_path))
    rs = RuleSet.load()
    assert [r.id for r in rs.rules] == ["t.one"]


# ------------------------------------------------------------------ obfuscation


@pytest.mark.parametrize(
    ("title", "note"),
    [
        ("高 仿 手表 机械表", NOTE_SEPARATORS),
        ("高*仿 手表 机械表", NOTE_SEPARATORS),
        ("高-仿手表", NOTE_SEPARATORS),
        ("高.仿手表", NOTE_SEPARATORS),
        ("高\u200b仿 手表", NOTE_ZERO_WIDTH),
        ("高倣 手錶", NOTE_T2S),
        ("Ａ货 包包", NOTE_NFKC),
    ],
)
def test_obfuscated_terms_still_fire_and_report_it(rules, title, note):
    f = by_rule(rules.match(listing(title)))["cf.replica-terms"]
    assert any(n.startswith(note) for n in f.deobfuscated), f.deobfuscated
    assert f.field == "title"
    assert "【" in f.snippet and "】" in f.snippet


def test_separator_hit_reports_the_text_as_written(rules):
    f = by_rule(rules.match(listing("超值 高*仿 手表")))["cf.replica-terms"]
    assert f.matched == ["高*仿"]
    assert f.deobfuscated == [f"{NOTE_SEPARATORS}: 高*仿→高仿"]
    assert f.snippet == "超值 【高*仿】 手表"
    assert item_norm_slice(f, "超值 高*仿 手表") == "高*仿"


def item_norm_slice(f, norm_text):
    return norm_text[f.start:f.end]


def test_traditional_brand_and_replica_fire_together(rules):
    found = by_rule(rules.match(listing("經典款 路易威登 高倣手袋")))
    f = found["cf.replica-with-brand"]
    assert set(f.matched) == {"路易威登", "高仿"}
    assert NOTE_T2S in f.deobfuscated


# ------------------------------------------------------------------ unless, words, latin boundaries


@pytest.mark.parametrize(
    "title",
    ["最近上新的连衣裙", "国家级非物质文化遗产 宣纸", "象牙白色连衣裙", "猛犸象牙雕件", "高仿真绿植 仿真花",
     "最佳赏味期30天"],
)
def test_unless_contexts_do_not_fire(rules, title):
    assert rules.match(listing(title)) == []


def test_unless_only_covers_the_hit_inside_it(rules):
    # 象牙白 is a colour, but a second, real 象牙 elsewhere still fires
    f = by_rule(rules.match(listing("象牙白礼盒 内含老象牙手镯")))["pro.wildlife"]
    assert f.matched == ["老象牙"]
    assert f.snippet == "象牙白礼盒 内含【老象牙】手镯"


def test_unless_within_distance(tmp_path):
    write_pack(tmp_path, RULE_HEAD + """\
    any: [不退不换]
    unless: {terms: [定制], within: 5}
""")
    rs = RuleSet.load(tmp_path)
    assert rs.match(listing("定制商品 不退不换")) == []
    assert len(rs.match(listing("定制商品另有说明。本店所有普通服装 不退不换"))) == 1


def test_words_must_be_whole_jieba_words(rules):
    assert "ad.absolute-terms" in by_rule(rules.match(listing("全网最佳口感")))
    assert "ad.absolute-terms" not in by_rule(rules.match(listing("最佳化方案 设计")))


def test_latin_terms_match_whole_latin_words_only(tmp_path):
    write_pack(tmp_path, RULE_HEAD + "    any: [lv, '1:1']\n")
    rs = RuleSet.load(tmp_path)
    assert rs.match(listing("LV包")) and rs.match(listing("经典 lv 老花")) and rs.match(listing("1:1还原"))
    assert not rs.match(listing("silver 手链")) and not rs.match(listing("1:18 车模"))


# ------------------------------------------------------------------ conditions


def test_near_within_distance(tmp_path):
    write_pack(tmp_path, RULE_HEAD + """\
    near: {a: [耐克], b: [高仿], within: 3}
""")
    rs = RuleSet.load(tmp_path)
    f = rs.match(listing("耐克 高仿 鞋"))[0]
    assert f.matched == ["耐克", "高仿"] and f.snippet == "【耐克 高仿】 鞋"
    assert rs.match(listing("高仿鞋 这是一段很长的描述 耐克")) == []


def test_near_title_pairs_the_title_with_a_claim_in_another_field(tmp_path):
    """The goods are named in the title, the claim is made in the description: with ``title: true`` that
    pair counts (the evidence shows the claim); without it, and between two fields that are not the title, not."""
    write_pack(tmp_path, RULE_HEAD + """\
    near: {a: [年卡, 储值卡], b: [过期作废, 概不退款], within: 6, title: true}
""")
    rs = RuleSet.load(tmp_path)
    f = rs.match(listing("游泳馆 年卡 限时办理", description="办理后概不退款"))[0]
    assert f.field == "description" and f.matched == ["概不退款", "年卡"] and "【概不退款】" in f.snippet
    batched = rs.match_many([listing("游泳馆 年卡 限时办理", description="办理后概不退款")])[0][0]
    assert (batched.field, batched.matched, batched.snippet) == (f.field, f.matched, f.snippet)
    # a pair in one field is preferred over a pair across fields
    f = rs.match(listing("年卡", description="储值卡 过期作废"))[0]
    assert f.field == "description" and f.matched == ["储值卡", "过期作废"]
    # neither hit in the title: the fields must be the same
    assert rs.match(listing("游泳馆", description="年卡 限时办理", promo="办理后概不退款")) == []
    write_pack(tmp_path, RULE_HEAD + """\
    near: {a: [年卡, 储值卡], b: [过期作废, 概不退款], within: 6}
""")
    assert RuleSet.load(tmp_path).match(listing("游泳馆 年卡 限时办理", description="办理后概不退款")) == []


def test_near_title_needs_the_title_among_the_fields(tmp_path):
    write_pack(tmp_path, RULE_HEAD + """\
    fields: [description]
    near: {a: [年卡], b: [概不退款], within: 6, title: true}
""")
    with pytest.raises(RuleValueError) as err:
        RuleSet.load(tmp_path)
    assert "near.title" in str(err.value) and "pack.yml" in str(err.value)


BOTH_KINDS = RULE_HEAD.replace("applies_to: listing", "applies_to: [listing, shop]")


def test_a_rule_for_listings_and_shops_fires_on_both_with_the_fields_of_each(tmp_path):
    """``applies_to: [listing, shop]``: one rule, one id, for the listing's and the shop's texts; each kind reads
    the given fields it has (title for listings, name and notices for shops)."""
    write_pack(tmp_path, BOTH_KINDS + """\
    fields: [title, description, name, notices]
    any: [一比一复刻]
    tests:
      match: ["一比一复刻 名表", {notices: "本店一比一复刻"}]
      no_match: ["正品名表", {name: "正品表行"}]
""")
    rs = RuleSet.load(tmp_path)
    assert [(r.id, r.applies_to, r.fields) for r in rs.rules] == [
        ("t.one", "listing", ("title", "description")), ("t.one", "shop", ("description", "name", "notices"))]
    on_listing = rs.match(listing("一比一复刻 名表"))
    on_shop = rs.match(shop(name="表行", notices="本店 一比一复刻 手表"))
    assert [(f.rule_id, f.subject_kind, f.field) for f in on_listing + on_shop] == [
        ("t.one", "listing", "title"), ("t.one", "shop", "notices")]
    assert rs.match(shop(name="表行", service="一比一复刻")) == []  # service is not among the fields
    assert rs.match_many([shop(name="一比一复刻表行")])[0][0].field == "name"
    # choosing the rule by id chooses it for both kinds
    assert rs.match(shop(notices="一比一复刻"), only={"t.one"}) and rs.match(listing("一比一复刻"), only={"t.one"})
    # a text example is the first kind's, a mapping the kind whose fields it names
    assert [(r.applies_to, [e.expected for e in r.examples]) for r in rs.rules] == [
        ("listing", [True, False]), ("shop", [True, False])]
    assert all(res.ok for res in rs.run_examples())


@pytest.mark.parametrize(("extra", "says"), [
    ("    fields: [title, promo]\n    any: [x]\n", "fields name no shop field"),
    ("    check: license_missing\n", "applies to shop only"),
    ("    any: [x]\n    tests:\n      match: [{title: a, notices: b}]\n", "mixes listing and shop fields"),
])
def test_a_rule_for_both_kinds_is_refused_where_one_kind_cannot_take_it(tmp_path, extra, says):
    err = load_error(tmp_path, BOTH_KINDS + extra)
    assert isinstance(err, RuleValueError) and says in str(err) and "pack.yml" in str(err)


def test_applies_to_lists_each_kind_once(tmp_path):
    err = load_error(tmp_path, RULE_HEAD.replace("applies_to: listing", "applies_to: [listing, listing]")
                     + "    any: [x]\n")
    assert isinstance(err, RuleValueError) and "twice" in str(err) and err.line == 9
    err = load_error(tmp_path, RULE_HEAD.replace("applies_to: listing", "applies_to: [listing, shops]")
                     + "    any: [x]\n")
    assert isinstance(err, RuleValueError) and "shop" in err.hint


def test_all_groups_may_hit_in_different_fields(tmp_path):
    write_pack(tmp_path, RULE_HEAD + """\
    all: [[处方药], [直接发货, 无需处方]]
""")
    rs = RuleSet.load(tmp_path)
    f = rs.match(listing("处方药 某某片", description="无需处方 直接发货"))[0]
    assert f.field == "title" and f.matched == ["处方药", "无需处方"]
    assert rs.match(listing("处方药 某某片")) == []


def test_scope_unless_a_food_word_inside_a_colour_is_no_food(tmp_path):
    """scope.unless: 咖啡 inside 咖啡色 does not make a jumper food; coffee beans still are."""
    write_pack(tmp_path, RULE_HEAD + """\
    scope: {terms: [咖啡, 奶茶], unless: [咖啡色, 奶茶色]}
    any: [家庭作坊]
""")
    rs = RuleSet.load(tmp_path)
    assert rs.match(listing("咖啡色毛衣", description="家庭作坊 手工编织")) == []
    assert rs.match(listing("奶茶色围巾 家庭作坊")) == []
    assert [f.rule_id for f in rs.match(listing("现烘咖啡豆", description="家庭作坊 散装"))] == ["t.one"]
    # the colour and the food in one listing: the food puts it in scope
    assert [f.rule_id for f in rs.match(listing("咖啡色礼盒 奶茶粉", description="家庭作坊"))] == ["t.one"]
    items = [listing("咖啡色毛衣", description="家庭作坊"), listing("现烘咖啡豆", description="家庭作坊")]
    assert [[f.rule_id for f in found] for found in rs.match_many(items)] == [[], ["t.one"]]


def test_scope_unless_needs_scope_terms(tmp_path):
    write_pack(tmp_path, RULE_HEAD + """\
    scope: {category_in: [食品], unless: [咖啡色]}
    any: [家庭作坊]
""")
    with pytest.raises(RuleSchemaError) as err:
        RuleSet.load(tmp_path)
    assert "scope.unless" in str(err.value)


def test_none_blocks_the_rule(rules):
    assert "pro.rx-without-prescription" in by_rule(rules.match(listing("处方药 某某片 无需处方 直接发货")))
    blocked = listing("处方药 某某片 直接发货", service="请凭处方购买，药师审核后发货")
    assert "pro.rx-without-prescription" not in by_rule(rules.match(blocked))


def test_scope_category_in(rules):
    text = "黄芪茶 降血压 药到病除"
    assert "ad.food-disease-claims" in by_rule(rules.match(listing(text, category="食品保健")))
    assert "ad.food-disease-claims" not in by_rule(rules.match(listing(text, category="服装")))


def test_when_price_predicate(rules):
    hit = by_rule(rules.match(listing("羽绒服", price_text="¥99.00", original_price_text="¥1,999.00")))
    f = hit["price.inflated-reference"]
    assert f.field == "original_price_text" and f.matched == ["¥99.00", "¥1,999.00"]
    assert "20.2" in f.snippet
    assert "price.inflated-reference" not in by_rule(rules.match(listing("羽绒服", price_text="¥99")))
    assert "price.inflated-reference" not in by_rule(rules.match(listing("羽绒服", price=99.0, original_price=199.0)))
    labelled = listing("羽绒服", price=99.0, original_price=1999.0, original_price_text="厂商建议零售价¥1999")
    assert "price.inflated-reference" not in by_rule(rules.match(labelled))


def test_regex_condition(tmp_path):
    write_pack(tmp_path, RULE_HEAD + "    regex: ['原价\\d{4,}']\n")
    rs = RuleSet.load(tmp_path)
    assert rs.match(listing("原价9999 现价99"))[0].matched == ["原价9999"]
    assert rs.match(listing("原价99")) == []


def test_test_status_rules_run_only_when_asked(tmp_path):
    write_pack(tmp_path, RULE_HEAD + "    status: test\n    any: [独角兽]\n")
    assert RuleSet.load(tmp_path).match(listing("独角兽")) == []
    assert len(RuleSet.load(tmp_path, include_test=True).match(listing("独角兽"))) == 1
    assert len(RuleSet.load(tmp_path).explain("独角兽")) == 1


# ------------------------------------------------------------------ findings


def test_finding_carries_rule_subject_and_evidence(rules):
    item = listing("全网最佳口感 国家级工艺")
    f = by_rule(rules.match(item))["ad.absolute-terms"]
    assert (f.rule_version, f.pack, f.category, f.severity) == ("2026.1", "advertising", "虚假违法互联网广告", "medium")
    assert f.basis.startswith("《广告法》第九条")
    assert (f.subject_kind, f.subject_id, f.site, f.shop_id, f.url) == (
        "listing", "demo:L1", "demo", "S1", "http://127.0.0.1/item/L1.html")
    assert (f.snapshot_sha256, f.sweep_id) == ("ab" * 32, "sweep-1")
    assert datetime.fromisoformat(f.found_at).utcoffset().total_seconds() == 0
    # the first hit in field order, offsets into the normalised field text
    assert f.matched == ["最佳"] and (f.start, f.end) == (2, 4)
    assert f.snippet == "全网【最佳】口感 国家级工艺"


def test_snippet_is_cut_to_about_30_characters_each_side(rules):
    long = "很" * 50 + "高仿" + "好" * 50
    f = by_rule(rules.match(listing(long)))["cf.replica-terms"]
    assert f.snippet == "…" + "很" * 30 + "【高仿】" + "好" * 30 + "…"


def test_one_finding_per_rule_and_stable_ids(rules):
    item = listing("高仿 高仿 高仿", description="高仿")
    first = rules.match(item)
    assert [f.rule_id for f in first].count("cf.replica-terms") == 1
    again = rules.match(copy.deepcopy(item))
    assert [f.finding_id for f in first] == [f.finding_id for f in again]
    f = by_rule(first)["cf.replica-terms"]
    assert f.finding_id == finding_id("listing", "demo:L1", "cf.replica-terms")


def test_match_is_pure(rules):
    item = listing("高仿LV包")
    before = copy.deepcopy(item)
    rules.match(item)
    assert item == before


def test_prenormalised_items_give_the_same_findings(rules):
    raw = listing("高倣LV包 全网最佳", description="無效退款 100%有效", price_text="¥99", original_price_text="¥999")
    done = NormalizePipeline(tokens=False).process_item(copy.deepcopy(raw))
    strip = lambda fs: [(f.rule_id, f.matched, f.snippet, f.deobfuscated) for f in fs]  # noqa: E731
    assert strip(rules.match(raw)) == strip(rules.match(done))


# ------------------------------------------------------------------ shops and structured checks


def test_shop_licence_valid_invalid_missing(rules):
    ok = shop(name="潮流服饰店", license_number="91350100M000100Y43")
    assert rules.match(ok) == []
    bad = by_rule(rules.match(shop(name="潮流服饰店", license_number="91350100M000100Y44")))
    f = bad["lic.uscc-invalid"]
    assert f.category == "电子商务经营者未履行市场主体公示义务" and f.matched == ["91350100M000100Y44"]
    assert "3" in f.snippet and f.field == "license_number"
    missing = by_rule(rules.match(shop(name="潮流服饰店")))
    assert set(missing) == {"lic.missing"}
    masked = shop(name="个体服装店", license_text="经营者身份证号 3501**********1234",
                  license_number="3501**********1234")
    assert rules.match(masked) == []


def test_licence_shown_in_the_shop_intro_or_notices_counts(rules):
    """A site whose profile has no licence block: the number in the intro or a notice is the licence shown
    (no "licence missing"), and a labelled number there is checked like one in the licence block."""
    intro = shop(name="某某服饰", description="主营女装 营业执照：统一社会信用代码91350100M000100Y43")
    assert rules.match(intro) == []
    old_number = shop(name="某某服饰", description="企业名称：福州某某贸易有限公司 注册号350100000012345")
    assert rules.match(old_number) == []
    bad = by_rule(rules.match(shop(name="某某服饰", notices="统一社会信用代码：91350100M000100Y44")))
    assert set(bad) == {"lic.uscc-invalid"} and bad["lic.uscc-invalid"].field == "notices"
    # an 18-character product code that is no USCC and is not called a licence number shows no licence
    product_code = shop(name="某某服饰", description="货号 ABCDEFGHJK12345678 新款")
    assert set(by_rule(rules.match(product_code))) == {"lic.missing"}
    food = shop(name="老李家零食铺", license_number="91350100M000100Y43", notices="食品经营许可证：JY13501020012345")
    assert rules.match(food) == []
    batched = rules.match_many([intro, shop(name="某某服饰", notices="统一社会信用代码：91350100M000100Y44")])
    assert [[x.rule_id for x in found] for found in batched] == [[], ["lic.uscc-invalid"]]


def test_food_shop_licences(rules):
    no_food = by_rule(rules.match(shop(name="老李家零食铺", license_number="91350100M000100Y43")))
    assert set(no_food) == {"lic.food-missing"} and no_food["lic.food-missing"].category == "缺乏资质经营食品"
    good = shop(name="老李家零食铺", license_number="91350100M000100Y43", food_license="JY13501020012345")
    assert rules.match(good) == []
    malformed = by_rule(rules.match(shop(name="老李家零食铺", license_number="91350100M000100Y43",
                                         food_license="JY1350102001234")))
    assert set(malformed) == {"lic.food-invalid"}
    clothes = shop(name="潮流服饰店", license_number="91350100M000100Y43")
    assert rules.match(clothes) == []


# ------------------------------------------------------------------ pipeline


class Stats:
    def __init__(self):
        self.values: dict[str, int] = {}

    def inc_value(self, key, count=1):
        self.values[key] = self.values.get(key, 0) + count


def test_match_pipeline_appends_once_and_counts(rules):
    stats = Stats()
    pipe = MatchPipeline(ruleset=rules, stats=stats)
    pipe.open_spider()
    item = listing("高仿LV包")
    assert pipe.process_item(item) is item
    n = len(item.findings)
    assert n >= 2
    pipe.process_item(item)
    assert len(item.findings) == n  # re-running adds nothing
    assert stats.values["match/hits/网络销售假冒伪劣商品"] == n
    assert stats.values["match/items"] == 2


def test_match_pipeline_loads_rules_itself(tmp_path):
    write_pack(tmp_path, RULE_HEAD + "    any: [独角兽]\n")
    pipe = MatchPipeline(rules_dir=tmp_path)
    pipe.open_spider(None)
    assert len(pipe.process_item(listing("独角兽")).findings) == 1


# ------------------------------------------------------------------ explain and examples


def test_explain_treats_text_as_every_field(rules):
    found = by_rule(rules.explain("黄芪茶 食品 降血压 药到病除"))
    assert "ad.food-disease-claims" in found  # category field gets the text too
    assert by_rule(rules.explain("最终解释权归本店所有", kind="shop")).keys() >= {"con.final-interpretation"}
    assert rules.explain("高仿", fields=["description"])[0].field == "description"


def test_run_examples_reports_failures_with_location(tmp_path):
    write_pack(tmp_path, RULE_HEAD + """\
    any: [独角兽]
    tests:
      match: [独角兽玩偶, 小马]
      no_match: [小马宝莉]
""")
    results = RuleSet.load(tmp_path).run_examples()
    assert [(r.text, r.ok) for r in results] == [("独角兽玩偶", True), ("小马", False), ("小马宝莉", True)]
    assert results[1].location.line == 12
    assert "t.one" in str(results[1]) and "小马" in str(results[1])


# ------------------------------------------------------------------ broken packs


def load_error(tmp_path: Path, body: str, lists: dict[str, str] | None = None):
    write_pack(tmp_path, body, lists=lists)
    with pytest.raises(Exception) as info:
        RuleSet.load(tmp_path)
    return info.value


def test_unknown_key_names_file_line_and_suggests(tmp_path):
    err = load_error(tmp_path, RULE_HEAD + "    any: [独角兽]\n    unles: [独角兽玩偶]\n")
    assert isinstance(err, RuleSchemaError)
    assert err.path.endswith("pack.yml") and err.line == 11
    assert re.match(r".*pack\.yml:11(:\d+)?: \[t\.one\] ", str(err))
    assert "unless" in err.hint


def test_bad_category_is_reported_with_its_line(tmp_path):
    err = load_error(tmp_path, RULE_HEAD.replace("category: 其他", "category: 假冒商品") + "    any: [独角兽]\n")
    assert isinstance(err, RuleValueError) and err.line == 6
    assert "网络销售假冒伪劣商品" in err.hint


def test_yaml_syntax_error(tmp_path):
    err = load_error(tmp_path, RULE_HEAD + "    any: [独角兽\n")
    assert isinstance(err, RuleSyntaxError) and err.line >= 10 and "pack.yml" in str(err)
    err = load_error(tmp_path, RULE_HEAD + "    any: [@lists/x.txt]\n")
    assert isinstance(err, RuleSyntaxError) and err.line == 10 and "引号" in err.hint


def test_missing_list_file(tmp_path):
    err = load_error(tmp_path, RULE_HEAD + '    any: ["@lists/brnads.txt"]\n', lists={"brands.txt": "lv\n"})
    assert isinstance(err, RuleListError) and err.line == 10 and "brands.txt" in err.hint


def test_bad_when_expression(tmp_path):
    err = load_error(tmp_path, RULE_HEAD + '    when: "orginal_price > 5 * price"\n')
    assert isinstance(err, RuleExpressionError) and err.line == 10 and "original_price" in err.hint
    err = load_error(tmp_path, RULE_HEAD + '    when: "__import__(\'os\')"\n')
    assert isinstance(err, RuleExpressionError)
    err = load_error(tmp_path, RULE_HEAD + '    when: "price.__class__ > 1"\n')
    assert isinstance(err, RuleExpressionError) and "Attribute" in err.message


def test_rule_without_conditions_and_duplicate_ids(tmp_path):
    err = load_error(tmp_path, RULE_HEAD + "    fields: [title]\n")
    assert isinstance(err, RuleSchemaError) and "any" in err.hint
    body = RULE_HEAD + "    any: [独角兽]\n" + textwrap.indent(RULE_HEAD.split("rules:\n")[1], "") + "    any: [小马]\n"
    err = load_error(tmp_path, body)
    assert isinstance(err, DuplicateRuleError) and err.line == 11


def test_collect_errors_returns_every_problem(tmp_path):
    body = RULE_HEAD + "    any: [独角兽]\n" + """\
  - id: t.two
    title: 二
    category: 不存在的类别
    severity: low
    basis: b
    applies_to: listing
    any: [x]
  - id: t.three
    title: 三
    category: 其他
    severity: urgent
    basis: b
    applies_to: listing
    any: [y]
"""
    write_pack(tmp_path, body)
    write_pack(tmp_path, "pack: [\n", name="zz-broken.yml")
    rs = RuleSet.load(tmp_path, collect_errors=True)
    assert [r.id for r in rs.rules] == ["t.one"]
    assert [(Path(e.path).name, e.line) for e in rs.errors] == [("pack.yml", 13), ("pack.yml", 21),
                                                                ("zz-broken.yml", 2)]
    assert rs.match(listing("独角兽"))  # the good rule still works


# ------------------------------------------------------------------ backends, tools, settings


def test_both_automaton_backends_give_the_same_findings():
    pytest.importorskip("ahocorasick_rs")
    fast, slow = RuleSet.load(backend="ahocorasick_rs"), RuleSet.load(backend="pyahocorasick")
    assert (fast.backend, slow.backend) == ("ahocorasick_rs", "pyahocorasick")
    items = [fast.example_item(r, ex, i) for r in fast.rules for i, ex in enumerate(r.examples)]
    items += [listing("高 仿LV 全网最佳 象牙白 老象牙 silver 1:18", description="最终解释权归本店 好评返现")]
    key = lambda fs: [(f.rule_id, f.field, f.start, f.end, f.matched, f.deobfuscated) for f in fs]  # noqa: E731
    for item in items:
        assert key(fast.match(item)) == key(slow.match(item)), item


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        RuleSet.load(backend="regex")


def test_explain_item_takes_stored_json(rules):
    data = {"kind": "shop", "shop_id": "S9", "site": "demo", "name": "老李家零食铺",
            "license_number": "91350100M000100Y44", "findings": [{"old": 1}], "norm": {"name": "stale"},
            "unknown_key": 1}
    found = by_rule(rules.explain_item(data))
    assert set(found) == {"lic.uscc-invalid", "lic.food-missing"}
    assert found["lic.uscc-invalid"].subject_id == "demo:S9"
    assert by_rule(rules.explain_item({"text": "高仿LV包"})).keys() >= {"cf.replica-terms"}


def test_example_result_detail(tmp_path):
    write_pack(tmp_path, RULE_HEAD + "    any: [独角兽]\n    tests: {match: [独角兽], no_match: [独角兽玩偶]}\n")
    ok, bad = RuleSet.load(tmp_path).run_examples()
    assert ok.ok and ok.detail == "match 独角兽 in 【独角兽】"
    assert not bad.ok and "独角兽玩偶" in str(bad)


def test_match_pipeline_from_crawler_settings(tmp_path):
    write_pack(tmp_path, RULE_HEAD + "    status: test\n    any: [独角兽]\n")

    class Settings(dict):
        def getbool(self, key, default=False):
            return bool(self.get(key, default))

    class Crawler:
        settings = Settings(MATCH_RULES_DIR=str(tmp_path), MATCH_INCLUDE_TEST=True)
        stats = Stats()

    pipe = MatchPipeline.from_crawler(Crawler)
    pipe.open_spider()
    assert len(pipe.process_item(listing("独角兽")).findings) == 1
    assert Crawler.stats.values["match/hits/其他"] == 1


def test_yields_to_keeps_only_the_main_problem(tmp_path):
    """A rule that yields_to a category is dropped when that category fires on the same listing, kept alone."""
    body = RULE_HEAD + """\
    any: [顶级]
    yields_to: [网络销售假冒伪劣商品]
  - id: t.two
    title: 假冒
    category: 网络销售假冒伪劣商品
    severity: high
    basis: 测试依据
    applies_to: listing
    any: [高仿]
"""
    rs = RuleSet.load(write_pack(tmp_path, body))
    assert [f.rule_id for f in rs.match(listing("顶级 高仿 手表"))] == ["t.two"]
    assert [f.rule_id for f in rs.match(listing("顶级 机械 手表"))] == ["t.one"]


def test_yields_to_names_an_unknown_category(tmp_path):
    write_pack(tmp_path, RULE_HEAD + "    any: [顶级]\n    yields_to: [假冒商品]\n")
    with pytest.raises(RuleValueError) as e:
        RuleSet.load(tmp_path)
    assert e.value.line == 11 and "假冒商品" in str(e.value)


def test_negation_drops_a_hit_a_cue_negates_in_its_clause(tmp_path):
    """``negation: true``: a term hit shortly after a cue of lists/negation.txt, in the same clause, does not count;
    a cue in another clause, or too far before, leaves the hit alone."""
    write_pack(tmp_path, RULE_HEAD + "    negation: true\n    any: [象牙, 匕首]\n",
               lists={"negation.txt": "# 测试\n不含\n不销售\n"})
    rs = RuleSet.load(tmp_path)
    assert rs.match(listing("树脂摆件 不含任何象牙成分")) == []
    assert rs.match(listing("本店不销售弹簧刀、匕首等管制刀具")) == []
    assert [f.rule_id for f in rs.match(listing("不含防腐剂，象牙雕件 老料"))] == ["t.one"], "another clause"
    assert [f.rule_id for f in rs.match(listing("不含税 运费另计 包装精美 象牙雕件"))] == ["t.one"], "too far before"
    assert [f.rule_id for f in rs.match(listing("象牙手镯 不含包装"))] == ["t.one"], "a cue after the hit"


def test_negation_without_its_list_names_the_rule_line(tmp_path):
    err = load_error(tmp_path, RULE_HEAD + "    negation: true\n    any: [象牙]\n")
    assert isinstance(err, RuleListError) and err.line == 10 and "negation.txt" in str(err)


def test_negation_reaches_along_a_list_and_from_a_cue_after_the_hit(tmp_path):
    """A cue reaches further when what follows it is a list (不销售卷烟、雪茄、烟丝、电子烟); a cue of the optional
    lists/negation_after.txt negates the hit just before it (与象牙无关); neither crosses a clause."""
    write_pack(tmp_path, RULE_HEAD + "    negation: true\n    any: [象牙, 电子烟]\n",
               lists={"negation.txt": "不销售\n", "negation_after.txt": "无关\n"})
    rs = RuleSet.load(tmp_path)
    assert rs.match(listing("本店只卖烟具，不销售卷烟、雪茄、烟丝、电子烟和烟弹")) == []
    found = rs.match(listing("不销售二手货 只卖全新的电子烟"))
    assert [f.rule_id for f in found] == ["t.one"], "只: the cue does not reach it"
    assert rs.match(listing("白色只是釉色名称，与象牙无关")) == []
    found = rs.match(listing("象牙手镯，与材质说明无关"))
    assert [f.rule_id for f in found] == ["t.one"], "the cue follows another word"


def test_a_negated_none_term_does_not_rule_the_item_out(tmp_path):
    write_pack(tmp_path, RULE_HEAD + "    negation: true\n    any: [玳瑁]\n    none: [树脂]\n",
               lists={"negation.txt": "不是\n"})
    rs = RuleSet.load(tmp_path)
    assert [f.rule_id for f in rs.match(listing("天然海龟壳手镯 真玳瑁不是树脂"))] == ["t.one"]
    assert rs.match(listing("玳瑁纹 树脂手镯")) == []
