"""Readable evidence: one Chinese sentence per finding that an analyst (or a hearing) understands.

A finding's snippet is written by the rule engine for rule authors: a price rule's snippet ends
with its ``when:`` expression and names the reference-price entry by file and line
(``现价【¥468.00】，品牌参考价 LV 手提包 ¥5,000 起（rules/lists/reference_prices.yml:32）（price > 0 and
price < 0.25 * reference_price）``). ``explain_finding`` turns that into what happened::

    售价¥468，低于参考价¥5,000的25%（实为9%）；参考价取自参考价表「LV 手提包」（¥5,000 起）

by rule kind:

* price rules (``when:``): each comparison of the expression, said with the numbers the finding
  was made with (read back from its snippet; the listing's stored numbers fill gaps), trivial
  guards (``price > 0``) left out; the reference-price entry by its name;
* named checks (licence, USCC, food licence): their own Chinese sentence, markers removed;
* term, near and regex rules: which field showed which words, and how they were disguised.

Nothing here evaluates rule text: expressions are only parsed (``ast``) to be read out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: short labels of the ``when:`` names (pipelines.match.when.WHEN_NAMES has the long ones), and units
NAME_LABELS: dict[str, str] = {
    "price": "售价", "original_price": "划线价", "ratio": "划线价与售价之比", "discount": "折扣率",
    "listing_count": "店铺商品数", "reference_price": "参考价", "reference_max": "参考价上限",
    "prev_price": "上次扫描售价", "prev_original_price": "上次扫描划线价",
    "max_price_7d": "此前7日最高售价", "min_price_7d": "此前7日最低售价",
    "max_price_30d": "此前30日最高售价", "min_price_30d": "此前30日最低售价",
    "baseline_price": "节前基准售价", "baseline_reference_price": "节前比较价",
    "max_price_since_baseline": "节前基准以来最高售价", "history_days": "价格记录天数",
    "days_since_price_change": "现价已持续天数",
}
MONEY_NAMES = frozenset({"price", "original_price", "reference_price", "reference_max", "prev_price",
                         "prev_original_price", "max_price_7d", "min_price_7d", "max_price_30d", "min_price_30d",
                         "baseline_price", "baseline_reference_price", "max_price_since_baseline"})
DAY_NAMES = frozenset({"history_days", "days_since_price_change"})
FIELD_LABELS: dict[str, str] = {
    "title": "商品标题", "description": "商品描述", "promo": "促销信息", "service": "售后服务说明",
    "category": "商品类目", "price_text": "售价", "original_price_text": "划线价", "name": "店铺名称",
    "operator": "经营者名称", "license_text": "证照信息", "license_number": "执照编号", "food_license": "食品许可证",
    "notices": "店铺公告",
}
#: fields only named checks look at (their snippets are sentences already)
CHECK_FIELDS = frozenset({"license_text", "license_number", "food_license"})
_OPS: dict[type, str] = {ast.Lt: "低于", ast.LtE: "不高于", ast.Gt: "高于", ast.GtE: "不低于", ast.Eq: "等于",
                         ast.NotEq: "不等于"}
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_REFERENCE = re.compile(r"品牌参考价 (?P<label>.+?) ¥(?P<low>[\d,.]+)(?:～¥(?P<high>[\d,.]+)| 起)（[^（）]*）")
_NAMED_VALUE = re.compile(r"\b([a-z_0-9]+)=(-?[\d.]+(?:e[+-]?\d+)?)")
_MARKED = re.compile(r"【(.*?)】", re.S)


@dataclass
class PriceFacts:
    """The numbers a price finding was made with, and the reference-price entry behind them."""

    numbers: dict[str, float] = field(default_factory=dict)
    reference_label: str = ""
    reference_low: float | None = None
    reference_high: float | None = None
    expression: str = ""


def money(value: float) -> str:
    """¥2,499 / ¥129.87 (no .00 on whole yuan)."""
    return f"¥{value:,.0f}" if abs(value - round(value)) < 0.005 else f"¥{value:,.2f}"


def _number(text: str) -> float | None:
    m = _NUMBER.search(text or "")
    return float(m.group().replace(",", "")) if m else None


def split_when_snippet(snippet: str) -> tuple[str, str] | None:
    """(the evidence part, the ``when:`` expression) of a price finding's snippet; None for other snippets."""
    text = (snippet or "").rstrip()
    if not text.endswith("）"):
        return None
    start = text.rfind("（")
    expr = text[start + 1:-1]
    if start < 0 or not re.search(r"[<>=]", expr) or not re.search(r"[a-z_]", expr):
        return None
    try:
        ast.parse(expr, mode="eval")
    except SyntaxError:
        return None
    return text[:start], expr


