"""``RuleSet.match_many``'s batched path: the findings of ``RuleSet.match`` item by item, with the work per
item cut down to the items a rule may fire on.

Per batch of items of one kind (:data:`pipelines.match.engine.BATCH`):

1. every field of every item is normalised; each distinct raw text once (service, category, promo and price
   texts repeat across a shop's listings), in one quick-path pass (:func:`normalize_many`);
2. each distinct normalised text is separator-stripped and scanned once: all of them joined by NUL (no term
   holds one and the scan cannot cross it), one regex pass, one automaton call. Titles come first, so the
   reference-price words of titles are the first hits. What is done per hit in Python is only what few hits
   need: the whole-latin-word test of latin terms, the *gate* hits (a hit in a rule's gate group: its
   positive term group least likely to hit, ``engine._hit_weight``; no rule fires without one) and the
   reference-price words of titles. Which text each hit is in, and each text's run of hits, are worked out
   by C-speed ``map``;
3. an item is looked at alone only when one of its fields has a gate hit there (then only the rules gated in
   it get their hits, and only rules with a hit in every positive group are evaluated), or when a rule
   without terms may fire on it: the prerequisites of the price rules' ``when`` (the prices it needs given,
   a reference-price word in the title, price history) are checked for all items at once, column by column.

The evaluation itself (``RuleSet._decide``) is the one ``match`` uses, on the same texts, hits in the same
order, so the findings are the same (``tests/test_match_many.py`` compares them).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate, chain, compress, repeat
from operator import add, and_, attrgetter, is_not, itemgetter, mul, or_, sub
from typing import TYPE_CHECKING, Any

from crawler.items import Finding
from netsword.clock import utc_now
from pipelines.match.context import IN_WORDS, ItemText, given_in_words, item_numbers
from pipelines.match.hits import ALNUM, Hit, new_hit
from pipelines.match.prices import Roles
from pipelines.normalize import normalize_many, normalize_text, strip_joined

if TYPE_CHECKING:
    from pipelines.match.engine import RuleSet

#: the reference-price hits of a title without reference-price words (shared, never changed)
_NO_REFS: list[tuple[Roles, int, int]] = []
_first = itemgetter(0)
_second = itemgetter(1)


def match_batch(rs: RuleSet, kind: str, items: list[Any], only: set[int] | None, include_test: bool
                ) -> list[list[Finding]]:
    """``[rs._match(item, only, include_test) for item in items]`` for items of ``kind``, batched."""
    fields = rs._scan_fields[kind]
    if not fields or not rs._batchable[kind]:
        return [rs._match(item, only, include_test) for item in items]
    nf = len(fields)
    flat = batch_norms(fields, items)
    title_at = rs._title_at.get(kind, -1)
    # the distinct texts, titles first (an item's field k is text flat_uid[n * nf + k])
    distinct = dict.fromkeys(flat[title_at::nf]) if title_at >= 0 else {}
    n_titles = len(distinct)
    distinct.update(zip(flat, repeat(None)))
    uniq = list(distinct)
    flat_uid = list(map(dict(zip(uniq, range(len(uniq)), strict=True)).__getitem__, flat))
    sc = _Scanned(rs, kind, uniq, n_titles)
    # the items with a gate hit in a field where it gates
    gated: set[int] = set()
    if sc.gate:
        gate = sc.gate
        for p in compress(range(len(flat_uid)), map(gate.__contains__, flat_uid)):
            n, k = divmod(p, nf)
            if gate[flat_uid[p]] >> k & 1:
                gated.add(n)
    refs = sc.refs
    title_refs = list(map(refs.get, flat_uid[title_at::nf], repeat(_NO_REFS))) if refs is not None else None
    always = always_candidates(rs, kind, items, title_refs, only, include_test)
    bits = always[1] if always is not None else None
    out: list[list[Finding]] = list(map(list, repeat((), len(items))))
    looked_at = gated.union(compress(range(len(items)), bits)) if bits is not None else gated
    found_at = utc_now()
    gates, feeds, payloads = rs._gates[kind], rs._feeds[kind], rs._automata[kind].payloads
    chosen: dict[int, list[int]] = {0: []}  # bits -> the rules without terms they choose
    for n in sorted(looked_at):
        us = flat_uid[n * nf:(n + 1) * nf]
        complete = None
        if n in gated:
            hits, tricks = sc.item_hits(us, fields, gates, feeds, payloads)
            complete = rs._complete(hits, only, include_test)
        if not complete:
            # no rule has a hit in each of its positive term groups: none of them fires (_evaluate) and
            # every rule without terms is evaluated as if the item had no hit (a rule without terms
            # that has hits, of `unless` or `none`, has no positive group, so it would be complete)
            if bits is None or not bits[n]:
                continue  # and no rule without terms can fire: nothing to build
            hits, complete, tricks = {}, [], {}
        item = items[n]
        ctx = ItemText(item, rs.references)
        ctx.fill(fields, list(map(uniq.__getitem__, us)), list(map(sc.texts.__getitem__, us)))
        ctx.reference_hits = title_refs[n] if title_refs is not None else None
        ctx.tricks = tricks
        b = bits[n] if bits is not None else 0
        cands = chosen.get(b)
        if cands is None:
            cands = chosen[b] = [r for i, r in enumerate(always[0]) if b >> i & 1]  # type: ignore[index]
        out[n] = rs._decide(item, ctx, hits, only, include_test, found_at, complete, cands)
    return out


class _Scanned:
    """The distinct texts of a batch, separator-stripped and scanned together (see the module docstring).

    ``texts[u]``: text u stripped; ``found``: the automaton's hits (term index, start, end) in the joined
    text, whole latin words only, in scan order (so text by text); ``terms[j]``, ``owner[j]``: the term of
    hit j and the text it is in; ``first``/``end``: text -> its run of hits in ``found``;
    ``gate``: text -> the scanned fields (bit k: field k) where one of its hits gates; ``gate_at``: text ->
    its hits that gate somewhere; ``tricks``: text -> its digit-trick hits (term index, start, end in the
    text); ``refs``: title text -> its reference-price words (roles, start, end), None when the kind has none.
    """

    __slots__ = ("end", "first", "found", "gate", "gate_at", "owner", "refs", "starts", "terms", "texts", "tricks")

    def __init__(self, rs: RuleSet, kind: str, uniq: list[str], n_titles: int) -> None:
        joined, texts = strip_joined(uniq)
        self.texts = texts
        # where each text starts in `joined` (from the lengths: a text may hold its own NUL)
        starts = [0, *accumulate(map(add, map(len, texts), repeat(1)))]
        starts.pop()
        self.starts = starts
        scanner = rs._automata[kind]
        payloads = scanner.payloads
        found = scanner.scan(joined)
        terms = list(map(_first, found))
        # latin terms must not sit inside a longer latin word; NUL ends a text
        keep: list[bool] | None = None
        n_joined = len(joined)
        for j in compress(range(len(found)), map(rs._latin[kind].__getitem__, terms)):
            i, s, e = found[j]
            _, left, right, _ = payloads[i]
            if (left and s and joined[s - 1] in ALNUM) or (right and e < n_joined and joined[e] in ALNUM):
                if keep is None:
                    keep = [True] * len(found)
                keep[j] = False
        if keep is not None:
            found, terms = list(compress(found, keep)), list(compress(terms, keep))
        self.found, self.terms = found, terms
        # an automaton reports hits in the order they end, so text by text: each text's hits are one run
        owner = list(map(sub, map(bisect_right, repeat(starts), map(_second, found)), repeat(1)))
        self.owner = owner
        self.first = dict(zip(reversed(owner), range(len(owner) - 1, -1, -1), strict=True))
        self.end = dict(zip(owner, range(1, len(owner) + 1), strict=True))
        gate_bits = rs._gate_bits[kind]
        gate: dict[int, int] = {}
        gate_at: dict[int, list[int]] = {}
        for j in compress(range(len(found)), map(gate_bits.__getitem__, terms)):
            u = owner[j]
            gate[u] = gate.get(u, 0) | gate_bits[terms[j]]
            gate_at.setdefault(u, []).append(j)
        self.gate, self.gate_at = gate, gate_at
        ref_roles = rs._ref_roles.get(kind)
        self.refs: dict[int, list[tuple[Roles, int, int]]] | None = None
        if ref_roles is not None:
            refs: dict[int, list[tuple[Roles, int, int]]] = {}
            in_titles = bisect_left(owner, n_titles)  # the hits in texts 0 .. n_titles - 1
            for j in compress(range(in_titles), map(rs._has_roles[kind].__getitem__, terms[:in_titles])):
                i, s, e = found[j]
                base = starts[owner[j]]
                refs.setdefault(owner[j], []).append((ref_roles[i], s - base, e - base))  # type: ignore[arg-type]
            self.refs = refs
        tricks: dict[int, list[tuple[int, int, int]]] = {}
        for i, s, e in rs._tricks[kind].scan(joined):
            u = bisect_right(starts, s) - 1
            base = starts[u]
            tricks.setdefault(u, []).append((i, s - base, e - base))
            if gate_bits[i]:
                gate[u] = gate.get(u, 0) | gate_bits[i]
        self.tricks = tricks

    def item_hits(self, us: list[int], fields: list[str], gates: list[tuple[frozenset[int], ...]],
                  feeds: list[list[dict[int, tuple[int, ...]]]], payloads: list[Any]
                  ) -> tuple[dict[int, list[Hit]], dict[tuple[str, int, int], str]]:
        """The hits per rule index of an item whose field k is text ``us[k]``, as ``RuleSet._scan`` makes
        them, for the rules with a hit in their gate group (no other rule can fire), and its digit-trick hits
        ((field, start, end) -> term) as ``ItemText.tricks``."""
        gate, gate_at, tricks, terms = self.gate, self.gate_at, self.tricks, self.terms
        gated: set[int] = set()
        for k in compress(range(len(us)), map(gate.__contains__, us)):
            u = us[k]
            if gate[u] >> k & 1:
                for j in gate_at.get(u, ()):
                    gated.update(gates[terms[j]][k])
                for i, _, _ in tricks.get(u, ()):
                    gated.update(gates[i][k])
        # every gated rule has a hit: the gate hit itself
        rules = sorted(gated)
        hits: dict[int, list[Hit]] = {r: [] for r in rules}
        first, end, found, starts = self.first, self.end, self.found, self.starts
        for k in compress(range(len(us)), map(first.__contains__, us)):
            u = us[k]
            lo, hi, f, base = first[u], end[u], fields[k], starts[u]
            for r in rules:
                fk = feeds[r][k]
                if fk:
                    add = hits[r].append
                    # the rule's hits in this field: a C-speed pass over the text's hits picks them
                    for j in compress(range(lo, hi), map(fk.__contains__, terms[lo:hi])):
                        i, s, e = found[j]
                        term = payloads[i][0]
                        for group in fk[i]:
                            add(new_hit(Hit, (group, f, s - base, e - base, term)))
        item_tricks: dict[tuple[str, int, int], str] = {}
        if tricks:
            for k in compress(range(len(us)), map(tricks.__contains__, us)):
                for i, s, e in tricks[us[k]]:
                    term, _, _, per_field = payloads[i]
                    if per_field[k]:
                        item_tricks[(fields[k], s, e)] = term
                    for r in rules:
                        for group in feeds[r][k].get(i, ()):
                            hits[r].append(new_hit(Hit, (group, fields[k], s, e, term)))
        return hits, item_tricks


def always_candidates(rs: RuleSet, kind: str, items: list[Any], title_refs: list[list[Any]] | None,
                      only: set[int] | None, include_test: bool) -> tuple[list[int], list[int]] | None:
    """The rules without terms that may run (rule order), and per item which of them may fire on it (bit i:
    rule i of them): a rule without ``when``, or whose ``when`` has what it needs (``RuleSet._may_hold``:
    the numbers it needs given or shown, price history, a reference-price word in the title when it names a
    reference price) and, when it names no reference price, holds for the item's numbers. None: no rule."""
    rules = [r for r in rs._always[kind] if (only is None or r in only) and (include_test or rs._stable[r])]
    if not rules:
        return None
    n_items = len(items)
    given: dict[tuple[str, str], list[bool]] = {}  # whether each item gives a number (or shows it)
    numbers: dict[int, dict[str, float | None]] = {}
    holds = rs._when.holds
    bits = [0] * n_items
    for bit, r in enumerate(rules):
        pred = rs.rules[r].when
        if pred is None:
            bits = [b | 1 << bit for b in bits]
            continue
        ok = [True] * n_items
        for pair in rs._when_inputs[r]:
            if pair not in given:
                number, text = pair
                given[pair] = list(map(or_, map(is_not, _values(items, number), repeat(None)),
                                       map(bool, _values(items, text)) if text else repeat(False)))
                if number in IN_WORDS:  # or stated in the listing's words ("原价999")
                    given[pair] = [g or given_in_words(it, number) for g, it in zip(given[pair], items, strict=True)]
            ok = list(map(and_, ok, given[pair]))
        if rs._when_needs_reference[r]:
            # the reference price is looked up (and the rule evaluated) in RuleSet._decide
            ok = list(map(and_, ok, map(bool, title_refs) if title_refs is not None
                          else repeat(rs.references is not None)))
        names = rs._when_history[r]
        if names:
            histories = _values(items, "history")
            for j in compress(range(n_items), ok):
                h = histories[j]
                ok[j] = bool(h) and all(x in h for x in names)
        if not rs._when_needs_reference[r]:
            for j in compress(range(n_items), ok):
                nums = numbers.get(j)
                if nums is None:
                    nums = numbers[j] = item_numbers(items[j])
                ok[j] = holds(pred, nums.get)
        bits = list(map(or_, bits, map(mul, ok, repeat(1 << bit))))
    return rules, bits


