"""The rule engine: rule packs in, Findings out.

``RuleSet.load()`` reads every pack in ``rules/`` once and compiles all terms of all rules
into ONE Aho-Corasick automaton per subject kind (listing, shop); every term carries, per
field, the (rule, term group) pairs that use it. The listing automaton also holds the words of
the reference-price table, so the title is not scanned again for ``reference_price``.
Matching an item normalises its fields in one pass (or takes ``item.norm``), removes
obfuscating separators, and scans all fields, joined by NUL, in one call. Only rules with hits
are evaluated further, and only if every positive term group (any, each ``all`` group, both
``near`` sides) has a hit: scope, none, unless, whole words (jieba, only where such a term hit),
near, all, regex, check, when. The few rules without terms (``when``/``check``/``regex``) run
after them, ``when`` first and only with the item's numbers present (price rules).

The automaton library is ``ahocorasick_rs`` (Rust) when installed, else ``pyahocorasick``,
whose per-character cost grows with the number of distinct first characters of the terms
(about 4x slower with the packs plus 5,000 list terms); ``NETSWORD_MATCH_BACKEND`` forces one.
Both give the same findings (the tests run both). ``python -m bench bench_match`` measures it.

Other spellings: pinyin / initials variants of opted-in groups are ordinary automaton keys
that stand for their term; latin words with digits for letters (``n1ke``) are looked up by
:class:`pipelines.rules_variants.DigitTricks`. Both are reported in ``Finding.deobfuscated``.

A rule gives at most one Finding per subject (the first hit in field order), so its
``finding_id`` is stable across sweeps.

    ruleset = RuleSet.load()
    findings = ruleset.match(item)            # pure: the item is not changed
    ruleset.explain("高仿LV包包 1:1复刻")      # what would fire on this text
    [r for r in ruleset.run_examples() if not r.ok]

``MatchPipeline`` is the Scrapy item pipeline (settings ``MATCH_RULES_DIR``,
``MATCH_INCLUDE_TEST``; stats ``match/items``, ``match/findings``, ``match/hits/<category>``).
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler.items import TEXT_FIELDS, Finding
from pipelines.normalize import NOTE_SEPARATORS, notes_for_fragment, word_bounds
from pipelines.rule_checks import CHECKS, CheckEvidence
from pipelines.rules_context import ItemText, WhenEvaluator, when_evidence
from pipelines.rules_loader import load_packs
from pipelines.rules_model import (
    DuplicateRuleError,
    Pack,
    Rule,
    RuleError,
    RuleExpressionError,
    RuleListError,
    RuleLocation,
    RuleSchemaError,
    RuleSyntaxError,
    RuleValueError,
    TermGroup,
    Variant,
)
from pipelines.rules_prices import ReferenceTable, Roles, load_references
from pipelines.rules_scan import Scanner, pick_backend
from pipelines.rules_tools import AnalystTools, ExampleResult
from pipelines.rules_variants import NOTE_DIGITS, DigitTricks, variant_note

__all__ = [
    "DuplicateRuleError", "ExampleResult", "MatchPipeline", "RuleError", "RuleExpressionError", "RuleListError",
    "RuleLocation", "RuleSchemaError", "RuleSet", "RuleSyntaxError", "RuleValueError", "default_rules_dir",
]

# term-group codes stored in the automaton next to each rule index
G_ANY, G_NEAR_A, G_NEAR_B, G_UNLESS, G_NONE, G_SCOPE, G_ALL = 0, 1, 2, 3, 4, 5, 10

SNIPPET_CONTEXT = 30  # characters of normalised text either side of the hit
WORD_WINDOW = 12  # characters either side of a hit given to jieba for the whole-word check
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")

Hit = tuple[int, str, int, int, str]  # (group, field, start, end, term) in separator-stripped text


def default_rules_dir() -> Path:
    """``$NETSWORD_RULES_DIR`` or ``<repo>/rules``."""
    env = os.environ.get("NETSWORD_RULES_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "rules"


@dataclass
class _Evidence:
    hits: list[tuple[str, int, int, str]] = field(default_factory=list)  # (field, start, end, term), stripped text
    combine: bool = False  # one highlighted span over all hits in the first field (near)
    check: CheckEvidence | None = None


class RuleSet(AnalystTools):
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
        for i, r in enumerate(self.rules):
            r.index = i
        self.by_id = {r.id: r for r in self.rules}
        self._field_order = [{f: i for i, f in enumerate(r.fields)} for r in self.rules]
        self._compile()
        self._when = WhenEvaluator()

    # ------------------------------------------------------------ loading

    @classmethod
    def load(cls, rules_dir: Path | str | None = None, *, collect_errors: bool = False,
             include_test: bool = False, backend: str | None = None) -> RuleSet:
        """Load and compile every pack in ``rules_dir`` (default :func:`default_rules_dir`).

        Errors raise a :class:`RuleError` subclass naming file and line; with
        ``collect_errors=True`` the faulty rules are skipped and ``ruleset.errors`` lists every
        problem. ``include_test`` makes :meth:`match` also run rules with ``status: test``.
        ``backend`` picks the automaton library (default ``$NETSWORD_MATCH_BACKEND`` or auto).
        """
        d = Path(rules_dir) if rules_dir is not None else default_rules_dir()
        packs, errors = load_packs(d, collect_errors=collect_errors)
        backend = pick_backend(backend)
        references, ref_errors = load_references(d, backend, collect_errors=collect_errors)
        return cls(packs, d, errors + ref_errors, include_test, backend, references)

    def _compile(self) -> None:
        table: dict[tuple[str, str], dict[str, list[tuple[int, int]]]] = defaultdict(dict)

        def add(rule: Rule, fields: tuple[str, ...], terms: tuple[str, ...], group: int) -> None:
            for f in fields:
                t = table[(rule.applies_to, f)]
                for term in terms:
                    t.setdefault(term, []).append((rule.index, group))

        def add_group(rule: Rule, g: TermGroup, group: int) -> None:
            add(rule, rule.fields, g.terms, group)
            if g.variants:
                add(rule, rule.fields, tuple(v.text for v in g.variants), group)
                for v in g.variants:
                    self._variants[rule.index].setdefault(v.text, v)

        self._always: dict[str, list[int]] = {k: [] for k in TEXT_FIELDS}
        # names of each rule's `when` the item itself provides (not the reference-price lookup)
        self._item_names = [frozenset(n for n in r.when.names if not n.startswith("reference_")) if r.when
                            else frozenset() for r in self.rules]
        self._variants: list[dict[str, Variant]] = [{} for _ in self.rules]
        # the positive groups every hit list needs before a rule can fire
        self._required = [frozenset(([G_ANY] if r.any else []) + [G_ALL + j for j in range(len(r.all))]
                                    + ([G_NEAR_A, G_NEAR_B] if r.near else [])) for r in self.rules]
        for r in self.rules:
            if r.any:
                add_group(r, r.any, G_ANY)
            for j, g in enumerate(r.all):
                add_group(r, g, G_ALL + j)
            if r.near:
                add_group(r, r.near.a, G_NEAR_A)
                add_group(r, r.near.b, G_NEAR_B)
            if r.unless:
                add(r, r.fields, r.unless.terms.terms, G_UNLESS)
            if r.none:
                add(r, r.fields, r.none.terms, G_NONE)
            if r.scope and r.scope.terms:
                add(r, r.scope.fields, r.scope.terms.terms, G_SCOPE)
            if not r.has_terms:
                self._always[r.applies_to].append(r.index)
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
            payloads = [(t, t[0] in _ALNUM, t[-1] in _ALNUM,
                         tuple(tuple(dict.fromkeys(table[(kind, f)].get(t, ()))) for f in scan_fields))
                        for t in words]
            self._automata[kind] = Scanner(words, payloads, self.backend)

    # ------------------------------------------------------------ matching

    def match(self, item: Any) -> list[Finding]:
        """Findings for one ListingItem or ShopItem (at most one per rule). Does not modify the item."""
        return self._match(item, None, self.include_test)

    def _match(self, item: Any, only: set[int] | None, include_test: bool) -> list[Finding]:
        kind = item.kind
        ctx = ItemText(item, self.references)
        hits = self._scan(kind, ctx) if self._scan_fields[kind] else {}
        fired: list[tuple[int, _Evidence]] = []
        for ridx in sorted(hits):
            rule = self.rules[ridx]
            if (only is None or ridx in only) and (include_test or rule.status == "stable"):
                ev = self._evaluate(rule, hits[ridx], ctx)
                if ev is not None:
                    fired.append((ridx, ev))
        n_hit_rules = len(fired)
        for ridx in self._always[kind]:  # rules without any/all/near (when, check, regex)
            rule = self.rules[ridx]
            if ridx in hits or (only is not None and ridx not in only) or not (include_test or rule.status == "stable"):
                continue
            # conditions are ANDed: a rule whose `when` is false cannot fire (the common case for price
            # rules, checked here without the rest of the evaluation; the item's numbers first)
            if rule.when is not None and (not self._item_names[ridx] <= ctx.present()
                                          or not self._when.true(rule.when, ctx)):
                continue
            ev = self._evaluate(rule, [], ctx, rule.when is not None)
            if ev is not None:
                fired.append((ridx, ev))
        if not fired:
            return []
        if len(fired) > 1:
            fired = self._main_problems(fired)
        if 0 < n_hit_rules < len(fired):
            fired.sort(key=lambda x: x[0])  # findings in rule order
        found_at = datetime.now(UTC).isoformat(timespec="seconds")
        return [self._finding(self.rules[ridx], item, ctx, ev, found_at) for ridx, ev in fired]

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
            if left and start and joined[start - 1] in _ALNUM:
                continue
            if right and end < n and joined[end] in _ALNUM:
                continue
            base = starts[k]
            if roles is not None:
                ref_hits.append((roles, start - base, end - base))
            hit = (fields[k], start - base, end - base, term)
            for ridx, group in members:
                hits.setdefault(ridx, []).append((group, *hit))
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
                    hits.setdefault(ridx, []).append((group, f, start, end, term))

    def _evaluate(self, rule: Rule, hits: list[Hit], ctx: ItemText, when_true: bool = False) -> _Evidence | None:
        """The evidence ``rule`` fires with, or None; ``when_true``: its ``when`` was already found true."""
        required = self._required[rule.index]
        if required and not required.issubset([h[0] for h in hits]):
            return None  # a term group with no hit at all (most hits are of unless, scope or one `all` group)
        unless: dict[str, list[tuple[int, int]]] = {}
        pos: list[Hit] = []
        in_scope = rule.scope is None
        for h in hits:
            g = h[0]
            if g == G_NONE:
                return None
            if g == G_UNLESS:
                unless.setdefault(h[1], []).append((h[2], h[3]))
            elif g == G_SCOPE:
                in_scope = True
            else:
                pos.append(h)
        if not in_scope and rule.scope and rule.scope.category_in:
            cat = ctx.norm("category")
            in_scope = any(c in cat for c in rule.scope.category_in)
        if not in_scope:
            return None
        order = self._field_order[rule.index]
        pos.sort(key=lambda h: (order[h[1]], h[2]))
        memo: dict[Hit, bool] = {}

        def valid(h: Hit) -> bool:
            ok = memo.get(h)
            if ok is None:
                ok = memo[h] = not self._excluded(rule, h[1], h[2], h[3], unless) and (
                    h[4] not in rule.words or self._whole_word(ctx, h))
            return ok

        ev: _Evidence | None = None
        if rule.near:
            pair = self._near_pair(rule, pos, valid)
            if pair is None:
                return None
            ev = _Evidence(hits=[pair[0][1:], pair[1][1:]],
                           combine=True)
        if rule.any:
            first = next((h for h in pos if h[0] == G_ANY and valid(h)), None)
            if first is None:
                return None
            if ev is None:
                ev = _Evidence(hits=[first[1:]])
        if rule.all:
            firsts: list[Hit] = []
            for j in range(len(rule.all)):
                h = next((h for h in pos if h[0] == G_ALL + j and valid(h)), None)
                if h is None:
                    return None
                firsts.append(h)
            if ev is None:
                firsts.sort(key=lambda h: (order[h[1]], h[2]))
                ev = _Evidence(hits=[h[1:] for h in firsts])
        if rule.regex:
            rx = self._regex_hit(rule, ctx, unless)
            if rx is None:
                return None
            if ev is None:
                ev = _Evidence(hits=[rx])
        if rule.check:
            ce = CHECKS[rule.check].func(ctx.item)
            if ce is None:
                return None
            if ev is None:
                ev = _Evidence(check=ce)
        if rule.when:
            if not when_true and not self._when.true(rule.when, ctx):
                return None
            if ev is None:
                ev = _Evidence(check=when_evidence(rule.when, ctx))
        return ev

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
    def _whole_word(ctx: ItemText, h: Hit) -> bool:
        text = ctx.stripped(h[1]).text
        s, e = h[2], h[3]
        a, b = max(0, s - WORD_WINDOW), min(len(text), e + WORD_WINDOW)
        bounds = word_bounds(text[a:b])
        return (s - a) in bounds and (e - a) in bounds

    @staticmethod
    def _near_pair(rule: Rule, pos: list[Hit], valid: Any) -> tuple[Hit, Hit] | None:
        assert rule.near is not None
        within = rule.near.within
        a_hits = [h for h in pos if h[0] == G_NEAR_A]
        b_hits = [h for h in pos if h[0] == G_NEAR_B]
        best: tuple[Hit, Hit] | None = None
        for b in b_hits:  # pos is sorted, so the first pair found for the earliest b is taken
            for a in a_hits:
                if a[1] != b[1] or not (b[2] - a[3] <= within and a[2] - b[3] <= within):
                    continue
                if (a[2], a[3]) == (b[2], b[3]) or not valid(b) or not valid(a):
                    continue
                best = (a, b) if a[2] <= b[2] else (b, a)
                return best
        return best

    def _regex_hit(self, rule: Rule, ctx: ItemText,
                   unless: dict[str, list[tuple[int, int]]]) -> tuple[str, int, int, str] | None:
        for f in rule.fields:
            text = ctx.stripped(f).text
            if not text:
                continue
            for p in rule.regex:
                for m in p.finditer(text):
                    if m.end() > m.start() and not self._excluded(rule, f, m.start(), m.end(), unless):
                        return (f, m.start(), m.end(), m.group())
        return None

    # ------------------------------------------------------------ findings

    def _finding(self, rule: Rule, item: Any, ctx: ItemText, ev: _Evidence, found_at: str) -> Finding:
        f = Finding(
            rule_id=rule.id, rule_version=rule.version, pack=rule.pack, title=rule.title, category=rule.category,
            severity=rule.severity, basis=rule.basis, subject_kind=item.kind, subject_id=item.subject_id,
            site=item.site, shop_id=item.shop_id, url=item.url, field="", snapshot_sha256=item.html_sha256,
            sweep_id=item.sweep_id, found_at=found_at,
        )
        if ev.check is not None:
            f.field, f.matched, f.snippet = ev.check.field, list(ev.check.matched), ev.check.snippet
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
        variants = self._variants[rule.index]
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
        f.deobfuscated = notes
        return f


class MatchPipeline:
    """Scrapy item pipeline: appends the rule engine's findings to ``item.findings``.

    Settings: ``MATCH_RULES_DIR`` (default ``$NETSWORD_RULES_DIR`` or ``<repo>/rules``),
    ``MATCH_INCLUDE_TEST`` (also run ``status: test`` rules; default False).
    Stats: ``match/items``, ``match/findings``, ``match/hits/<category>``.
    """

    def __init__(self, rules_dir: Path | str | None = None, include_test: bool = False, stats: Any = None,
                 ruleset: RuleSet | None = None) -> None:
        self.rules_dir = rules_dir
        self.include_test = include_test
        self.stats = stats
        self.ruleset = ruleset

    @classmethod
    def from_crawler(cls, crawler: Any) -> MatchPipeline:
        s = crawler.settings
        return cls(rules_dir=s.get("MATCH_RULES_DIR") or None, include_test=s.getbool("MATCH_INCLUDE_TEST", False),
                   stats=crawler.stats)

    def open_spider(self, spider: Any = None) -> None:
        if self.ruleset is None:
            self.ruleset = RuleSet.load(self.rules_dir, include_test=self.include_test)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if getattr(item, "kind", None) not in TEXT_FIELDS:
            return item
        if self.ruleset is None:
            self.open_spider(spider)
        assert self.ruleset is not None
        stats = self.stats or getattr(getattr(spider, "crawler", None), "stats", None)
        have = {f.finding_id for f in item.findings}
        new = [f for f in self.ruleset.match(item) if f.finding_id not in have]
        item.findings.extend(new)
        if stats is not None:
            stats.inc_value("match/items")
            for f in new:
                stats.inc_value("match/findings")
                stats.inc_value(f"match/hits/{f.category}")
        return item
