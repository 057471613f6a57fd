"""Typed, compiled rule objects and the errors rule loading raises.

Rule packs (``rules/*.yml``) are parsed by :mod:`pipelines.match.loader` into these
dataclasses; :mod:`pipelines.match.engine` compiles their terms into automata and runs them.
Every object keeps the :class:`RuleLocation` it came from, so an error or a failing example
can name the file and line an analyst has to open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.items import SubjectKind

from .errors import RuleLocation
from .regexes import RulePattern
from .when import Predicate


@dataclass(frozen=True)
class TermSource:
    """One term as an analyst wrote it (in a pack or a list file) and the key it is matched by."""

    written: str
    term: str  # normalised, separators removed: what the automaton looks for
    location: RuleLocation | None = None


@dataclass(frozen=True)
class Variant:
    """An extra spelling of a term: gaofang / gf for 高仿 (groups with ``pinyin: true``), louls vuitton for
    louis vuitton (every latin term of several words)."""

    text: str  # what the automaton looks for (latin, matched as whole latin words)
    term: str  # the term it stands for
    how: str  # "pinyin" | "initials" | "lookalike" (l for i in a latin term of several words)


@dataclass(frozen=True)
class TermGroup:
    """A set of terms; ``terms`` are the normalised forms the automaton looks for."""

    terms: tuple[str, ...]
    location: RuleLocation | None = None
    sources: tuple[TermSource, ...] = field(default=(), compare=False, repr=False)
    variants: tuple[Variant, ...] = ()  # pinyin / initials spellings (opt-in per group)
    pinyin: str = ""  # "" | "full" | "initials" | "both": what the analyst asked for

    def __bool__(self) -> bool:
        return bool(self.terms)


@dataclass(frozen=True)
class Near:
    a: TermGroup
    b: TermGroup
    within: int  # max characters between the end of one hit and the start of the other
    # ``title: true``: the kind's title field (listing: title, shop: name); a hit there also pairs with the other
    # side's hit in any other field (the title names the goods, the description makes the claim). None: same field only
    title_field: str | None = None


@dataclass(frozen=True)
class Unless:
    """Allow contexts: a hit inside (or, with ``within``, near) one of these terms is dropped."""

    terms: TermGroup
    within: int | None = None  # None: the hit must lie inside the unless-term occurrence


@dataclass(frozen=True)
class Scope:
    """Where a rule applies: listings in these site categories OR items mentioning these terms."""

    category_in: tuple[str, ...] = ()  # normalised; substring match on item.category
    terms: TermGroup | None = None
    fields: tuple[str, ...] = ()  # fields searched for scope terms (default: every text field)
    # a scope term lying inside one of these does not count (咖啡 in 咖啡色: a colour, not coffee)
    unless: TermGroup | None = None


@dataclass(frozen=True)
class Example:
    """One ``tests:`` entry: a text (set as the rule's fields) or item fields."""

    value: str | dict[str, Any]
    expected: bool  # True: must match; False: must not
    location: RuleLocation | None = None

    @property
    def label(self) -> str:
        if isinstance(self.value, str):
            return self.value
        return ", ".join(f"{k}={v!r}" for k, v in self.value.items())


@dataclass
class Rule:
    id: str
    title: str
    category: str
    severity: str
    basis: str
    applies_to: SubjectKind
    fields: tuple[str, ...]
    pack: str
    version: str
    status: str = "stable"
    any: TermGroup | None = None
    all: tuple[TermGroup, ...] = ()
    near: Near | None = None
    regex: tuple[RulePattern, ...] = ()  # RE2 programs (pipelines.match.regexes)
    unless: Unless | None = None
    none: TermGroup | None = None
    words: frozenset[str] = frozenset()
    when: Predicate | None = None
    check: str | None = None
    scope: Scope | None = None
    #: categories whose findings on the same subject make this one incidental (one case, one main problem)
    yields_to: tuple[str, ...] = ()
    #: only hits written in disguise count (look-alike letters, digits or an l for letters, separators)
    disguised: bool = False
    #: negation cues (lists/negation.txt): a term hit shortly after one in the same clause ("不含任何象牙",
    #: "本店不销售弹簧刀") does not count
    negation: TermGroup | None = None
    #: negation cues that follow what they negate (lists/negation_after.txt: "与象牙无关"), if the list exists
    negation_after: TermGroup | None = None
    note: str = ""
    examples: tuple[Example, ...] = ()
    location: RuleLocation | None = None

    @property
    def has_terms(self) -> bool:
        return bool(self.any or self.all or self.near)


@dataclass
class Pack:
    name: str
    version: str
    path: str
    title: str = ""
    rules: list[Rule] = field(default_factory=list)
