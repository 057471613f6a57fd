"""Named structured checks a rule can ask for with ``check: <name>``.

Terms cannot say "this shop shows no licence" or "this number fails its check digit", so
these few checks are Python. Each takes the item and returns :class:`CheckEvidence` when the
problem is there, or None. Which shops a check applies to is decided by the rule (``scope``,
``none``), not here: e.g. ``food_license_missing`` only says "no food licence number is shown";
the rule in ``rules/license.yml`` scopes it to food shops.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CheckEvidence:
    field: str
    matched: list[str] = field(default_factory=list)
    snippet: str = ""


@dataclass(frozen=True)
class CheckSpec:
    name: str
    kind: str  # "listing" | "shop"
    func: Callable[[Any], CheckEvidence | None]
    description: str


def _clean(s: str | None) -> str:
    return unicodedata.normalize("NFKC", s or "").strip()


def _code_chars(s: str) -> str:
    """Upper-case letters, digits and mask characters only (labels, spaces, dashes dropped)."""
    return re.sub(r"[^0-9A-Z*]", "", _clean(s).upper().replace("×", "*"))


_MASK_RE = re.compile(r"[*]|X{3,}")
_USCC_IN_TEXT = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")
_FOOD_NO = re.compile(r"(?<![0-9A-Z])(JY|SC|YB)\s*(\d{14})(?!\d)")
_FOOD_PREFIX = re.compile(r"(JY|SC|YB)", re.I)
#: shop texts other than the licence block where an unseen site's profile may put the licence (a shop intro
#: "营业执照：9135…", a notice, what OCR read from the shop's pictures)
_OTHER_TEXTS = ("description", "notices", "service", "image_text")
#: a registration number said to be one: 统一社会信用代码 / 营业执照注册号 / 注册号 + up to 6 characters + the code
_LABELLED_CODE = re.compile(r"(?:社会信用代码|信用代码|营业执照|注册号)[^0-9A-Z*]{0,6}([0-9A-Z*]{15,18})(?![0-9A-Z*])")


def _code_in_other_texts(shop: Any) -> tuple[str, str] | None:
    """(field, code): a licence number shown outside the licence block: a valid USCC anywhere in those texts,
    else a number labelled as one (统一社会信用代码：…, 注册号 …; masked 个体户 numbers and 15-digit numbers too)."""
    from pipelines.match.identifiers import uscc_is_valid

    texts = [(f, _clean(getattr(shop, f, "")).upper()) for f in _OTHER_TEXTS]
    for f, t in texts:
        valid = next((c for c in _USCC_IN_TEXT.findall(t) if uscc_is_valid(c)), None)
        if valid:
            return f, valid
    for f, t in texts:
        m = _LABELLED_CODE.search(t)
        if m:
            return f, m.group(1)
    return None


#: words a licence block says something of a licence with (not only an ID card number and a name)
_LICENCE_WORDS = re.compile(r"执照|信用代码|注册号|经营者|登记|许可|名称|主体|亮照|资质|LICEN[CS]E")


def _says_licence(text: str) -> bool:
    """Whether a licence block's text shows a licence: a licence word or a registration number. A block with
    only the owner's ID card number and name ("身份证号：4401****3526 姓名：张**") shows none."""
    t = _clean(text).upper()
    return bool(t) and bool(_LICENCE_WORDS.search(t) or _USCC_IN_TEXT.search(t) or _LABELLED_CODE.search(t))


def license_missing(shop: Any) -> CheckEvidence | None:
    """The shop shows no licence at all: no licence text that says anything of a licence, no licence image, no
    number (also none in its intro, notices or pictures' text)."""
    if any(_clean(getattr(shop, f, "")) for f in ("license_number", "license_image")):
        return None
    text = _clean(getattr(shop, "license_text", ""))
    if _says_licence(text):
        return None
    if any(img.get("role") == "license" for img in getattr(shop, "images", None) or ()):
        return None
    if _code_in_other_texts(shop):
        return None
    if text:
        return CheckEvidence("license_text", [text[:40]], f"店铺亮照处只有【{text[:40]}】，没有营业执照信息（名称、"
                             "统一社会信用代码）/ the licence block shows no business licence")
    return CheckEvidence("license_text", [], "店铺首页未公示营业执照信息（无证照文字、图片或编号）")


#: a number labelled as another licence than the business licence (drug, food, ICP ...)
_OTHER_LICENCE = re.compile(r"许可证|备案|ICP|JY|SC\d")


def _uscc_candidate(shop: Any) -> str | None:
    """The number to check: from license_number if shown, else an 18-character code in license_text."""
    number = _clean(shop.license_number).upper() or _clean(getattr(shop, "license_image_number", "")).upper()
    found = _USCC_IN_TEXT.findall(number or _clean(shop.license_text).upper())
    if not found and number and _OTHER_LICENCE.search(number):
        # the number field holds another licence (药品经营许可证 浙AA5710123): the USCC is in the licence text
        found = _USCC_IN_TEXT.findall(_clean(shop.license_text).upper())
        if not found:
            return None
    if found:
        from pipelines.match.identifiers import uscc_is_valid

        return next((c for c in found if uscc_is_valid(c)), found[0])
    return _code_chars(number) if number else None


