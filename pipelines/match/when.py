"""The ``when:`` language, all of it: names, functions, syntax, compile, evaluate, evidence.

A ``when:`` is a small arithmetic expression over an item's numbers (``original_price >= 5 *
price and price > 0``), never Python: :func:`parse_when` accepts numbers, the names of
:data:`WHEN_NAMES`, the functions of :data:`WHEN_FUNCTIONS`, comparisons, ``and``/``or``/``not``
and arithmetic (:data:`WHEN_NODES`), and refuses everything else with a message an analyst can
act on. :class:`WhenEvaluator` runs a parsed expression as closures built once from its syntax
tree (:func:`compile_when`, same operators and short-circuits as simpleeval, which runs whatever
the closures do not take). A name whose number is missing makes the expression false.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from simpleeval import DEFAULT_OPERATORS, SimpleEval

from pipelines.match.checks import CheckEvidence
from pipelines.match.prices import ReferenceHit

#: Numbers a ``when:`` expression may use.
WHEN_NAMES: dict[str, str] = {
    "price": "现价 (listing price)",
    "original_price": "划线价/原价 (struck-through price)",
    "ratio": "original_price / price",
    "discount": "price / original_price",
    "listing_count": "店铺商品数 (shop listing count)",
    "reference_price": "品牌参考价下限 (lowest genuine retail price, rules/lists/reference_prices.yml)",
    "reference_max": "品牌参考价上限 (highest genuine retail price, rules/lists/reference_prices.yml)",
    # price history of the listing, filled by pipelines.history from earlier sweeps (item.history)
    "prev_price": "上次扫描的现价 (price in the previous sweep)",
    "prev_original_price": "上次扫描的划线价 (struck-through price in the previous sweep)",
    "max_price_7d": "此前7日内出现过的最高现价 (highest price shown in the 7 days before, this sweep excluded)",
    "min_price_7d": "此前7日内出现过的最低现价 (lowest price shown in the 7 days before)",
    "max_price_30d": "此前30日内出现过的最高现价 (highest price shown in the 30 days before)",
    "min_price_30d": "此前30日内出现过的最低现价 (lowest price shown in the 30 days before)",
    "baseline_price": "基准扫描（节前）时的现价 (price during the festival's baseline sweep)",
    "baseline_reference_price": "基准扫描时的比较价格：划线价，无划线价时为现价 (the baseline's struck-through price, "
                                "else its price)",
    "max_price_since_baseline": "基准扫描以来（含本次）的最高现价 (highest price since the baseline, this page too)",
    "history_days": "最早一次记录距今的天数 (days since the listing was first recorded)",
    "days_since_price_change": "现价已持续的天数 (days the current price has been shown)",
}
WHEN_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "round": round}


@dataclass(frozen=True)
class Predicate:
    """A compiled ``when:`` expression (simpleeval; never Python eval)."""

    expr: str
    names: frozenset[str]
    parsed: Any = field(compare=False, repr=False)

    @staticmethod
    def names_in(expr: str) -> set[str]:
        tree = ast.parse(expr, mode="eval")
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called

#: syntax a ``when:`` expression may use (no attributes, subscripts, lambdas, comprehensions)
WHEN_NODES = (ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Name, ast.Constant,
              ast.boolop, ast.operator, ast.unaryop, ast.cmpop, ast.expr_context)
#: names looked up in the reference-price table (a title scan), evaluated last
REFERENCE_NAMES = frozenset({"reference_price", "reference_max"})
#: the operator functions simpleeval applies (its safe_power, safe_mult ...), shared by the closures
OPERATORS: dict[type, Callable[..., Any]] = dict(DEFAULT_OPERATORS)
#: the numbers every listing / shop has without history or reference prices
BASIC_NAMES = {"listing": frozenset({"price", "original_price", "ratio", "discount"}),
               "shop": frozenset({"listing_count"})}


class WhenError(ValueError):
    """A ``when:`` that is not allowed; ``hint`` says what would be."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def parse_when(expr: str, suggest: Callable[[str, Any], str] | None = None) -> Predicate:
    """Check and parse ``expr``; raises :class:`WhenError` naming what is not allowed."""
    try:
        names = Predicate.names_in(expr)
        parsed = SimpleEval.parse(expr)
    except SyntaxError as exc:
        raise WhenError(f"when 表达式无法解析 / cannot parse 'when': {exc.msg}",
                        "例如 / for example: when: \"original_price >= 5 * price\"") from None
    unknown = sorted(names - set(WHEN_NAMES))
    if unknown:
        raise WhenError(f"when 中的未知名称 / unknown names in 'when': {', '.join(unknown)}",
                        (suggest(unknown[0], WHEN_NAMES) if suggest else "") or "可用 / available: " + ", ".join(
                            f"{k} ({v})" for k, v in WHEN_NAMES.items()))
    odd = sorted({type(n).__name__ for n in ast.walk(ast.parse(expr, mode="eval")) if not isinstance(n, WHEN_NODES)})
    if odd:
        raise WhenError(f"when 只能用数字、比较和算术 / 'when' allows numbers, comparisons and arithmetic only "
                        f"(found {', '.join(odd)})",
                        "例如 / for example: when: \"original_price >= 5 * price and price > 0\"")
    called = set(re.findall(r"([A-Za-z_]\w*)\s*\(", expr))
    bad = sorted(called - set(WHEN_FUNCTIONS))
    if bad:
        raise WhenError(f"when 中的未知函数 / unknown functions in 'when': {', '.join(bad)}",
                        f"可用 / available: {', '.join(WHEN_FUNCTIONS)}")
    return Predicate(expr, frozenset(names), parsed)


