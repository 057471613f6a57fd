"""Per-item state of one match: cached field texts, the numbers ``when:`` sees, and its evidence.

:class:`ItemText` normalises each field once (or takes ``item.norm``), strips separators once,
and works out the numbers a ``when:`` expression may use: ``price``, ``original_price``,
``ratio``, ``discount`` (listings), ``listing_count`` (shops), ``reference_price`` and
``reference_max`` (from ``rules/lists/reference_prices.yml``), and every number in
``item.history`` (filled by ``pipelines.history``: ``prev_price``, ``max_price_30d`` ...).
A name whose number is missing makes the expression false.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from pipelines.normalize import Stripped, normalize_text, parse_price, strip_many, strip_separators
from pipelines.rule_checks import CheckEvidence
from pipelines.rules_model import WHEN_FUNCTIONS, WHEN_NAMES, Predicate
from pipelines.rules_prices import ReferenceHit, ReferenceTable

_EMPTY = Stripped("", "")
_REFERENCE_NAMES = frozenset({"reference_price", "reference_max"})
_BASIC = {"listing": frozenset({"price", "original_price", "ratio", "discount"}), "shop": frozenset({"listing_count"})}


class ItemText:
    """Normalised and separator-stripped field texts and ``when:`` numbers of one item, computed once."""

    __slots__ = ("_norm", "_numbers", "_reference", "_strip", "item", "references", "tricks")

    def __init__(self, item: Any, references: ReferenceTable | None = None) -> None:
        self.item = item
        self.references = references
        self._norm: dict[str, str] = {}
        self._strip: dict[str, Stripped] = {}
        self._numbers: dict[str, float | None] | None = None
        self._reference: ReferenceHit | bool | None = False  # False: not looked up yet
        self.tricks: dict[tuple[str, int, int], str] = {}  # (field, start, end) -> term found through digit tricks

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
            st = self._strip[f] = strip_separators(norm) if norm else _EMPTY
        return st

    def strip_fields(self, fields: list[str]) -> list[Stripped]:
        """``stripped`` of several fields at once (one regex pass); fills the same caches.

        Called once per match on a fresh ``ItemText``, so nothing is cached yet."""
        pre = self.item.norm
        get = pre.get if pre else None
        norms = [get(f) if get else None for f in fields]
        for i, n in enumerate(norms):
            if n is None:  # not normalised by the pipeline (explain, examples, stored items without norm)
                norms[i] = normalize_text(getattr(self.item, fields[i], "") or "")
        self._norm.update(zip(fields, norms, strict=True))
        out = strip_many(norms) if any(norms) else [_EMPTY] * len(fields)
        self._strip.update(zip(fields, out, strict=True))
        return out

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

    def reference(self) -> ReferenceHit | None:
        """The reference-price entry the listing's title matches (None if none, or not a listing)."""
        if self._reference is False:
            hit = None
            if self.references is not None and self.item.kind == "listing":
                hit = self.references.lookup(self.stripped("title").text)
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
    """Evaluates compiled ``when:`` predicates with simpleeval (one evaluator per thread)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._order: dict[str, tuple[str, ...]] = {}

    def true(self, pred: Predicate, ctx: ItemText) -> bool:
        values = {}
        order = self._order.get(pred.expr)
        if order is None:  # item numbers first, the reference-price lookup (a title scan) last
            order = self._order[pred.expr] = tuple(sorted(pred.names, key=lambda n: (n in _REFERENCE_NAMES, n)))
        for name in order:
            v = ctx.number(name)
            if v is None:
                return False  # a missing number never satisfies a predicate
            values[name] = v
        evaluator = getattr(self._local, "eval", None)
        if evaluator is None:
            from simpleeval import SimpleEval

            evaluator = self._local.eval = SimpleEval(names={}, functions=dict(WHEN_FUNCTIONS))
        evaluator.names = values
        try:
            return bool(evaluator.eval(pred.expr, previously_parsed=pred.parsed))
        except Exception:  # division by zero, type errors ...: the predicate is simply false
            return False


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
