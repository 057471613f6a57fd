"""The rule engine: rule packs in, Findings out.

``RuleSet.load()`` reads every pack in ``rules/`` once and compiles all terms of all rules
into ONE Aho-Corasick automaton per subject kind (listing, shop); every term carries, per
field, the (rule, term group) pairs that use it. The listing automaton also holds the words of
the reference-price table, so the title is not scanned again for ``reference_price``.
Matching an item normalises its fields in one pass (or takes ``item.norm``), removes
obfuscating separators, and scans all fields, joined by NUL, in one call. Only rules with hits
are evaluated further, and only if every positive term group (any, each ``all`` group, both
``near`` sides) has a hit: scope, none, unless, whole words (jieba, only where such a term hit),
near, all, regex (RE2, :mod:`pipelines.match.regexes`: linear time, so one hostile pattern cannot
hold the reactor), check, when. The few rules without terms (``when``/``check``/``regex``) run
after them, ``when`` first and only with the item's numbers present (price rules).

The automaton library is ``ahocorasick_rs`` (Rust) when installed, else ``pyahocorasick``,
whose per-character cost grows with the number of distinct first characters of the terms
(about 4x slower with the packs plus 5,000 list terms); ``NETSWORD_MATCH_BACKEND`` forces one.
Both give the same findings (the tests run both). ``python -m bench bench_match`` measures it.

Other spellings: pinyin / initials variants of opted-in groups are ordinary automaton keys
that stand for their term; latin words with digits for letters (``n1ke``) are looked up by
:class:`pipelines.match.variants.DigitTricks`. Both are reported in ``Finding.deobfuscated``.

Many items at once (rescan, ``rules explain --jsonl``): :meth:`RuleSet.match_many` gives the same
findings as ``match`` item by item, batched (:mod:`pipelines.match.batch`): per 256 items each
distinct field text is normalised, separator-stripped and scanned once, all together (joined by
NUL, which no term holds); an item is looked at alone only when a term hit is in the *gate* group
of a rule (its positive term group least likely to hit, short words weighing most: no rule fires
without a hit there) and
some rule has a hit in every positive group, or when a rule without terms could fire on it (a price
rule's ``when`` holds for the item's numbers, or names a reference price its title may give).
Price rules are skipped by the same prerequisites item by item too, before prices are parsed.

A rule gives at most one Finding per subject (the first hit in field order), so its
``finding_id`` is stable across sweeps.

    ruleset = RuleSet.load()
    findings = ruleset.match(item)            # pure: the item is not changed
    per_item = ruleset.match_many(items)      # the same, batched: [match(item) for item in items]
    ruleset.explain("高仿LV包包 1:1复刻")      # what would fire on this text
    [r for r in ruleset.run_examples() if not r.ok]

``MatchPipeline`` is the Scrapy item pipeline (settings ``MATCH_RULES_DIR``,
``MATCH_INCLUDE_TEST``; stats ``match/items``, ``match/findings``, ``match/hits/<category>``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from crawler.items import TEXT_FIELDS, Finding, image_hit
from netsword import config as netsword_config
from netsword.clock import utc_now
from pipelines.match import explain as analyst
from pipelines.match.automaton import Scanner, pick_backend
from pipelines.match.batch import match_batch
from pipelines.match.checks import CHECKS, CheckEvidence
from pipelines.match.context import ItemText, given_in_words
from pipelines.match.errors import (
    RuleError,
)
from pipelines.match.explain import ExampleResult
from pipelines.match.hits import (
    ALNUM,
    G_ALL,
    G_ANY,
    G_NEAR_A,
    G_NEAR_B,
    G_NEGATION,
    G_NEGATION_AFTER,
    G_NONE,
    G_SCOPE,
    G_SCOPE_UNLESS,
    G_UNLESS,
    Hit,
    new_hit,
)
from pipelines.match.loader import load_packs
from pipelines.match.model import Pack, Rule, TermGroup, Variant
from pipelines.match.prices import ReferenceTable, Roles, load_references
from pipelines.match.variants import NOTE_DIGITS, DigitTricks, variant_note
from pipelines.match.when import BASIC_NAMES, REFERENCE_NAMES, WhenEvaluator, when_evidence
from pipelines.normalize import (
    NOTE_HOMOGLYPH,
    NOTE_SEPARATORS,
    NOTE_ZERO_WIDTH,
    notes_for_fragment,
    word_bounds,
)

SNIPPET_CONTEXT = 30  # characters of normalised text either side of the hit
WORD_WINDOW = 12  # characters either side of a hit given to jieba for the whole-word check
NEGATION_WITHIN = 8  # `negation: true`: characters between a negation cue and the hit it negates, at most
NEGATION_LIST_WITHIN = 30  # ... when what lies between is a list (、): 不销售卷烟、雪茄、烟丝、电子烟
NEGATION_AFTER_WITHIN = 4  # characters between a hit and a cue that follows it (与象牙无关)
CLAUSE_END = re.compile(r"[,，。.;；!！?？:：\n\x00|]")  # a negation cue does not reach across these
#: ... nor across these words, which turn to what is sold: "不销售二手货，只卖全新的电子烟"
SCOPE_BREAK = re.compile(r"只|仅|但|却|而是|专卖|专营|only|but")
#: the item attributes (number, shown text) each basic ``when`` number comes from (ItemText.numbers)
WHEN_INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "price": (("price", "price_text"),),
    "original_price": (("original_price", "original_price_text"),),
    "ratio": (("price", "price_text"), ("original_price", "original_price_text")),
    "discount": (("price", "price_text"), ("original_price", "original_price_text")),
    "listing_count": (("listing_count", ""),),
}


#: items matched together by :meth:`RuleSet.match_many` (one normalisation pass, one scan)
BATCH = 256

_group = itemgetter(0)  # a Hit's group


def _span(h: Hit) -> tuple[str, int, int, str]:
    return h.field, h.start, h.end, h.term


@dataclass
class _Evidence:
    hits: list[tuple[str, int, int, str]] = field(default_factory=list)  # (field, start, end, term), stripped text
    combine: bool = False  # one highlighted span over all hits in the first field (near)
    check: CheckEvidence | None = None


def _hit_weight(group: TermGroup) -> float:
    """How often a term group is expected to hit, roughly: its terms counted, a word of one character as 3,
    of two characters (快递, 修改) as 1, a longer one (与本店无关, 概不负责) as 0.3 -- short words are everywhere.
    match_many looks at an item for a rule only when its gate group (the lowest weight) hits there."""
    return sum(_TERM_WEIGHT.get(len(t), 0.3) for t in group.terms) + 0.3 * len(group.variants)


_TERM_WEIGHT = {1: 3.0, 2: 1.0}


class RuleSet:
    """All loaded packs, compiled. Build with :meth:`load`."""

    def __init__(self, packs: list[Pack], rules_dir: Path | None = None, errors: list[RuleError] | None = None,
                 include_test: bool = False, backend: str | None = None,
                 references: ReferenceTable | None = None) -> None:
        self.packs = packs
        self.backend = pick_backend(backend)
        self.references = references
        self.rules_dir = rules_dir
        self.errors = list(errors or [])
        self.include_test = include_test
        self.rules: list[Rule] = [r for p in packs for r in p.rules]
        # rule id -> its positions in self.rules (a rule for listings and shops has one per kind)
        self._index: dict[str, tuple[int, ...]] = {}
        for i, r in enumerate(self.rules):
            self._index[r.id] = (*self._index.get(r.id, ()), i)
        self.by_id: dict[str, Rule] = {}  # rule id -> the rule (its first kind's)
        for r in self.rules:
            self.by_id.setdefault(r.id, r)
        self._stable = [r.status == "stable" for r in self.rules]
        self._field_order = [{f: i for i, f in enumerate(r.fields)} for r in self.rules]
        # each rule's conditions, in the order they are checked (a regex, else the first, gives the evidence)
        self._conditions = [self._conditions_of(r) for r in self.rules]
        # which condition gives the evidence: a regex when the rule has one (its match is the whole claim,
        # the terms beside it only gate it), else the first
        self._evidence_at = [next((i for i, c in enumerate(conds) if c == self._cond_regex), 0)
                             for conds in self._conditions]
        self._compile()
        self._when = WhenEvaluator()

    # ------------------------------------------------------------ loading

    def __deepcopy__(self, memo: dict[int, Any]) -> RuleSet:
        """Compiled rules are not changed after load: copies (Scrapy copies its settings) share them."""
        return self

    def _conditions_of(self, rule: Rule) -> list[Any]:
        kinds = (("near", self._cond_near), ("any", self._cond_any), ("all", self._cond_all),
                 ("regex", self._cond_regex), ("check", self._cond_check), ("when", self._cond_when))
        return [method for key, method in kinds if getattr(rule, key)]

    @classmethod
    def load(cls, rules_dir: Path | str | None = None, *, collect_errors: bool = False,
             include_test: bool = False, backend: str | None = None) -> RuleSet:
        """Load and compile every pack in ``rules_dir`` (default: the configured rules dir, :mod:`netsword.config`).

        Errors raise a :class:`RuleError` subclass naming file and line; with
        ``collect_errors=True`` the faulty rules are skipped and ``ruleset.errors`` lists every
        problem. ``include_test`` makes :meth:`match` also run rules with ``status: test``.
        ``backend`` picks the automaton library (default ``$NETSWORD_MATCH_BACKEND`` or auto).
        """
        d = Path(rules_dir) if rules_dir is not None else netsword_config.rules_dir()
        packs, errors = load_packs(d, collect_errors=collect_errors)
        backend = pick_backend(backend)
        references, ref_errors = load_references(d, backend, collect_errors=collect_errors)
        return cls(packs, d, errors + ref_errors, include_test, backend, references)

    def _compile(self) -> None:
        table: dict[tuple[str, str], dict[str, list[tuple[int, int]]]] = defaultdict(dict)

        def add(ridx: int, fields: tuple[str, ...], terms: tuple[str, ...], group: int) -> None:
            kind = self.rules[ridx].applies_to
            for f in fields:
                t = table[(kind, f)]
                for term in terms:
                    t.setdefault(term, []).append((ridx, group))

        def add_group(ridx: int, g: TermGroup, group: int) -> None:
            add(ridx, self.rules[ridx].fields, g.terms, group)
            if g.variants:
                add(ridx, self.rules[ridx].fields, tuple(v.text for v in g.variants), group)
                for v in g.variants:
                    self._variants[ridx].setdefault(v.text, v)

        self._always: dict[str, list[int]] = {k: [] for k in TEXT_FIELDS}
        # names of each rule's `when` the item itself provides (not the reference-price lookup)
        self._item_names = [frozenset(n for n in r.when.names if not n.startswith("reference_")) if r.when
                            else frozenset() for r in self.rules]
        # what each `when` needs beyond the item's prices: a reference price, price-history numbers
        self._when_needs_reference = [bool(r.when and r.when.names & REFERENCE_NAMES) for r in self.rules]
        self._when_history = [tuple(sorted(r.when.names - REFERENCE_NAMES - BASIC_NAMES[r.applies_to])) if r.when
                              else () for r in self.rules]
        self._when_inputs = [tuple(dict.fromkeys(x for n in sorted(r.when.names) for x in WHEN_INPUTS.get(n, ())))
                             if r.when else () for r in self.rules]
        self._variants: list[dict[str, Variant]] = [{} for _ in self.rules]
        # the positive groups every hit list needs before a rule can fire
        self._required = [frozenset(([G_ANY] if r.any else []) + [G_ALL + j for j in range(len(r.all))]
                                    + ([G_NEAR_A, G_NEAR_B] if r.near else [])) for r in self.rules]
        # the positive group each rule is gated by in match_many: the one least likely to hit (a rule fires
        # only with a hit in each positive group, so any of them is a correct gate); None: a rule without one
        self._gate: list[int | None] = []
        for r in self.rules:
            groups = ([(r.any, G_ANY)] if r.any else []) + [(g, G_ALL + j) for j, g in enumerate(r.all)] + (
                [(r.near.a, G_NEAR_A), (r.near.b, G_NEAR_B)] if r.near else [])
            self._gate.append(min((_hit_weight(g), code) for g, code in groups)[1] if groups else None)
        for i, r in enumerate(self.rules):
            if r.any:
                add_group(i, r.any, G_ANY)
            for j, g in enumerate(r.all):
                add_group(i, g, G_ALL + j)
            if r.near:
                add_group(i, r.near.a, G_NEAR_A)
                add_group(i, r.near.b, G_NEAR_B)
            if r.unless:
                add(i, r.fields, r.unless.terms.terms, G_UNLESS)
            if r.none:
                add(i, r.fields, r.none.terms, G_NONE)
            if r.negation:
                add(i, r.fields, r.negation.terms, G_NEGATION)
            if r.negation_after:
                add(i, r.fields, r.negation_after.terms, G_NEGATION_AFTER)
            if r.scope and r.scope.terms:
                add(i, r.scope.fields, r.scope.terms.terms, G_SCOPE)
                if r.scope.unless:
                    add(i, r.scope.fields, r.scope.unless.terms, G_SCOPE_UNLESS)
            if not r.has_terms:
                self._always[r.applies_to].append(i)
        # the rules without terms that run when no rule selection is given (without / with test rules)
        self._always_run = {False: {k: [r for r in a if self._stable[r]] for k, a in self._always.items()},
                            True: self._always}
        self._compile_automata(table)

    def _compile_automata(self, table: dict[tuple[str, str], dict[str, list[tuple[int, int]]]]) -> None:
        """ONE automaton per subject kind over all fields' terms; each term carries, per field, the
        (rule, group) pairs it feeds. An item's fields are scanned in one call, joined by NUL. The
        listing automaton also holds the reference-price words, looked for in the title only."""
        self._automata: dict[str, Scanner] = {}
        self._tricks: dict[str, DigitTricks] = {}
        self._scan_fields: dict[str, list[str]] = {}
        self._ref_roles: dict[str, list[Roles | None]] = {}  # per term index: its reference-table roles
        self._title_at: dict[str, int] = {}
        self._batchable: dict[str, bool] = {}
        self._gates: dict[str, list[tuple[frozenset[int], ...]]] = {}
        self._gate_bits: dict[str, list[int]] = {}
        self._latin: dict[str, list[bool]] = {}
        self._feeds: dict[str, list[list[dict[int, tuple[int, ...]]]]] = {}
        self._has_roles: dict[str, list[bool]] = {}
        for kind, fields in TEXT_FIELDS.items():
            scan_fields = [f for f in fields if table.get((kind, f))]
            self._scan_fields[kind] = scan_fields
            if not scan_fields:
                continue
            words = list(dict.fromkeys(t for f in scan_fields for t in table[(kind, f)]))
            self._tricks[kind] = DigitTricks(words)  # rule terms only
            roles = self.references.roles if self.references and kind == "listing" and "title" in scan_fields else {}
            if roles:
                have = set(words)
                words += [t for t in roles if t not in have]
                self._ref_roles[kind] = [roles.get(t) for t in words]
                self._title_at[kind] = scan_fields.index("title")
            payloads = [(t, t[0] in ALNUM, t[-1] in ALNUM,
                         tuple(tuple(dict.fromkeys(table[(kind, f)].get(t, ()))) for f in scan_fields))
                        for t in words]
            self._automata[kind] = Scanner(words, payloads, self.backend)
            self._latin[kind] = [p[1] or p[2] for p in payloads]  # terms that must be whole latin words
            self._has_roles[kind] = [r is not None for r in self._ref_roles.get(kind, [None] * len(words))]
            # per term and scanned field: the rules whose gate group the term is in there, and per term the
            # fields (bit k: field k) where it is in one (match_many)
            gates = [tuple(frozenset(ridx for ridx, group in members if self._gate[ridx] in (None, group))
                           for members in p[3]) for p in payloads]
            self._gates[kind] = gates
            # per rule and scanned field: the terms it uses there -> their groups (in payload order)
            feeds: list[list[dict[int, tuple[int, ...]]]] = [[{} for _ in scan_fields] for _ in self.rules]
            for i, p in enumerate(payloads):
                for k, members in enumerate(p[3]):
                    for ridx, group in members:
                        feeds[ridx][k][i] = (*feeds[ridx][k].get(i, ()), group)
            self._feeds[kind] = feeds
            self._gate_bits[kind] = [sum(1 << k for k, rules in enumerate(g) if rules) for g in gates]
            # match_many joins items by NUL: a term with a NUL in it (none can be written in YAML) could
            # match across two items, so such rule sets match item by item
            self._batchable[kind] = not any("\x00" in t for t in words)

    # ------------------------------------------------------------ matching

    def match(self, item: Any, *, only: set[str] | None = None, include_test: bool | None = None) -> list[Finding]:
        """Findings for one ListingItem or ShopItem (at most one per rule). Does not modify the item.

        ``only``: rule ids to run (default all); ``include_test``: also run ``status: test`` rules
        (default: as the RuleSet was loaded)."""
        indices = None if only is None else {i for r in only for i in self._index.get(r, ())}
        return self._match(item, indices, self.include_test if include_test is None else include_test)

    def match_many(self, items: Sequence[Any], *, only: set[str] | None = None,
                   include_test: bool | None = None) -> list[list[Finding]]:
        """``[self.match(item) for item in items]``, the same findings, faster: the items are matched in
        batches of :data:`BATCH` per subject kind, each normalised, separator-stripped and scanned as one
        text (fields and items joined by NUL, which no term holds and the scan cannot cross); only items
        with term hits, or whose price rules' prerequisites hold, are looked at one by one."""
        indices = None if only is None else {i for r in only for i in self._index.get(r, ())}
        inc = self.include_test if include_test is None else include_test
        kinds = {item.kind for item in items}
        if len(kinds) == 1:  # the usual case: listings only, or shops only
            kind = kinds.pop()
            return [found for a in range(0, len(items), BATCH)
                    for found in match_batch(self, kind, list(items[a:a + BATCH]), indices, inc)]
        out: list[list[Finding]] = [[] for _ in items]
        by_kind: dict[str, list[int]] = {}
        for n, item in enumerate(items):
            by_kind.setdefault(item.kind, []).append(n)
        for kind, positions in by_kind.items():
            for a in range(0, len(positions), BATCH):
                chunk = positions[a:a + BATCH]
                for n, found in zip(chunk, match_batch(self, kind, [items[n] for n in chunk], indices, inc),
                                    strict=True):
                    out[n] = found
        return out

    def _complete(self, hits: dict[int, list[Hit]], only: set[int] | None, include_test: bool) -> list[int]:
        """The rules that may run and have a hit in every positive term group (the first test of
        :meth:`_evaluate`), in rule order."""
        if not hits:
            return []
        required, stable = self._required, self._stable
        return [ridx for ridx in sorted(hits) if (only is None or ridx in only) and (include_test or stable[ridx]) and (
            not required[ridx] or required[ridx].issubset(map(_group, hits[ridx])))]

    # ------------------------------------------------------------ analyst tools (pipelines.match.explain)

    def explain(self, text: str, kind: str = "listing", fields: list[str] | tuple[str, ...] | None = None
                ) -> list[Finding]:
        """What would fire on ``text`` (see :func:`pipelines.match.explain.explain`)."""
        return analyst.explain(self, text, kind, fields)

    def explain_item(self, data: dict[str, Any], kind: str = "listing") -> list[Finding]:
        """What would fire on an item given as a dict (see :func:`pipelines.match.explain.explain_item`)."""
        return analyst.explain_item(self, data, kind)

    example_item = staticmethod(analyst.example_item)

    def run_examples(self, pack: str | None = None) -> list[ExampleResult]:
        """Every rule's ``tests:`` examples (see :func:`pipelines.match.explain.run_examples`)."""
        return analyst.run_examples(self, pack)

    def _match(self, item: Any, only: set[int] | None, include_test: bool) -> list[Finding]:
        ctx = ItemText(item, self.references)
        hits = self._scan(item.kind, ctx) if self._scan_fields[item.kind] else {}
        return self._decide(item, ctx, hits, only, include_test)

    def _decide(self, item: Any, ctx: ItemText, hits: dict[int, list[Hit]], only: set[int] | None,
                include_test: bool, found_at: str | None = None, complete: list[int] | None = None,
                always: Sequence[int] | None = None) -> list[Finding]:
        """The findings of one item from its term hits: rules with hits first, then the rules without terms.

        ``complete``: the rules with hits to evaluate (:meth:`_complete`), ``always``: the rules without terms
        (:meth:`_always_candidates`), both already chosen by ``only`` and ``include_test``."""
        fired: list[tuple[int, _Evidence]] = []
        if complete is None:
            complete = self._complete(hits, only, include_test)
        for ridx in complete:
            ev = self._evaluate(ridx, hits[ridx], ctx)
            if ev is not None:
                fired.append((ridx, ev))
        n_hit_rules = len(fired)
        if always is None:
            always = self._always_run[include_test][item.kind] if only is None else [
                r for r in self._always[item.kind] if r in only and (include_test or self._stable[r])]
        for ridx in always:  # rules without any/all/near (when, check, regex)
            rule = self.rules[ridx]
            if ridx in hits:
                continue
            # conditions are ANDed: a rule whose `when` is false cannot fire (the common case for price
            # rules, checked here without the rest of the evaluation; the cheap prerequisites first, then
            # the item's numbers)
            if rule.when is not None and (not self._may_hold(ridx, item, ctx.reference)
                                          or not self._item_names[ridx] <= ctx.present()
                                          or not self._when.true(rule.when, ctx)):
                continue
            ev = self._evaluate(ridx, [], ctx, rule.when is not None)
            if ev is not None:
                fired.append((ridx, ev))
        if not fired:
            return []
        if len(fired) > 1:
            fired = self._main_problems(fired)
        if 0 < n_hit_rules < len(fired):
            fired.sort(key=lambda x: x[0])  # findings in rule order
        found_at = found_at or utc_now()
        return [self._finding(ridx, item, ctx, ev, found_at) for ridx, ev in fired]

    def _may_hold(self, ridx: int, item: Any, reference: Callable[[], Any]) -> bool:
        """False when the ``when`` of rule ``ridx`` cannot be true whatever the prices: it names a reference
        price and ``reference()`` (the title's reference-price entry) is None, or it names a price-history
        number the item has no history for. A missing number makes a ``when`` false, so this only skips
        work (parsing the item's prices, evaluating the expression), never a finding."""
        names = self._when_history[ridx]  # most items have no history: the cheapest test first
        if names:
            history = getattr(item, "history", None)
            if not history or not all(n in history for n in names):
                return False
        if self._when_needs_reference[ridx] and reference() is None:
            return False
        for number, text in self._when_inputs[ridx]:  # a price neither given nor shown is missing
            if getattr(item, number) is None and not getattr(item, text, None) and not given_in_words(item, number):
                return False
        return True

    def _main_problems(self, fired: list[tuple[int, _Evidence]]) -> list[tuple[int, _Evidence]]:
        """Drops findings whose rule ``yields_to`` a category another finding of this subject has (the
        statistics form counts a case once, under its main problem; an absolute term in a replica
        listing is part of the counterfeit case, not a second one)."""
        cats = {self.rules[i].category for i, _ in fired}
        return [(i, ev) for i, ev in fired if not cats.intersection(self.rules[i].yields_to)]

    def _scan(self, kind: str, ctx: ItemText) -> dict[int, list[Hit]]:
        """Term hits per rule index: one automaton scan over all fields of the item, joined by NUL.
        Reference-price words hit in the title go to ``ctx.reference_hits``."""
        fields = self._scan_fields[kind]
        joined, starts = ctx.scan_text(fields)
        hits: dict[int, list[Hit]] = {}
        ref_roles = self._ref_roles.get(kind)
        title_at = self._title_at.get(kind, -1)
        ref_hits: list[tuple[Roles, int, int]] = []
        if ref_roles is not None:
            ctx.reference_hits = ref_hits
        if len(joined) < len(fields):  # only NULs: every field is empty
            return hits
        payloads = self._automata[kind].payloads
        n = len(joined)
        for i, start, end in self._automata[kind].scan(joined):
            k = bisect_right(starts, start) - 1
            term, left, right, per_field = payloads[i]
            members = per_field[k]
            roles = ref_roles[i] if k == title_at and ref_roles else None
            if not members and roles is None:
                continue
            # latin terms must not sit inside a longer latin word ("lv" in "silver"); NUL ends a field
            if left and start and joined[start - 1] in ALNUM:
                continue
            if right and end < n and joined[end] in ALNUM:
                continue
            base = starts[k]
            if roles is not None:
                ref_hits.append((roles, start - base, end - base))
            f, s, e = fields[k], start - base, end - base
            for ridx, group in members:
                hits.setdefault(ridx, []).append(new_hit(Hit, (group, f, s, e, term)))
        self._digit_tricks(kind, ctx, joined, starts, hits)
        return hits

    def _digit_tricks(self, kind: str, ctx: ItemText, joined: str, starts: list[int],
                      hits: dict[int, list[Hit]]) -> None:
        """Latin words with digits for letters (n1ke): whole words already, looked up by skeleton."""
        fields, payloads = self._scan_fields[kind], self._automata[kind].payloads
        for i, start, end in self._tricks[kind].scan(joined):
            k = bisect_right(starts, start) - 1
            term, _, _, per_field = payloads[i]
            members = per_field[k]
            if members:
                f, start, end = fields[k], start - starts[k], end - starts[k]
                ctx.tricks[(f, start, end)] = term
                for ridx, group in members:
                    hits.setdefault(ridx, []).append(new_hit(Hit, (group, f, start, end, term)))

    def _evaluate(self, ridx: int, hits: list[Hit], ctx: ItemText, when_true: bool = False) -> _Evidence | None:
        """The evidence rule ``ridx`` fires with, or None; ``when_true``: its ``when`` was already found true.

        Conditions are ANDed, checked cheapest first; the regex gives the evidence, else the first condition."""
        rule = self.rules[ridx]
        required = self._required[ridx]
        if required and not required.issubset(map(_group, hits)):
            return None  # a term group with no hit at all (most hits are of unless, scope or one `all` group)
        unless: dict[str, list[tuple[int, int]]] = {}
        negations: dict[str, list[tuple[int, int]]] = {}
        pos: list[Hit] = []
        scope_hits: list[Hit] = []
        scope_unless: list[Hit] = []
        nones: list[Hit] = []
        for h in hits:
            g = h[0]
            if g == G_NONE:
                if rule.negation is None:
                    return None
                nones.append(h)  # ("真玳瑁，不是树脂": a negated `none` term does not rule the item out)
            elif g == G_UNLESS:
                unless.setdefault(h[1], []).append((h[2], h[3]))
            elif g == G_NEGATION:
                negations.setdefault(h[1], []).append((h[2], h[3]))
            elif g == G_NEGATION_AFTER:  # (start, end) as (-end, -start): told apart from cues before the hit
                negations.setdefault(h[1], []).append((-h[3], -h[2]))
            elif g == G_SCOPE:
                scope_hits.append(h)
            elif g == G_SCOPE_UNLESS:
                scope_unless.append(h)
            else:
                pos.append(h)
        if nones and any(not (negations and self._negated(ctx, h, negations)) for h in nones):
            return None
        # a scope term inside a scope.unless term (咖啡 in 咖啡色) does not put the item in scope
        scope_hit = any(not any(u[1] == s[1] and u[2] <= s[2] and s[3] <= u[3] for u in scope_unless)
                        for s in scope_hits)
        if rule.scope is not None and not self._in_scope(rule, ctx, scope_hit):
            return None
        if rule.disguised:
            pos = [h for h in pos if self._disguised(ridx, ctx, h)]
            if not pos:
                return None
        order = self._field_order[ridx]
        if len(pos) > 1:
            pos.sort(key=lambda h: (order[h[1]], h[2]))
        memo: dict[Hit, bool] = {}

        def valid(h: Hit) -> bool:
            ok = memo.get(h)
            if ok is None:
                ok = memo[h] = not self._excluded(rule, h.field, h.start, h.end, unless) and (
                    h.term not in rule.words or self._whole_word(ctx, h)) and not (
                    negations and self._negated(ctx, h, negations))
            return ok

        ev: _Evidence | None = None
        at = self._evidence_at[ridx]
        for i, condition in enumerate(self._conditions[ridx]):
            found = condition(rule, ctx, pos, valid, order, unless, when_true)
            if found is None:
                return None
            if i == at:
                ev = found
        return ev

    def _disguised(self, ridx: int, ctx: ItemText, h: Hit) -> bool:
        """Whether hit ``h`` was written in disguise: digits or an l for letters (``n1ke``, ``nlke``, ``louls
        vuitton``), separators inside it (``n-i-k-e``, ``耐*克``), look-alike letters of other scripts or
        zero-width characters (``Guссi``). Spaces (苹果 手表), full-width letters and traditional characters
        are ordinary input, not disguise."""
        if (h.field, h.start, h.end) in ctx.tricks:
            return True
        v = self._variants[ridx].get(h.term)
        if v is not None and v.how == "lookalike":
            return True
        st = ctx.stripped(h.field)
        a, b = st.source_span(h.start, h.end)
        frag = st.source[a:b]
        if len(frag.replace(" ", "")) != len(st.text[h.start:h.end].replace(" ", "")):  # a separator inside
            # (spaces do not count: 苹果 手表 is ordinary writing)
            return True
        notes = notes_for_fragment(getattr(ctx.item, h.field, "") or "", frag)
        return NOTE_HOMOGLYPH in notes or NOTE_ZERO_WIDTH in notes

    # one method per condition kind: the evidence it gives, or None when it does not hold

    @staticmethod
    def _in_scope(rule: Rule, ctx: ItemText, scope_hit: bool) -> bool:
        if rule.scope is None or scope_hit:
            return True
        if rule.scope.category_in:
            cat = ctx.norm("category")
            return any(c in cat for c in rule.scope.category_in)
        return False

    def _cond_near(self, rule: Rule, ctx: ItemText, pos: list[Hit], valid: Any, order: Any, unless: Any,
                   when_true: bool) -> _Evidence | None:
        pair = self._near_pair(rule, pos, valid)
        return None if pair is None else _Evidence(hits=[_span(pair[0]), _span(pair[1])], combine=True)

    @staticmethod
    def _cond_any(rule: Rule, ctx: ItemText, pos: list[Hit], valid: Any, order: Any, unless: Any,
                  when_true: bool) -> _Evidence | None:
        first = next((h for h in pos if h.group == G_ANY and valid(h)), None)
        return None if first is None else _Evidence(hits=[_span(first)])

    @staticmethod
    def _cond_all(rule: Rule, ctx: ItemText, pos: list[Hit], valid: Any, order: Any, unless: Any,
                  when_true: bool) -> _Evidence | None:
        firsts: list[Hit] = []
        for j in range(len(rule.all)):
            h = next((h for h in pos if h.group == G_ALL + j and valid(h)), None)
            if h is None:
                return None
            firsts.append(h)
        firsts.sort(key=lambda h: (order[h.field], h.start))
        return _Evidence(hits=[_span(h) for h in firsts])

    def _cond_regex(self, rule: Rule, ctx: ItemText, pos: list[Hit], valid: Any, order: Any, unless: Any,
                    when_true: bool) -> _Evidence | None:
        rx = self._regex_hit(rule, ctx, unless)
        return None if rx is None else _Evidence(hits=[rx])

    @staticmethod
    def _cond_check(rule: Rule, ctx: ItemText, pos: list[Hit], valid: Any, order: Any, unless: Any,
                    when_true: bool) -> _Evidence | None:
        assert rule.check is not None
        ce = CHECKS[rule.check].func(ctx.item)
        return None if ce is None else _Evidence(check=ce)

    def _cond_when(self, rule: Rule, ctx: ItemText, pos: list[Hit], valid: Any, order: Any, unless: Any,
                   when_true: bool) -> _Evidence | None:
        assert rule.when is not None
        if not when_true and not self._when.true(rule.when, ctx):
            return None
        return _Evidence(check=when_evidence(rule.when, ctx))

    @staticmethod
    def _excluded(rule: Rule, f: str, s: int, e: int, unless: dict[str, list[tuple[int, int]]]) -> bool:
        spans = unless.get(f)
        if not spans or rule.unless is None:
            return False
        w = rule.unless.within
        for us, ue in spans:
            if w is None:
                if us <= s and e <= ue:
                    return True
            elif s - ue <= w and us - e <= w:
                return True
        return False

    @staticmethod
    def _negated(ctx: ItemText, h: Hit, negations: dict[str, list[tuple[int, int]]]) -> bool:
        """Whether a negation cue ends at most NEGATION_WITHIN characters before hit ``h`` in its clause ("不含任何
        【象牙】"; not "不含防腐剂，【象牙】白"), or up to NEGATION_LIST_WITHIN before it when what lies between is
        a list ("不销售卷烟、雪茄、烟丝、【电子烟】"), or a cue that follows what it negates starts at most
        NEGATION_AFTER_WITHIN after the hit ("与【象牙】无关"; cues after are stored as (-end, -start))."""
        spans = negations.get(h[1])
        if not spans:
            return False
        s, e = h[2], h[3]
        text = ctx.stripped(h[1]).text
        for a, b in spans:
            if a < 0:  # a cue after the hit: it starts at -b
                start = -b
                if e <= start and start - e <= NEGATION_AFTER_WITHIN and not CLAUSE_END.search(text, e, start):
                    return True
            elif a < s and b <= e and (b >= s or (  # a cue may end inside the hit ("不另收【另收包装费】")
                    not CLAUSE_END.search(text, b, s) and not SCOPE_BREAK.search(text, b, s) and (
                    s - b <= NEGATION_WITHIN or (s - b <= NEGATION_LIST_WITHIN and "、" in text[b:s])))):
                return True
        return False

    @staticmethod
    def _whole_word(ctx: ItemText, h: Hit) -> bool:
        text = ctx.stripped(h[1]).text
        s, e = h[2], h[3]
        a, b = max(0, s - WORD_WINDOW), min(len(text), e + WORD_WINDOW)
        bounds = word_bounds(text[a:b])
        return (s - a) in bounds and (e - a) in bounds

    @staticmethod
    def _near_pair(rule: Rule, pos: list[Hit], valid: Any) -> tuple[Hit, Hit] | None:
        assert rule.near is not None
        within, title = rule.near.within, rule.near.title_field
        a_hits = [h for h in pos if h[0] == G_NEAR_A]
        b_hits = [h for h in pos if h[0] == G_NEAR_B]
        across: tuple[Hit, Hit] | None = None
        for b in b_hits:  # pos is sorted, so the first pair found for the earliest b is taken
            for a in a_hits:
                if a[1] != b[1]:
                    # near.title: a hit in the title pairs with one in any other field (the claim's field leads);
                    # taken only when no pair lies in one field
                    if across is None and title in (a[1], b[1]) and valid(b) and valid(a):
                        across = (b, a) if a[1] == title else (a, b)
                    continue
                if not (b[2] - a[3] <= within and a[2] - b[3] <= within):
                    continue
                if (a[2], a[3]) == (b[2], b[3]) or not valid(b) or not valid(a):
                    continue
                return (a, b) if a[2] <= b[2] else (b, a)
        return across

    def _regex_hit(self, rule: Rule, ctx: ItemText,
                   unless: dict[str, list[tuple[int, int]]]) -> tuple[str, int, int, str] | None:
        for f in rule.fields:
            text = ctx.stripped(f).text
            if not text:
                continue
            data = ctx.utf8(f)
            for p in rule.regex:  # RE2: linear in the text, at most MAX_CANDIDATES matches each
                for s, e in p.spans_utf8(data):
                    if not self._excluded(rule, f, s, e, unless):
                        return (f, s, e, text[s:e])
        return None

    # ------------------------------------------------------------ findings

    def _finding(self, ridx: int, item: Any, ctx: ItemText, ev: _Evidence, found_at: str) -> Finding:
        rule = self.rules[ridx]
        f = Finding(
            rule_id=rule.id, rule_version=rule.version, pack=rule.pack, title=rule.title, category=rule.category,
            severity=rule.severity, basis=rule.basis, subject_kind=item.kind, subject_id=item.subject_id,
            site=item.site, shop_id=item.shop_id, url=item.url, field="", snapshot_sha256=item.html_sha256,
            sweep_id=item.sweep_id, found_at=found_at,
        )
        if ev.check is not None:
            f.field, f.matched, f.snippet = ev.check.field, list(ev.check.matched), ev.check.snippet
            if f.field == "image_text":  # a licence check on what was read from the licence picture
                note = licence_note(getattr(item, "images", None) or [], f.matched)
                f.deobfuscated = [note] if note else []
            return f
        main = ev.hits[0][0]
        st = ctx.stripped(main)
        if ev.combine:
            same = [(s, e) for fl, s, e, _ in ev.hits if fl == main]
            s, e = min(x[0] for x in same), max(x[1] for x in same)
        else:
            s, e = ev.hits[0][1], ev.hits[0][2]
        ns, ne = st.source_span(s, e)
        norm = st.source
        a, b = max(0, ns - SNIPPET_CONTEXT), min(len(norm), ne + SNIPPET_CONTEXT)
        f.field, f.start, f.end = main, ns, ne
        f.snippet = f"{'…' if a else ''}{norm[a:ns]}【{norm[ns:ne]}】{norm[ne:b]}{'…' if b < len(norm) else ''}"
        notes: list[str] = []
        variants = self._variants[ridx]
        for fl, hs, he, term in ev.hits:
            stf = ctx.stripped(fl)
            ha, hb = stf.source_span(hs, he)
            frag = stf.source[ha:hb]
            f.matched.append(frag)
            if hb - ha != he - hs:
                notes.append(f"{NOTE_SEPARATORS}: {frag}→{stf.text[hs:he]}")
            for note in notes_for_fragment(getattr(item, fl, "") or "", frag):
                if note not in notes:
                    notes.append(note)
            if (fl, hs, he) in ctx.tricks:
                notes.append(f"{NOTE_DIGITS}: {frag}→{ctx.tricks[(fl, hs, he)]}")
            elif term in variants:
                notes.append(variant_note(variants[term], frag))
        if main == "image_text":
            note = image_note(getattr(item, "images", None) or [], ns, ne)
            if note:
                notes.append(note)
        f.deobfuscated = notes
        return f


