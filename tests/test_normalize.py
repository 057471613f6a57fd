"""Text normalisation, de-obfuscation, prices and the NormalizePipeline."""

from __future__ import annotations

import pytest

from crawler.items import ListingItem, ShopItem
from pipelines.normalize import (
    NOTE_NFKC,
    NOTE_SEPARATORS,
    NOTE_T2S,
    NOTE_ZERO_WIDTH,
    NormalizePipeline,
    deobfuscate_text,
    normalize_text,
    normalize_with_notes,
    notes_for_fragment,
    parse_price,
    strip_separators,
    to_simplified,
)


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("¥1,299.00", 1299.0, "CNY"),
        ("￥99", 99.0, "CNY"),
        ("1299元", 1299.0, "CNY"),
        ("RMB 88", 88.0, "CNY"),
        ("到手价 89 元", 89.0, "CNY"),
        ("¥1.2万", 12000.0, "CNY"),
        ("¥99-199", 99.0, "CNY"),
        ("$12.50", 12.5, "USD"),
        ("99.9", 99.9, None),
        ("免费", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_parse_price(text, amount, currency):
    assert parse_price(text) == (amount, currency)


def test_nfkc_full_width_to_half_width_and_lower_case():
    assert normalize_text("ＮＩＫＥ Ａ货　１２３，") == "nike a货 123,"
    assert normalize_text("①号") == "1号"


def test_traditional_to_simplified():
    assert normalize_text("專櫃品質 國家級工藝 銷量第一") == "专柜品质 国家级工艺 销量第一"
    # variants OpenCC keeps as they are, added by us
    assert normalize_text("高倣") == "高仿"
    assert normalize_text("髙仿") == "高仿"


def test_simplified_text_is_left_alone():
    s = "这是一个普通的商品描述，支持七天无理由退货，包邮。"
    assert to_simplified(s) is s
    # characters that are also ordinary simplified ones are not converted
    assert normalize_text("什么 好像 乾隆") == "什么 好像 乾隆"


def test_zero_width_characters_removed():
    for zw in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"):
        assert normalize_text(f"高{zw}仿") == "高仿"


def test_whitespace_collapsed():
    assert normalize_text("  高仿 \t\n  包包  ") == "高仿 包包"


def test_notes_say_what_was_done():
    text, notes = normalize_with_notes("高\u200b倣 Ａ货")
    assert text == "高仿 a货"
    assert notes == [NOTE_ZERO_WIDTH, NOTE_NFKC, NOTE_T2S]
    assert normalize_with_notes("plain ascii") == ("plain ascii", [])


@pytest.mark.parametrize("text", ["高 仿", "高*仿", "高-仿", "高.仿", "高 * 仿", "高·仿", "高★仿", "高_仿", "高/仿"])
def test_separators_between_cjk_removed(text):
    out, notes = deobfuscate_text(text)
    assert out == "高仿"
    assert notes and notes[-1].startswith(NOTE_SEPARATORS)
    assert f"{normalize_text(text)}→高仿" in notes[-1]


def test_sentence_punctuation_and_latin_spacing_kept():
    assert deobfuscate_text("高档，仿古")[0] == "高档,仿古"
    assert deobfuscate_text("高档。仿古")[0] == "高档。仿古"
    assert deobfuscate_text("lv a货 1.5米")[0] == "lv a货 1.5米"
    assert deobfuscate_text("nice bag")[1] == []


@pytest.mark.parametrize(("text", "out"), [("G-U-C-C-I 腰带", "gucci 腰带"), ("L.V 钱包", "lv 钱包"),
                                           ("c.h.a.n.e.l", "chanel"), ("P R A D A", "prada")])
def test_a_word_spelled_out_letter_by_letter_is_joined(text, out):
    """A brand written one letter at a time with separators between (a dodge of brand filters) is read whole."""
    assert deobfuscate_text(text)[0] == out


@pytest.mark.parametrize("text", ["t-shirt", "e-mail", "1.5l", "a4 纸", "x.y2", "wi-fi"])
def test_letters_inside_words_and_numbers_keep_their_separators(text):
    assert deobfuscate_text(text)[0] == normalize_text(text)


def test_strip_separators_maps_offsets_back():
    st = strip_separators("xx高 * 仿yy")
    assert st.text == "xx高仿yy"
    assert st.source_span(2, 4) == (2, 7)
    assert st.removed_in(2, 4) == "高 * 仿"
    assert st.removed_in(0, 2) is None
    assert st.to_source(5) == 8


def test_notes_for_fragment_only_names_the_steps_the_hit_needed():
    # the full-width comma elsewhere does not make the hit report NFKC
    assert notes_for_fragment("高倣包，好看", "高仿") == [NOTE_T2S]
    assert notes_for_fragment("Ａ貨", "a货") == [NOTE_NFKC, NOTE_T2S]
    assert notes_for_fragment("高仿包", "高仿") == []


def test_normalize_pipeline_fills_listing():
    item = ListingItem(site="demo", listing_id="1", title="高倣ＬＶ包", description="專櫃品質 好看",
                       price_text="¥1,299.00", original_price_text="￥9,999")
    out = NormalizePipeline().process_item(item)
    assert out is item
    assert item.norm["title"] == "高仿lv包"
    assert item.norm["description"] == "专柜品质 好看"
    assert set(item.norm) == {"title", "description", "promo", "service", "category", "price_text",
                              "original_price_text", "image_text"}
    assert (item.price, item.original_price, item.currency) == (1299.0, 9999.0, "CNY")
    assert "专柜" in item.tokens and " " not in item.tokens


def test_normalize_pipeline_fills_shop_without_tokens():
    shop = ShopItem(site="demo", shop_id="s1", name="某某旗艦店", license_number="９１３５０１００Ｍ０００１００Ｙ４３")
    NormalizePipeline(tokens=False).process_item(shop)
    assert shop.norm["name"] == "某某旗舰店"
    assert shop.norm["license_number"] == "91350100m000100y43"
    assert shop.tokens == []


def test_long_traditional_text_is_converted_everywhere():
    from opencc_purepy import OpenCC

    text = "這是一個測試，國家級工藝。普通的简体文字夹在中间没有繁体字符。" * 20 + "最後還有專櫃品質"
    assert to_simplified(text) == OpenCC("t2s").convert(text)
    assert "專" not in normalize_text(text) and "國" not in normalize_text(text)


def test_nfkc_falls_back_to_the_full_algorithm_for_combining_marks():
    # NFKC composes é; then the accent goes like a pinyin tone (homoglyphs.PINYIN_TONES)
    assert normalize_text("Cafe\u0301 ㎡ ℃") == "cafe m2 °c"