class Numbers(Protocol):
    """What the ``when:`` language reads of an item (:class:`pipelines.match.context.ItemText`)."""

    item: Any

    def number(self, name: str) -> float | None: ...

    def numbers(self) -> dict[str, float | None]: ...

    def reference(self) -> ReferenceHit | None: ...


class WhenEvaluator:
    """Evaluates compiled ``when:`` predicates: as closures (:func:`compile_when`), else with simpleeval
    (one evaluator per thread)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._plans: dict[str, tuple[tuple[str, ...], Closure | None]] = {}

    def _plan(self, pred: Predicate) -> tuple[tuple[str, ...], Closure | None]:
        # item numbers first, the reference-price lookup (a title scan) last
        order = tuple(sorted(pred.names, key=lambda n: (n in REFERENCE_NAMES, n)))
        plan = self._plans[pred.expr] = (order, compile_when(pred.parsed))
        return plan

    def true(self, pred: Predicate, ctx: Numbers) -> bool:
        return self.holds(pred, ctx.number)

    def holds(self, pred: Predicate, number: Callable[[str], float | None]) -> bool:
        """``true`` with the numbers from ``number(name)`` (``ItemText.number``, or the ``get`` of a dict of
        the item's numbers when ``pred`` names no reference price)."""
        order, fn = self._plans.get(pred.expr) or self._plan(pred)
        values = {}
        for name in order:
            v = number(name)
            if v is None:
                return False  # a missing number never satisfies a predicate
            values[name] = v
        try:
            if fn is not None:
                return bool(fn(values))
            evaluator = getattr(self._local, "eval", None)
            if evaluator is None:
                evaluator = self._local.eval = SimpleEval(names={}, functions=dict(WHEN_FUNCTIONS))
            evaluator.names = values
            return bool(evaluator.eval(pred.expr, previously_parsed=pred.parsed))
        except Exception:  # division by zero, type errors ...: the predicate is simply false
            return False


# ---------------------------------------------------------------- `when:` as closures

Closure = Callable[[dict[str, Any]], Any]


class _Unsupported(Exception):
    """A node :func:`compile_when` leaves to simpleeval."""


def compile_when(node: ast.AST) -> Closure | None:
    """A parsed ``when:`` as nested closures over the numbers dict, or None (then simpleeval runs it).

    Each closure does what simpleeval does for its node (the same operator functions, such as its
    ``safe_power``, and the same short-circuits) without simpleeval's per-node dispatch and checks,
    about 5x faster. Only numbers, the ``when:`` names and functions, and operators are taken (no
    eval: the tree is walked once, here).
    """
    try:
        return _closure(node)
    except _Unsupported:
        return None


def _closure(node: ast.AST) -> Closure:
    if isinstance(node, ast.Expr):
        return _closure(node.value)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        const = node.value
        return lambda v: const
    if isinstance(node, ast.Name) and node.id in WHEN_NAMES:
        key = node.id
        return lambda v: v[key]
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        op, left, right = OPERATORS[type(node.op)], _closure(node.left), _closure(node.right)
        return lambda v: op(left(v), right(v))
    if isinstance(node, ast.UnaryOp) and type(node.op) in OPERATORS:
        op, operand = OPERATORS[type(node.op)], _closure(node.operand)
        return lambda v: op(operand(v))
    if isinstance(node, ast.BoolOp):
        return _bool_closure(isinstance(node.op, ast.And), [_closure(x) for x in node.values])
    if isinstance(node, ast.Compare) and all(type(o) in OPERATORS for o in node.ops):
        return _compare_closure(_closure(node.left), [OPERATORS[type(o)] for o in node.ops],
                                [_closure(x) for x in node.comparators])
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WHEN_FUNCTIONS
            and not node.keywords):
        fn, args = WHEN_FUNCTIONS[node.func.id], [_closure(x) for x in node.args]
        return lambda v: fn(*[a(v) for a in args])
    raise _Unsupported(type(node).__name__)