def price_facts(snippet: str, listing: Any = None) -> PriceFacts | None:
    """The numbers of a price finding from its snippet (values at the time of the finding); the stored
    listing's price, struck-through price and history fill what the snippet does not say."""
    parts = split_when_snippet(snippet)
    if parts is None:
        return None
    evidence, expr = parts
    facts = PriceFacts(expression=expr)
    for label, name in (("现价", "price"), ("划线价", "original_price"), ("店铺商品数", "listing_count")):
        m = re.search(label + r"【(.*?)】", evidence)
        if m and (v := _number(m.group(1))) is not None:
            facts.numbers[name] = v
    for name, value in _NAMED_VALUE.findall(evidence):
        if name in NAME_LABELS:
            facts.numbers[name] = float(value)
    if m := _REFERENCE.search(evidence):
        facts.reference_label = m.group("label")
        facts.reference_low = float(m.group("low").replace(",", ""))
        facts.reference_high = float(m.group("high").replace(",", "")) if m.group("high") else None
        facts.numbers["reference_price"] = facts.reference_low
        if facts.reference_high is not None:
            facts.numbers["reference_max"] = facts.reference_high
    if listing is not None:
        for name in ("price", "original_price", "listing_count"):
            value = getattr(listing, name, None)
            if isinstance(value, int | float) and name not in facts.numbers:
                facts.numbers[name] = float(value)
        for name, value in (getattr(listing, "history", None) or {}).items():
            if name in NAME_LABELS:
                facts.numbers.setdefault(name, float(value))
    price, original = facts.numbers.get("price"), facts.numbers.get("original_price")
    if price and original:
        facts.numbers.setdefault("ratio", original / price)
        facts.numbers.setdefault("discount", price / original)
    return facts


def _value_text(name: str, value: float | None) -> str:
    if value is None:
        return "（未知）"
    if name in MONEY_NAMES:
        return money(value)
    if name in DAY_NAMES:
        return f"{value:g}天"
    if name in ("ratio",):
        return f"{value:.1f}倍"
    if name == "discount":
        return f"{value * 100:.0f}%"
    return f"{value:g}"


@dataclass
class _Term:
    text: str  # "参考价¥2,499"
    value: float | None
    factor: float | None = None  # "K * name"
    base: float | None = None  # the name's value (before the factor)


def _term(node: ast.AST, numbers: Mapping[str, float]) -> _Term | None:
    if isinstance(node, ast.Name):
        v = numbers.get(node.id)
        return _Term(NAME_LABELS.get(node.id, node.id) + _value_text(node.id, v), v)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return _Term(f"{node.value:g}", float(node.value))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        const, other = (node.left, node.right) if isinstance(node.left, ast.Constant) else (node.right, node.left)
        if isinstance(const, ast.Constant) and isinstance(const.value, int | float) and isinstance(other, ast.Name):
            inner = _term(other, numbers)
            if inner is None:
                return None
            k = float(const.value)
            value = inner.value * k if inner.value is not None else None
            return _Term(inner.text, value, k, inner.value)
    return None


