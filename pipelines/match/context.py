"""Per-item state of one match: cached field texts, the numbers ``when:`` sees, and its evidence.

:class:`ItemText` normalises the fields once, all together (or takes ``item.norm``), strips
separators once, and works out the numbers a ``when:`` expression may use: ``price``,
``original_price``, ``ratio``, ``discount`` (listings), ``listing_count`` (shops),
``reference_price`` and ``reference_max`` (from ``rules/lists/reference_prices.yml``), and every
number in ``item.history`` (filled by ``pipelines.history``: ``prev_price``, ``max_price_30d`` ...).
A name whose number is missing makes the expression false. The ``when:`` language itself is
:mod:`pipelines.match.when`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from itertools import accumulate, repeat
from operator import add
from typing import Any

from pipelines.match.prices import ReferenceHit, ReferenceTable, Roles
from pipelines.match.when import REFERENCE_NAMES
from pipelines.normalize import Stripped, normalize_many, normalize_text, parse_price, strip_joined, strip_separators


class ItemText:
    """Normalised and separator-stripped field texts and ``when:`` numbers of one item, computed once."""

    __slots__ = ("_norm", "_numbers", "_present", "_reference", "_strip", "_texts", "_utf8", "item",
                 "reference_hits", "references", "tricks")

    def __init__(self, item: Any, references: ReferenceTable | None = None) -> None:
        self.item = item
        self.references = references
        self._norm: dict[str, str] = {}
        self._strip: dict[str, Stripped] = {}
        self._texts: dict[str, str] = {}  # field -> separator-stripped text (its Stripped is made when asked)
        self._utf8: dict[str, bytes] = {}  # field -> separator-stripped text in UTF-8 (for RE2)
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

    def utf8(self, f: str) -> bytes:
        """The separator-stripped text of ``f`` as UTF-8, encoded once for every rule regex."""
        data = self._utf8.get(f)
        if data is None:
            data = self._utf8[f] = self.stripped(f).text.encode("utf-8")
        return data

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
            try:
                raw = list(map(getattr, repeat(item), fields))
            except AttributeError:
                raw = [getattr(item, f, "") for f in fields]
            norms = normalize_many(raw if None not in raw else [t or "" for t in raw])
        self._norm.update(zip(fields, norms, strict=True))
        joined, texts = strip_joined(norms)
        self._texts.update(zip(fields, texts, strict=True))
        starts = [0, *accumulate(map(add, map(len, texts), repeat(1)))]
        starts.pop()
        return joined, starts

    def fill(self, fields: list[str], norms: list[str], texts: list[str]) -> None:
        """What :meth:`scan_text` would have found: the normalised and separator-stripped ``fields``
        (``RuleSet.match_many`` works them out for many items at once)."""
        self._norm.update(zip(fields, norms, strict=True))
        self._texts.update(zip(fields, texts, strict=True))

    def numbers(self) -> dict[str, float | None]:
        if self._numbers is None:
            self._numbers = item_numbers(self.item)
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
        if name in REFERENCE_NAMES:
            ref = self.reference()
            if ref is None:
                return None
            return ref.price if name == "reference_price" else ref.max
        return self.numbers().get(name)


#: an "original" price written in the listing's own words ("原价999 现价99"): for pages whose struck-through
#: price is not a field of its own (LEGAL-BASES: "原价999现价99 with no basis" is a price-fraud lead)
_LABELLED_ORIGINAL = re.compile(r"(?:原价|原價|划线价|劃線價|专柜价|專櫃價|市场价|市場價|吊牌价|吊牌價|门市价|門市價)"
                                r"\s*[:：]?\s*(?:RMB|CNY|[¥￥])?\s*(\d[\d,]*(?:\.\d+)?)")
LABELLED_FIELDS = ("title", "promo", "description")


def labelled_original_price(it: Any) -> float | None:
    """The first "原价/划线价/专柜价/市场价/吊牌价/门市价 + amount" in the title, promo or description (None: none)."""
    for f in LABELLED_FIELDS:
        text = getattr(it, f, "") or ""
        if "价" in text or "價" in text:
            m = _LABELLED_ORIGINAL.search(text)
            if m:
                return float(m.group(1).replace(",", ""))
    return None


#: numbers a listing may give in its words when it has no field for them (RuleSet._may_hold and match_many's
#: column checks count them as given; item_numbers reads them)
IN_WORDS: dict[str, Callable[[Any], float | None]] = {"original_price": labelled_original_price}


def given_in_words(it: Any, number: str) -> bool:
    """Whether listing ``it`` states ``number`` in its words (``原价999``) though no field gives it."""
    read = IN_WORDS.get(number)
    return read is not None and read(it) is not None


def item_numbers(it: Any) -> dict[str, float | None]:
    """The numbers of item ``it`` a ``when:`` may use, but the reference prices (see the module docstring).
    Without an original price of its own, a listing's is the one its words give ("原价999")."""
    if it.kind == "listing":
        p = it.price if it.price is not None else parse_price(it.price_text)[0]
        op = it.original_price if it.original_price is not None else parse_price(it.original_price_text)[0]
        if op is None:
            op = IN_WORDS["original_price"](it)
        n: dict[str, float | None] = {"price": p, "original_price": op,
                                      "ratio": op / p if p and op is not None and p > 0 else None,
                                      "discount": p / op if op and p is not None and op > 0 else None}
        for k, v in (getattr(it, "history", None) or {}).items():
            if k not in n and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                n[k] = float(v)
        return n
    return {"listing_count": float(it.listing_count) if it.listing_count is not None else None}
