"""Reference prices of branded goods (``rules/lists/reference_prices.yml``) for price rules.

A listing whose title names a brand and one of that brand's products (劳力士 + 手表) gets
``reference_price`` (the lowest price the genuine product usually sells at) and, if the
table gives one, ``reference_max`` (the highest) as numbers a ``when:`` expression can use::

    when: "price < 0.2 * reference_price"          # far below any genuine price: counterfeit hint
    when: "original_price > 2 * reference_max"     # struck-through price above any genuine price

Titles with an ``exclude`` term (适用于, 手机壳, 定金, 补差价 ...) get no reference price: an
accessory, a deposit or a price-difference link is cheap for good reasons. When several
entries match, the lowest ``price`` and the highest ``max`` count (the benefit of the doubt).
The file format is in ``rules/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.match.automaton import Scanner
from pipelines.match.errors import RuleError, RuleLocation, RuleSchemaError, RuleValueError
from pipelines.match.source import YList, YMap, parse_yaml
from pipelines.normalize import normalize_text, strip_separators

REFERENCE_FILE = "lists/reference_prices.yml"
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ENTRY_KEYS = ("brand", "product", "price", "max", "note")
_FILE_KEYS = ("version", "exclude", "products")
_EXAMPLE = "- {brand: [劳力士, rolex], product: [手表, 腕表], price: 30000, max: 800000}"


@dataclass(frozen=True)
class Reference:
    brand: tuple[str, ...]  # normalised terms
    product: tuple[str, ...]
    price: float
    max: float | None
    location: RuleLocation

    @property
    def label(self) -> str:
        return f"{self.brand[0]} {self.product[0]}"


@dataclass(frozen=True)
class ReferenceHit:
    """What a title matched: the reference numbers and the entries and words behind them."""

    price: float | None
    max: float | None
    refs: tuple[Reference, ...]
    words: tuple[str, ...]  # brand and product words as found in the title

    def describe(self) -> str:
        ref = min(self.refs, key=lambda r: r.price)
        hi = f"～¥{self.max:,.0f}" if self.max is not None else " 起"
        return f"品牌参考价 {ref.label} ¥{self.price:,.0f}{hi}（{ref.location}）"


def _key(term: str) -> str:
    return strip_separators(normalize_text(term)).text


Roles = tuple[tuple[str, int], ...]  # what a word is in the table: ("brand" | "product" | "exclude", entry index)


class ReferenceTable:
    """The compiled table: one automaton over every brand, product and exclude word.

    The rule engine also puts these words into its own listing automaton and hands the title's
    hits to :meth:`resolve`, so a match scans the title once."""

    def __init__(self, refs: list[Reference], exclude: tuple[str, ...], backend: str, path: str = "") -> None:
        self.refs = refs
        self.exclude = exclude
        self.path = path
        roles: dict[str, list[tuple[str, int]]] = {}
        for i, r in enumerate(refs):
            for t in r.brand:
                roles.setdefault(t, []).append(("brand", i))
            for t in r.product:
                roles.setdefault(t, []).append(("product", i))
        for t in exclude:
            roles.setdefault(t, []).append(("exclude", -1))
        #: word -> its roles
        self.roles: dict[str, Roles] = {t: tuple(v) for t, v in roles.items()}
        words = list(roles)
        payloads = [(t, t[0] in _ALNUM, t[-1] in _ALNUM, (self.roles[t],)) for t in words]
        self._scanner = Scanner(words, payloads, backend) if words else None  # type: ignore[arg-type]

    def lookup(self, text: str) -> ReferenceHit | None:
        """Reference numbers for a normalised, separator-stripped title (None if no entry matches)."""
        if not text or self._scanner is None:
            return None
        found = []
        for i, s, e in self._scanner.scan(text):
            _, left, right, (roles,) = self._scanner.payloads[i]
            if (left and s and text[s - 1] in _ALNUM) or (right and e < len(text) and text[e] in _ALNUM):
                continue
            found.append((roles, s, e))
        return self.resolve(text, found)

    def resolve(self, text: str, found: list[tuple[Roles, int, int]]) -> ReferenceHit | None:
        """:meth:`lookup` from the title's word hits (roles, start, end), whole latin words only, in the
        order an overlapping Aho-Corasick scan reports them."""
        brands: dict[int, str] = {}
        products: dict[int, str] = {}
        for roles, s, e in found:
            for role, ref in roles:
                if role == "exclude":
                    return None
                (brands if role == "brand" else products).setdefault(ref, text[s:e])
        matched = [i for i in brands if i in products]
        if not matched:
            return None
        refs = tuple(self.refs[i] for i in matched)
        maxes = [r.max for r in refs if r.max is not None]
        words = tuple(dict.fromkeys(w for i in matched for w in (brands[i], products[i])))
        return ReferenceHit(min(r.price for r in refs), max(maxes) if maxes else None, refs, words)


def _terms(value: Any, what: str, loc: RuleLocation) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    elif isinstance(value, YList):  # numbers-looking words (2.55, 1:1) as written
        value = [v if isinstance(v, str) else raw for v, raw in zip(value, value.raw, strict=True)]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RuleSchemaError(f"'{what}' 应为词的列表 / '{what}' must be a list of words", loc,
                              f"例如 / for example: {_EXAMPLE}")
    out = tuple(dict.fromkeys(_key(v) for v in value))
    if not all(out):
        raise RuleValueError(f"'{what}' 含空词 / empty word in '{what}'", loc)
    return out


def _number(m: YMap, key: str) -> float:
    v = m[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        raise RuleValueError(f"'{key}' 应为正数（元）/ '{key}' must be a positive number of yuan, not {v!r}",
                             m.key_loc[key], f"例如 / for example: {key}: 30000")
    return float(v)


def load_references(rules_dir: Path, backend: str, collect_errors: bool = False
                    ) -> tuple[ReferenceTable | None, list[RuleError]]:
    """Read ``<rules_dir>/lists/reference_prices.yml``; (None, []) when the file does not exist."""
    path = Path(rules_dir) / REFERENCE_FILE
    if not path.is_file():
        return None, []
    errors: list[RuleError] = []
    refs: list[Reference] = []
    exclude: tuple[str, ...] = ()
    shown = str(path)
    short = f"{Path(rules_dir).resolve().name}/{REFERENCE_FILE}"  # what a finding's snippet cites
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"), shown)
        top = RuleLocation(shown, 1)
        if not isinstance(data, YMap) or "products" not in data:
            raise RuleSchemaError("参考价表应有 'products:' 列表 / the table needs a 'products:' list", top,
                                  f"例如 / for example:\nproducts:\n  {_EXAMPLE}")
        for key in data:
            if key not in _FILE_KEYS:
                raise RuleSchemaError(f"未知的键 '{key}' / unknown key '{key}'", data.key_loc[key],
                                      f"可用的键 / allowed keys: {', '.join(_FILE_KEYS)}")
        if "exclude" in data:
            exclude = _terms(data["exclude"], "exclude", data.key_loc["exclude"])
        products = data["products"]
        if not isinstance(products, YList):
            raise RuleSchemaError("'products' 应为列表 / 'products' must be a list", data.key_loc["products"],
                                  f"例如 / for example: {_EXAMPLE}")
    except RuleError as err:
        if not collect_errors:
            raise
        return None, [err]
    for i, entry in enumerate(products):
        loc = products.item_loc[i]
        try:
            if not isinstance(entry, YMap):
                raise RuleSchemaError("每一项应为映射 / each entry is a mapping", loc,
                                      f"例如 / for example: {_EXAMPLE}")
            for key in entry:
                if key not in _ENTRY_KEYS:
                    raise RuleSchemaError(f"未知的键 '{key}' / unknown key '{key}'", entry.key_loc[key],
                                          f"可用的键 / allowed keys: {', '.join(_ENTRY_KEYS)}")
            for key in ("brand", "product", "price"):
                if key not in entry:
                    raise RuleSchemaError(f"缺少 '{key}' / missing '{key}'", loc, f"例如 / for example: {_EXAMPLE}")
            price = _number(entry, "price")
            hi = _number(entry, "max") if "max" in entry else None
            if hi is not None and hi < price:
                raise RuleValueError(f"max ({hi:g}) 小于 price ({price:g}) / max is below price", entry.key_loc["max"])
            refs.append(Reference(_terms(entry["brand"], "brand", entry.key_loc["brand"]),
                                  _terms(entry["product"], "product", entry.key_loc["product"]), price, hi,
                                  RuleLocation(short, loc.line)))
        except RuleError as err:
            if not collect_errors:
                raise
            errors.append(err)
    return ReferenceTable(refs, exclude, backend, shown), errors
