"""Per-item state of one match: cached field texts, the numbers ``when:`` sees, and its evidence.

:class:`ItemText` normalises the fields once, all together (or takes ``item.norm``), strips
separators once, and works out the numbers a ``when:`` expression may use: ``price``,
``original_price``, ``ratio``, ``discount`` (listings), ``listing_count`` (shops),
``reference_price`` and ``reference_max`` (from ``rules/lists/reference_prices.yml``), and every
number in ``item.history`` (filled by ``pipelines.history``: ``prev_price``, ``max_price_30d`` ...).
A name whose number is missing makes the expression false. :class:`WhenEvaluator` runs an
expression as closures built once from its syntax tree (:func:`compile_when`, same operators and
short-circuits as simpleeval, which runs whatever the closures do not take).
"""

from __future__ import annotations

import ast
import math
import threading
from collections.abc import Callable
from typing import Any

from simpleeval import DEFAULT_OPERATORS

from pipelines.match.checks import CheckEvidence
from pipelines.match.model import WHEN_FUNCTIONS, WHEN_NAMES, Predicate
from pipelines.match.prices import ReferenceHit, ReferenceTable, Roles
from pipelines.normalize import Stripped, normalize_many, normalize_text, parse_price, strip_joined, strip_separators

_REFERENCE_NAMES = frozenset({"reference_price", "reference_max"})
#: the operator functions simpleeval applies (its safe_power, safe_mult ...), shared by the closures
OPERATORS: dict[type, Callable[..., Any]] = dict(DEFAULT_OPERATORS)
_BASIC = {"listing": frozenset({"price", "original_price", "ratio", "discount"}), "shop": frozenset({"listing_count"})}


class ItemText:
    """Normalised and separator-stripped field texts and ``when:`` numbers of one item, computed once."""

    __slots__ = ("_norm", "_numbers", "_present", "_reference", "_strip", "_texts", "item", "reference_hits",
                 "references", "tricks")

    def __init__(self, item: Any, references: ReferenceTable | None = None) -> None:
        self.item = item
        self.references = references
        self._norm: dict[str, str] = {}
        self._strip: dict[str, Stripped] = {}
        self._texts: dict[str, str] = {}  # field -> separator-stripped text (its Stripped is made when asked)
        self._numbers: dict[str, float | None] | None = None
        self._present: frozenset[str] | None = None
        self._reference: ReferenceHit | bool | None = False  # False: not looked up yet
        self.tricks: dict[tuple[str, int, int], str] = {}  # (field, start, end) -> term found through digit tricks
        #: reference-price words in the title, found by the engine's scan (None: not scanned for them)
        self.reference_hits: list[tuple[Roles, int, int]] | None = None

    def norm(self, f: str) -> str:
        v = self._norm.get(f)
        if v is None:
            pre = self.item.norm.get(f) if self.item.norm else None
            v = pre if pre is not None else normalize_text(getattr(self.item, f, "") or "")
            self._norm[f] = v
        return v

    def stripped(self, f: str) -> Stripped:
        st = self._strip.get(f)
        if st is None:
            norm = self.norm(f)
            text = self._texts.get(f)  # stripped already by scan_text
            st = self._strip[f] = Stripped(text, norm) if text is not None else strip_separators(norm)
        return st

    def scan_text(self, fields: list[str]) -> tuple[str, list[int]]:
        """The separator-stripped texts of ``fields`` joined by NUL, and the offset each starts at.

        Called once per match on a fresh ``ItemText``; fills the ``norm`` and ``stripped`` caches.
        Fields are normalised together (:func:`normalize_many`) unless the pipeline did it."""
        pre = self.item.norm
        if pre:
            norms = [pre.get(f) for f in fields]
            if None in norms:  # a field the pipeline did not normalise
                norms = [normalize_text(getattr(self.item, f, "") or "") if n is None else n
                         for f, n in zip(fields, norms, strict=True)]
        else:
            item = self.item
            norms = normalize_many([getattr(item, f, "") or "" for f in fields])
        self._norm.update(zip(fields, norms, strict=True))
        joined, texts = strip_joined(norms)
        self._texts.update(zip(fields, texts, strict=True))
        starts, pos = [], 0
        for t in texts:
            starts.append(pos)
            pos += len(t) + 1
        return joined, starts

    def numbers(self) -> dict[str, float | None]:
        if self._numbers is None:
            it = self.item
            n: dict[str, float | None] = {}
            if it.kind == "listing":
                p = it.price if it.price is not None else parse_price(it.price_text)[0]
                op = it.original_price if it.original_price is not None else parse_price(it.original_price_text)[0]
                n = {"price": p, "original_price": op,
                     "ratio": op / p if p and op is not None and p > 0 else None,
                     "discount": p / op if op and p is not None and op > 0 else None}
                for k, v in (getattr(it, "history", None) or {}).items():
                    if k not in n and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                        n[k] = float(v)
            else:
                n = {"listing_count": float(it.listing_count) if it.listing_count is not None else None}
            self._numbers = n
        return self._numbers

    def present(self) -> frozenset[str]:
        """Names of the item's numbers that are known (not None)."""
        if self._present is None:
            self._present = frozenset(k for k, v in self.numbers().items() if v is not None)
        return self._present

    def reference(self) -> ReferenceHit | None:
        """The reference-price entry the listing's title matches (None if none, or not a listing)."""
        if self._reference is False:
            hit = None
            found = self.reference_hits
            if self.references is not None and self.item.kind == "listing" and found != []:
                title = self.stripped("title").text
                hit = self.references.lookup(title) if found is None else self.references.resolve(title, found)
            self._reference = hit
        return self._reference  # type: ignore[return-value]

    def number(self, name: str) -> float | None:
        if name in _REFERENCE_NAMES:
            ref = self.reference()
            if ref is None:
                return None
            return ref.price if name == "reference_price" else ref.max
        return self.numbers().get(name)