def _bool_closure(is_and: bool, parts: list[Closure]) -> Closure:
    def run(v: dict[str, Any]) -> Any:
        out: Any = False
        for part in parts:
            out = part(v)
            if bool(out) != is_and:  # `and` stops at a false value, `or` at a true one
                break
        return out

    return run


def _compare_closure(left: Closure, ops: list[Callable[[Any, Any], Any]], comparators: list[Closure]) -> Closure:
    def run(v: dict[str, Any]) -> Any:
        right = left(v)
        out: Any = True
        for op, comp in zip(ops, comparators, strict=True):
            if not out:
                break
            before, right = right, comp(v)
            out = op(before, right)
        return out

    return run


def when_evidence(pred: Predicate, ctx: Numbers) -> CheckEvidence:
    """What a ``when:`` finding shows: the prices (as shown) and the other numbers it used."""
    it, names = ctx.item, pred.names
    if it.kind == "shop":
        return CheckEvidence("name", [], f"店铺商品数【{it.listing_count}】（{pred.expr}）")
    nums = ctx.numbers()
    parts, matched = [], []
    fld = "price_text"
    if names & {"price", "ratio", "discount"} or (names & REFERENCE_NAMES and "original_price" not in names):
        shown = it.price_text or f"{nums['price']:g}"
        parts.append(f"现价【{shown}】")
        matched.append(shown)
    if names & {"original_price", "ratio", "discount"}:
        shown = it.original_price_text or f"{nums['original_price']:g}"
        parts.append(f"划线价【{shown}】")
        matched.append(shown)
        fld = "original_price_text"
    if nums.get("ratio") is not None and (names & {"ratio", "discount"} or {"price", "original_price"} <= names):
        parts.append(f"划线价为现价的 {nums['ratio']:.1f} 倍")
    if names & REFERENCE_NAMES:
        ref = ctx.reference()
        if ref is not None:
            parts.append(ref.describe())
            matched.extend(w for w in ref.words if w not in matched)
    for name in sorted(names - BASIC_NAMES["listing"] - REFERENCE_NAMES):
        v = nums.get(name)
        if v is not None:
            parts.append(f"{WHEN_NAMES.get(name, name).split(' (')[0]} {name}={v:g}")
    return CheckEvidence(fld, matched, "，".join(parts) + f"（{pred.expr}）")