def _shows_licence_block(shop: Any) -> bool:
    return any(_clean(getattr(shop, f, "")) for f in ("license_text", "license_number", "license_image_number"))


def uscc_invalid(shop: Any) -> CheckEvidence | None:
    """A USCC is shown but fails GB 32100-2015 (wrong length or check character).

    Not flagged: masked numbers (个体户 ID numbers shown as 3501********1234), 15-digit
    registration numbers from before the USCC, and shops that show no number at all.
    """
    code, where = _uscc_candidate(shop), ""
    if not code and not _shows_licence_block(shop):
        # no licence block: a number labelled as a licence in the intro or notices is the one shown
        other = _code_in_other_texts(shop)
        code, where = (other[1], other[0]) if other else (None, "")
    if not code or _MASK_RE.search(code) or (len(code) == 15 and code.isdigit()):
        return None
    from pipelines.match.identifiers import uscc_check_char, uscc_is_valid

    if uscc_is_valid(code):
        return None
    if len(code) != 18:
        why = f"长度为 {len(code)} 位，应为 18 位 / {len(code)} characters, a USCC has 18"
    else:
        try:
            why = f"校验码应为 {uscc_check_char(code[:17])} / check character should be {uscc_check_char(code[:17])}"
        except ValueError as exc:
            why = f"含非法字符 / {exc}"
    if not _clean(shop.license_number) and _clean(getattr(shop, "license_image_number", "")):
        return CheckEvidence("image_text", [code], f"营业执照图片中识别出的统一社会信用代码【{code}】不符合 "
                             f"GB 32100-2015：{why}")
    fld = where or ("license_number" if _clean(shop.license_number) else "license_text")
    return CheckEvidence(fld, [code], f"统一社会信用代码【{code}】不符合 GB 32100-2015：{why}")


def license_image_unreadable(shop: Any) -> CheckEvidence | None:
    """The licence is shown only as a picture, and no registration number can be read from it
    (blurred, too small, not a licence). A shop showing the number as text is not flagged."""
    if getattr(shop, "license_image_status", "") != "unreadable":
        return None
    if _clean(shop.license_number) or _USCC_IN_TEXT.search(_clean(shop.license_text).upper()):
        return None
    return CheckEvidence("image_text", [], "营业执照仅以图片公示，且图片中无法识别出统一社会信用代码"
                         "（模糊、过小或非执照），请人工核查 / the licence is shown only as a picture and no "
                         "number can be read from it")


def _name_key(name: str) -> str:
    return re.sub(r"[\s()（）【】\[\]·.,，、:：]", "", _clean(name))


#: the 名称 a licence block's text gives (名称：…, 企业名称：…), up to the next label or space
_TEXT_NAME = re.compile(r"(?:企业名称|经营者名称|公司名称|主体名称|名称)\s*[:：]\s*([^\s:：，,;；]{2,60})")
_NEXT_LABEL = re.compile(r"统一社会信用代码|信用代码|注册号|类型|住所|法定代表人|经营者|成立日期|营业期限|登记机关"
                         r"|经营范围")


def _licence_text_name(shop: Any) -> str:
    m = _TEXT_NAME.search(_clean(getattr(shop, "license_text", "")))
    return _NEXT_LABEL.split(m.group(1))[0] if m else ""


def license_name_mismatch(shop: Any) -> CheckEvidence | None:
    """The 名称 on the licence (read from its picture, else given in the licence block's text) is not the
    operator the shop declares (a borrowed or someone else's licence?): a finding to review by hand."""
    shown = _clean(getattr(shop, "license_image_name", ""))
    where, what = "image_text", "营业执照图片上的名称"
    if not shown:
        shown, where, what = _licence_text_name(shop), "license_text", "公示的营业执照名称"
    read, declared = _name_key(shown), _name_key(shop.operator)
    if not read or not declared or read in declared or declared in read:
        return None
    if where == "license_text" and len(declared) <= 4:
        return None  # a person's name (个体工商户 的经营者) beside the business name on the licence text
    return CheckEvidence(where, [shown], f"{what}【{shown}】与店铺公示的经营者【{shop.operator}】不一致，"
                         "请人工核查 / the licence names another operator")


#: the end of a licence's term: 营业期限 2016年03月01日至2022年02月28日, 有效期至 2022-02-28
_TERM_END = re.compile(r"(?:营业期限|经营期限|有效期限|有效期)[^。；;]{0,30}?至\s*(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*"
                       r"[月\-/.]\s*(\d{1,2})")


def license_expired(shop: Any) -> CheckEvidence | None:
    """The licence shown (its text, or what was read from its picture) gives a term that ended before the page
    was fetched (营业期限…至2022年02月28日): a licence no longer valid."""
    from datetime import UTC, date, datetime

    fetched = str(getattr(shop, "fetched_at", "") or "")[:10]
    try:
        today = date.fromisoformat(fetched) if fetched else datetime.now(UTC).date()
    except ValueError:
        today = datetime.now(UTC).date()
    for f in ("license_text", "image_text"):
        text = _clean(getattr(shop, f, ""))
        for m in _TERM_END.finditer(text):
            try:
                end = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
            if end < today:
                return CheckEvidence(f, [m.group(0)], f"营业执照营业期限已于 {end.isoformat()} 届满（页面抓取于 "
                                     f"{today.isoformat()}）：【{m.group(0)}】 / the licence's term ended on {end}")
    return None