#: how a finding read from a picture cites it (``Finding.deobfuscated``); the console and exports find it there
NOTE_IMAGE = "图片文字识别"
_ROLE_ZH = {"main": "主图", "detail": "详情图", "license": "证照图片"}


def licence_note(images: list[dict[str, Any]], matched: list[str]) -> str:
    """The note citing the licence picture of a licence check: the line holding the number or name if read,
    else the whole picture."""
    needles = [m.replace(" ", "").upper() for m in matched if m]
    for img in images:
        if img.get("role") != "license" or not img.get("sha256"):
            continue
        for line in img.get("lines") or ():
            if any(n and n in line.get("text", "").replace(" ", "").upper() for n in needles):
                return image_note([img], line.get("start", 0), line.get("end", 0))
        box = f" 框 [0,0,{img.get('width', 0)},{img.get('height', 0)}]" if img.get("width") else ""
        return f"{NOTE_IMAGE}: 证照图片 sha256:{img['sha256']}{box} {img.get('url', '')}"
    return ""


def image_note(images: list[dict[str, Any]], start: int, end: int) -> str:
    """``图片文字识别: 详情图 sha256:<hex> 框 [x0,y0,x1,y1] <url>`` for the picture line holding the hit."""
    hit = image_hit(images, start, end)
    if hit is None:
        return ""
    box = ",".join(str(v) for v in hit["box"])
    parts = [f"{NOTE_IMAGE}: {_ROLE_ZH.get(hit['role'], '图片')}"]
    parts += [f"sha256:{hit['sha256']}"] if hit["sha256"] else []
    parts += [f"框 [{box}]"] if any(hit["box"]) else []
    parts += [hit["url"]] if hit["url"] else []
    return " ".join(parts)
