"""Tools for analysts, as functions over a RuleSet: ``explain``, ``explain_item`` (``explain_items``: many),
``run_examples``.

They build synthetic items and run them through :meth:`RuleSet.match`, the same engine a sweep
uses (test rules included). ``RuleSet`` offers them as methods too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from crawler.items import TEXT_FIELDS, Finding
from pipelines.match.errors import RuleLocation
from pipelines.match.loader import EXAMPLE_FIELDS, ITEM_CLASSES
from pipelines.match.model import Example, Rule


class RuleSet(Protocol):
    """What the analyst tools need of a :class:`pipelines.match.RuleSet`."""

    rules: list[Rule]

    def match(self, item: Any, *, only: set[str] | None = None, include_test: bool | None = None) -> list[Finding]:
        ...

    def match_many(self, items: Sequence[Any], *, only: set[str] | None = None,
                   include_test: bool | None = None) -> list[list[Finding]]:
        ...

#: fields ``explain`` does not fill with the text (they hold numbers, not prose)
STRUCTURED_FIELDS = frozenset({"price_text", "original_price_text", "license_number", "food_license"})


@dataclass
class ExampleResult:
    """One example of one rule, run through the engine."""

    rule_id: str
    pack: str
    text: str
    expected: bool  # True: the example must match
    got: bool
    matched: list[str] = field(default_factory=list)
    snippet: str = ""
    location: RuleLocation | None = None

    @property
    def ok(self) -> bool:
        return self.expected == self.got

    @property
    def detail(self) -> str:
        """What the engine did with the example, in one line."""
        if not self.got:
            return "no match"
        return f"match {', '.join(self.matched)} in {self.snippet}" if self.matched else f"match: {self.snippet}"

    def __str__(self) -> str:
        want = "应命中/should match" if self.expected else "不应命中/should not match"
        got = f"命中/matched {self.matched} {self.snippet}" if self.got else "未命中/no match"
        return f"{self.location or self.rule_id}: [{self.rule_id}] {want}: {self.text!r} -> {got}"


def item_from_dict(kind: str, values: dict[str, Any]) -> Any:
    """A ListingItem/ShopItem from plain values (YAML examples, JSON), coercing numbers and text."""
    item = ITEM_CLASSES[kind]()
    for k, v in values.items():
        if k in ("price", "original_price"):
            setattr(item, k, None if v is None else float(v))
        elif k in ("listing_count", "status"):
            setattr(item, k, int(v or 0))
        elif k == "rendered":
            setattr(item, k, bool(v))
        elif k == "history":  # price-history numbers (pipelines.history), e.g. {baseline_price: 399}
            setattr(item, k, {str(name): float(x) for name, x in (v or {}).items()})
        elif k in ("images", "image_urls"):
            setattr(item, k, v if isinstance(v, type(getattr(item, k))) else type(getattr(item, k))())
        elif k == "image_text" and isinstance(v, list):  # pictures with lines and boxes (as `netsword ocr --json`)
            from pipelines.images.text import images_from_json

            item.images = images_from_json(v)
        else:
            setattr(item, k, "" if v is None else str(v))
    return item


def explain(ruleset: RuleSet, text: str, kind: str = "listing", fields: list[str] | tuple[str, ...] | None = None
            ) -> list[Finding]:
    """Run every rule (test rules too) on a synthetic item whose text fields all hold ``text``.

    ``fields`` limits which fields get the text (default: every text field of ``kind`` except the
    number fields price_text, original_price_text, license_number, food_license).
    """
    if kind not in ITEM_CLASSES:
        raise ValueError(f"kind must be listing or shop, not {kind!r}")
    item = ITEM_CLASSES[kind](site="explain")
    setattr(item, "listing_id" if kind == "listing" else "shop_id", "explain")
    for f in fields or [f for f in TEXT_FIELDS[kind] if f not in STRUCTURED_FIELDS]:
        if f not in TEXT_FIELDS[kind]:
            raise ValueError(f"{kind} has no text field {f!r}")
        setattr(item, f, text)
    return ruleset.match(item, include_test=True)


def explain_item(ruleset: RuleSet, data: dict[str, Any], kind: str = "listing") -> list[Finding]:
    """Run every rule (test rules too) on an item given as a dict of item fields (e.g. stored JSON).

    ``data["kind"]`` wins over ``kind``; ``text`` fills every prose field; unknown keys and the
    derived fields (norm, tokens, findings) are ignored, so stored items can be fed back as they are.
    """
    return ruleset.match(item_for_explain(data, kind), include_test=True)


def explain_items(ruleset: RuleSet, items: Sequence[Any]) -> list[list[Finding]]:
    """:func:`explain_item` of many items (made by :func:`item_for_explain`) at once, with the engine's
    batched path (``RuleSet.match_many``): the same findings, faster."""
    return ruleset.match_many(items, include_test=True)


def item_for_explain(data: dict[str, Any], kind: str = "listing") -> Any:
    """The ListingItem/ShopItem :func:`explain_item` runs the rules on (ValueError for a wrong kind)."""
    kind = data.get("kind") or kind
    if kind not in ITEM_CLASSES:
        raise ValueError(f"kind must be listing or shop, not {kind!r}")
    values = {k: v for k, v in data.items() if k in EXAMPLE_FIELDS[kind] or k == "text"}
    text = values.pop("text", None)
    item = item_from_dict(kind, values)
    if not getattr(item, "listing_id" if kind == "listing" else "shop_id"):
        setattr(item, "listing_id" if kind == "listing" else "shop_id", "explain")
    if text is not None:
        for f in TEXT_FIELDS[kind]:
            if f not in STRUCTURED_FIELDS and not values.get(f):
                setattr(item, f, str(text))
    if isinstance(data.get("attributes"), dict):
        item.attributes = dict(data["attributes"])
    if item.images and any(img.get("lines") for img in item.images):
        from pipelines.images.text import assemble

        assemble(item)  # image_text and the lines' offsets: findings cite the picture and the box
    return item


def example_item(rule: Rule, example: Example, n: int = 0) -> Any:
    """The synthetic item an example stands for (text -> the rule's fields; mappings set fields)."""
    values = {"text": example.value} if isinstance(example.value, str) else dict(example.value)
    text = values.pop("text", None)
    item = item_from_dict(rule.applies_to, {"site": "example", **values})
    setattr(item, "listing_id" if rule.applies_to == "listing" else "shop_id", f"{rule.id}#{n}")
    if text is not None:
        for f in rule.fields:
            setattr(item, f, str(text))
    if rule.applies_to == "listing" and rule.scope and rule.scope.category_in and not item.category:
        item.category = rule.scope.category_in[0]
    return item


def run_examples(ruleset: RuleSet, pack: str | None = None) -> list[ExampleResult]:
    """Run every ``tests:`` example (of one pack, or all) through the engine, one rule at a time."""
    results = []
    for rule in ruleset.rules:
        if pack is not None and rule.pack != pack:
            continue
        for i, ex in enumerate(rule.examples):
            found = ruleset.match(example_item(rule, ex, i), only={rule.id}, include_test=True)
            hit = found[0] if found else None
            results.append(ExampleResult(rule.id, rule.pack, ex.label, ex.expected, hit is not None,
                                         hit.matched if hit else [], hit.snippet if hit else "", ex.location))
    return results