def _food_numbers(shop: Any) -> tuple[str, list[str]]:
    """(food_license as shown, numbers of the right format found in food_license, license_text and the shop's
    other texts: an unseen site may show the food licence in its intro or notices)."""
    shown = _clean(shop.food_license)
    pool = " ".join([shown, _clean(shop.license_text), *(_clean(getattr(shop, f, "")) for f in _OTHER_TEXTS)]).upper()
    return shown, [a + b for a, b in _FOOD_NO.findall(pool)]


def food_license_missing(shop: Any) -> CheckEvidence | None:
    """No food licence (JY/SC) or filing (YB) number is shown anywhere in the licence block."""
    shown, numbers = _food_numbers(shop)
    if shown or numbers:
        return None
    return CheckEvidence("food_license", [], "食品类店铺未公示食品经营许可证（JY）或生产许可证（SC）编号")


def food_license_invalid(shop: Any) -> CheckEvidence | None:
    """A food licence is shown but is not JY/SC + 14 digits (YB + 14 filing numbers are accepted)."""
    shown = _clean(shop.food_license)
    if not shown or _FOOD_NO.search(shown.upper()):
        return None
    if "小作坊" in shown:  # provincial 小作坊登记证: local formats, review by hand
        return None
    m = _FOOD_PREFIX.search(shown)
    code = _code_chars(shown[m.start():] if m else shown) or shown
    return CheckEvidence("food_license", [code],
                         f"食品许可证编号【{code}】格式不符：应为 JY 或 SC 加 14 位数字 / not JY or SC + 14 digits")


#: a stated discount: "5折", "7.5折", "五折", "七五折" (not "5折起", a floor; nor "折扣")
_DISCOUNT = re.compile(r"(?<![\d.])([1-9](?:\.\d)?)\s*折(?!起|扣)"
                       r"|([一二三四五六七八九])([一二三四五六七八九])?折(?!起|扣)")
_CN_DIGIT = {c: i for i, c in enumerate("一二三四五六七八九", 1)}
#: how far the price shown may be above the stated discount before it is a finding (rounding, "到手价" cents)
DISCOUNT_SLACK = 0.06


def _stated_discount(text: str) -> tuple[float, str] | None:
    """The first discount the text states, as a fraction of the original price ("5折" -> 0.5, "七五折" -> 0.75)."""
    m = _DISCOUNT.search(text)
    if m is None:
        return None
    if m.group(1):
        return float(m.group(1)) / 10, m.group(0)
    tenth = _CN_DIGIT[m.group(2)] / 10
    return (tenth + _CN_DIGIT[m.group(3)] / 100 if m.group(3) else tenth), m.group(0)


def stated_discount_mismatch(item: Any) -> CheckEvidence | None:
    """The listing states a discount ("5折") and shows a struck-through original price and a price, and the price
    is more than the stated share of the original: ¥199 against ¥299 is 6.7折, not 5折 (a false discount)."""
    from pipelines.match.context import item_numbers

    nums = item_numbers(item)
    price, original = nums.get("price"), nums.get("original_price")
    if not price or not original or price >= original:
        return None
    for f in ("title", "promo", "description"):
        found = _stated_discount(_clean(getattr(item, f, "")))
        if found is None:
            continue
        stated, words = found
        actual = price / original
        if actual - stated > DISCOUNT_SLACK:
            return CheckEvidence(f, [words], f"标称【{words}】，实际售价 {price:g} 元 / 原价 {original:g} 元 = "
                                 f"{actual * 10:.1f}折 / stated {words}, the price is {actual:.0%} of the original")
        return None
    return None


CHECKS: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        CheckSpec("license_missing", "shop", license_missing, "店铺未公示营业执照 (no licence shown)"),
        CheckSpec("uscc_invalid", "shop", uscc_invalid, "统一社会信用代码校验失败 (USCC fails its check)"),
        CheckSpec("license_image_unreadable", "shop", license_image_unreadable,
                  "执照图片无法识别 (licence picture unreadable)"),
        CheckSpec("license_name_mismatch", "shop", license_name_mismatch,
                  "执照名称与经营者不符 (licence names another operator)"),
        CheckSpec("license_expired", "shop", license_expired, "营业执照营业期限已届满 (licence term ended)"),
        CheckSpec("stated_discount_mismatch", "listing", stated_discount_mismatch,
                  "标称折扣与价格不符 (stated discount does not match the prices)"),
        CheckSpec("food_license_missing", "shop", food_license_missing, "未公示食品许可证 (no food licence)"),
        CheckSpec("food_license_invalid", "shop", food_license_invalid, "食品许可证格式错误 (food licence malformed)"),
    )
}