def _factor_text(k: float) -> str:
    return f"的{k * 100:g}%" if k < 1 else f"的{k:g}倍"


def _clause(node: ast.AST, numbers: Mapping[str, float]) -> str | None:
    """One comparison read out; None for a trivial guard (``price > 0``); ``ast.unparse`` when unreadable."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return ast.unparse(node)
    left, right = _term(node.left, numbers), _term(node.comparators[0], numbers)
    op = _OPS.get(type(node.ops[0]))
    if left is None or right is None or op is None:
        return ast.unparse(node)
    rhs = node.comparators[0]
    if isinstance(rhs, ast.Constant) and rhs.value == 0 and op in ("高于", "不等于"):
        return None  # "price > 0": only says there is a price
    text = f"{left.text}，{op}{right.text}"
    if right.factor is not None:
        text += _factor_text(right.factor)
        if left.value is not None and right.base:
            actual = left.value / right.base
            text += f"（实为{actual * 100:.0f}%）" if right.factor < 1 else f"（实为{actual:.2f}倍）"
    return text


def read_expression(expr: str, numbers: Mapping[str, float]) -> str:
    """A ``when:`` expression read out in Chinese with the numbers; clauses joined by ；."""
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return expr
    if isinstance(tree, ast.BoolOp):
        joiner = "；" if isinstance(tree.op, ast.And) else "；或者"
        parts = [_clause(v, numbers) for v in tree.values]
        return joiner.join(p for p in parts if p)
    return _clause(tree, numbers) or ""


def _price_sentence(facts: PriceFacts) -> str:
    text = read_expression(facts.expression, facts.numbers)
    if facts.reference_label:
        hi = f"～{money(facts.reference_high)}" if facts.reference_high is not None else " 起"
        text += f"；参考价取自参考价表「{facts.reference_label}」（{money(facts.reference_low or 0)}{hi}）"
    return text


def _plain(snippet: str) -> str:
    """A check's snippet without its markers and its English half."""
    text = _MARKED.sub(r"\1", snippet or "")
    return re.sub(r" / [^，；。]*", "", text).strip()


def explain_finding(finding: Mapping[str, Any] | Any, listing: Any = None) -> str:
    """The analyst-facing sentence for a finding (a ``Store.iter_findings`` dict or a Finding's fields).

    ``listing``: the stored ListingItem / ShopItem of the finding's subject, if at hand (fills numbers
    the snippet does not give)."""
    if not isinstance(finding, Mapping):  # a search hit's HitFinding, a Finding
        finding = {k: getattr(finding, k, None) for k in ("snippet", "matched", "field", "deobfuscated")}
    snippet = str(finding.get("snippet") or "")
    facts = price_facts(snippet, listing)
    if facts is not None:
        return _price_sentence(facts)
    fld = str(finding.get("field") or "")
    matched = [str(m) for m in finding.get("matched") or [] if str(m).strip()]
    matched = matched or [m for m in _MARKED.findall(snippet) if m.strip()]
    if fld in CHECK_FIELDS or not matched:
        return _plain(snippet)  # a named check: its own sentence (licence, USCC, food licence)
    label = FIELD_LABELS.get(fld, fld or "页面")
    words = "".join(f"「{m}」" for m in dict.fromkeys(matched))
    text = f"{label}中出现{words}"
    notes = [str(n) for n in finding.get("deobfuscated") or []]
    if notes:
        text += "（" + "；".join(notes) + "）"
    return text


def snippet_adds(finding: Mapping[str, Any]) -> bool:
    """Whether the raw snippet tells more than the sentence (the words around a term hit do; a check's
    snippet is its sentence)."""
    snippet = str(finding.get("snippet") or "")
    return split_when_snippet(snippet) is None and _plain(snippet) != explain_finding(finding)


__all__ = ["FIELD_LABELS", "NAME_LABELS", "PriceFacts", "explain_finding", "money", "price_facts", "read_expression",
           "snippet_adds", "split_when_snippet"]