class WhenEvaluator:
    """Evaluates compiled ``when:`` predicates: as closures (:func:`compile_when`), else with simpleeval
    (one evaluator per thread)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._plans: dict[str, tuple[tuple[str, ...], Closure | None]] = {}

    def _plan(self, pred: Predicate) -> tuple[tuple[str, ...], Closure | None]:
        # item numbers first, the reference-price lookup (a title scan) last
        order = tuple(sorted(pred.names, key=lambda n: (n in _REFERENCE_NAMES, n)))
        plan = self._plans[pred.expr] = (order, compile_when(pred.parsed))
        return plan

    def true(self, pred: Predicate, ctx: ItemText) -> bool:
        order, fn = self._plans.get(pred.expr) or self._plan(pred)
        values = {}
        for name in order:
            v = ctx.number(name)
            if v is None:
                return False  # a missing number never satisfies a predicate
            values[name] = v
        try:
            if fn is not None:
                return bool(fn(values))
            evaluator = getattr(self._local, "eval", None)
            if evaluator is None:
                from simpleeval import SimpleEval

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


def when_evidence(pred: Predicate, ctx: ItemText) -> CheckEvidence:
    """What a ``when:`` finding shows: the prices (as shown) and the other numbers it used."""
    it, names = ctx.item, pred.names
    if it.kind == "shop":
        return CheckEvidence("name", [], f"店铺商品数【{it.listing_count}】（{pred.expr}）")
    nums = ctx.numbers()
    parts, matched = [], []
    fld = "price_text"
    if names & {"price", "ratio", "discount"} or (names & _REFERENCE_NAMES and "original_price" not in names):
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
    if names & _REFERENCE_NAMES:
        ref = ctx.reference()
        if ref is not None:
            parts.append(ref.describe())
            matched.extend(w for w in ref.words if w not in matched)
    for name in sorted(names - _BASIC["listing"] - _REFERENCE_NAMES):
        v = nums.get(name)
        if v is not None:
            parts.append(f"{WHEN_NAMES.get(name, name).split(' (')[0]} {name}={v:g}")
    return CheckEvidence(fld, matched, "，".join(parts) + f"（{pred.expr}）")