def _values(items: list[Any], name: str) -> list[Any]:
    """``getattr(item, name, None)`` of every item (C-speed when all have it)."""
    try:
        return list(map(attrgetter(name), items))
    except AttributeError:
        return [getattr(it, name, None) for it in items]


def batch_norms(fields: list[str], items: list[Any]) -> list[str]:
    """The normalised ``fields`` of every item, flat (item by item): ``item.norm`` where the normalise
    stage filled it (as ``ItemText.scan_text`` takes it), the rest normalised together, each distinct
    text once."""
    nf = len(fields)
    get = attrgetter(*fields) if nf > 1 else (lambda item: (getattr(item, fields[0]),))
    if not any(map(attrgetter("norm"), items)):  # the usual case for rescans: nothing normalised yet
        return _normalize_distinct(list(chain.from_iterable(map(get, items))))
    get_pre = itemgetter(*fields) if nf > 1 else (lambda pre: (pre[fields[0]],))
    norms: list[str] = [""] * (nf * len(items))
    raw: list[str | None] = []
    raw_at: list[int] = []
    for n, item in enumerate(items):
        pre = item.norm
        if pre:
            try:
                got = get_pre(pre)
            except KeyError:  # a field the normalise stage left out
                got = (None,)
            if None in got:
                got = [normalize_text(getattr(item, f, "") or "") if v is None else v
                       for f, v in zip(fields, (pre.get(f) for f in fields), strict=True)]
            norms[n * nf:(n + 1) * nf] = got
        else:
            raw_at.append(n)
            raw += get(item)
    if raw:
        done = _normalize_distinct(raw)
        for j, n in enumerate(raw_at):
            norms[n * nf:(n + 1) * nf] = done[j * nf:(j + 1) * nf]
    return norms


def _normalize_distinct(raw: list[str | None]) -> list[str]:
    """``normalize_text`` of each of ``raw``, each distinct text normalised once (None -> "")."""
    distinct = dict.fromkeys(raw)
    distinct.pop(None, None)
    distinct.pop("", None)
    keys: list[str] = list(distinct)  # type: ignore[arg-type]  # None is gone
    table: dict[str | None, str] = dict(zip(keys, normalize_many(keys), strict=True)) if keys else {}
    table[None] = table[""] = ""
    return list(map(table.__getitem__, raw))
