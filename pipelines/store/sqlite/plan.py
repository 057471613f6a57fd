"""Fast search for the SQLite engine: totals, facets and pages from the search summary.

A query's hits are counted per *group* (``summary.py``): every subject of a group has
the same site, kind and (category, severity) pairs, so the group alone says whether its subjects
pass the category / severity filters, which facet values they count under and at which level
(worst passing severity) they sort. Per group the count is

* without text or subject filters: the group's size;
* with text only: a count over the group's rowid range of the full-text index (no table is read);
* with a price filter: a scan of the groups' runs of the (covering) group index;
* with a shop filter: the shop's subjects from the subject tables' index.

The page is read level by level (critical first) in (last seen desc, ord) order, by merging the
level's groups (each in that order in an index) or by sorting the level's hits, whichever the
counts say is cheaper.

With a sweep filter the same is done over the sweep's rows (``search_sweeps``), whose group is
that of the findings seen in the sweep.

Queries this cannot answer exactly (finding status or date filters, unknown categories or
severities, findings outside the form's categories, only excluded terms, unflagged subjects of a
sweep) return None and take the general path of ``search.py``.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crawler.items import CATEGORIES, SEVERITIES

from ..base import SEVERITY_RANK, SearchQuery, as_tuple, query_term_tokens, text_segments
from .summary import (
    ALL_PAIRS,
    CATEGORY_INDEX,
    CATEGORY_MASK,
    KIND,
    ODD_BIT,
    ORD_BITS,
    ORD_MASK,
    OTHER_CATEGORY,
    RANK_MASK,
    RANKS,
    RID_BITS,
    RID_MASK,
    TABLE,
    TAG,
    group_rows,
    placeholders,
    top_rank,
)

#: Rough costs (µs) that choose how a page is read: one index entry walked, one row looked up,
#: one row sorted, one full-text test of a single document, one full-text hit joined and sorted,
#: one statement started, one row merged in Python.
WALK, PROBE, SORT, TEST, JOIN, STREAM, PULL = 0.1, 0.5, 0.6, 20.0, 0.8, 30.0, 2.0
#: Above this many groups a text query counts its hits in one pass instead of one range per group.
MAX_RANGES = 64
_seq = itertools.count()


def match_expression(term: str) -> str | None:
    """One query term as an FTS5 phrase over the index's tokens; None if it has no word characters."""
    toks, prefix = query_term_tokens(term)
    if not toks:
        return None
    return '"' + " ".join(toks) + '"' + (" *" if prefix else "")


def term_expression(term: str) -> str | None:
    """One query term as an FTS5 expression over the document columns (``summary.py``): a
    single CJK character is looked up in ``uni``, anything else is a phrase in ``body``. A phrase
    with a bigram or a latin word or number cannot match in ``uni`` (single characters only), so
    it needs no column filter, which FTS5 would check at every position."""
    segs = text_segments(term)
    if len(segs) == 1 and segs[0][0] and len(segs[0][1]) == 1:
        return f'uni : "{segs[0][1]}"'
    phrase = match_expression(term)
    if phrase is None:
        return None
    return phrase if any(not cjk or len(seg) > 1 for cjk, seg in segs) else f"body : {phrase}"


def text_expression(q: SearchQuery) -> tuple[str | None, str | None]:
    """(FTS5 expression of the required terms, of the excluded terms), None where there are none; a group of
    alternatives (``高仿 OR 精仿``) is one OR inside the AND."""
    groups, excluded = q.term_groups()
    pos = [" OR ".join(f"({e})" for e in exprs) for exprs in
           (list(filter(None, map(term_expression, g))) for g in groups) if exprs]
    neg = list(filter(None, map(term_expression, excluded)))
    return (" AND ".join(f"({e})" for e in pos) or None), (" OR ".join(f"({e})" for e in neg) or None)


def finding_mask(q: SearchQuery) -> int | None:
    """The pairs that pass the category / severity filters; None if a value is unknown."""
    cats, sevs = as_tuple(q.category), as_tuple(q.severity)
    if any(c not in CATEGORY_INDEX for c in cats) or any(s not in SEVERITY_RANK for s in sevs):
        return None
    mask = sum(CATEGORY_MASK[CATEGORY_INDEX[c]] for c in set(cats)) if cats else ALL_PAIRS
    if sevs:
        mask &= sum(RANK_MASK[SEVERITY_RANK[s]] for s in set(sevs))
    return mask


@dataclass
class Group:
    gid: int
    site: str
    tag: int
    passing: int  # its pairs that pass the finding filters
    n: int  # subjects in the summary with this group

    @property
    def level(self) -> int | None:
        """Where its hits sort: the worst passing severity rank (None: no passing finding)."""
        return top_rank(self.passing)

    def range(self) -> tuple[int, int]:
        return self.gid << ORD_BITS, (self.gid << ORD_BITS) | ORD_MASK


@dataclass
class Plan:
    text: str | None  # FTS5 expression every hit matches
    where: str  # conditions on search_subjects s (price)
    params: list[Any]
    shop_id: str | None = None
    tags: set[int] = field(default_factory=set)  # the kinds that can be hits
    groups: list[Group] = field(default_factory=list)  # summary groups whose subjects can be hits
    sweep_no: int | None = None  # the sweep filter (-1: a sweep that fetched nothing)
    sweep_groups: list[Group] = field(default_factory=list)  # groups of the sweep rows that can be hits
    total: int = 0  # subjects in the summary
    hits_table: str | None = None  # a temp table of the hits (ord, gid, seen), when they were collected

    @property
    def hit_groups(self) -> list[Group]:
        """The groups the hits are counted, faceted and sorted by."""
        return self.sweep_groups if self.sweep_no is not None else self.groups

    @property
    def mode(self) -> str:
        if self.sweep_no is not None:
            return "sweep"
        return "filter" if self.where or self.shop_id else "text" if self.text else "groups"


def make_plan(c: sqlite3.Connection, q: SearchQuery) -> Plan | None:
    """How to answer ``q`` from the summary; None when only the general path is exact."""
    if as_tuple(q.status) or q.seen_from or q.seen_before or (q.sweep_id and not q.needs_finding):
        return None  # (the sweep rows only hold subjects with findings in the sweep)
    mask = finding_mask(q)
    text, excluded = text_expression(q)
    if mask is None or (excluded and not text):
        return None
    if excluded:
        text = f"({text}) NOT ({excluded})"
    plan = Plan(text, *_price_conditions(q), shop_id=q.shop_id or None)
    if q.sweep_id:
        row = c.execute("SELECT sweep_no FROM search_sweep_ids WHERE sweep_id = ?", (q.sweep_id,)).fetchone()
        plan.sweep_no = row[0] if row else -1
    tags = {TAG[q.kind]} if q.kind in TAG else set(TAG.values()) if not q.kind else set()
    if q.price_min is not None or q.price_max is not None:
        tags.discard(TAG["shop"])
    plan.tags = tags
    sites = set(as_tuple(q.site))
    severity_filter = bool(as_tuple(q.severity))
    for gid, site, tag, open_pairs, all_pairs, n in group_rows(c, every=plan.sweep_no is not None):
        plan.total += n
        if tag not in tags or (sites and site not in sites):
            continue
        pairs = all_pairs if q.include_resolved else open_pairs
        if (pairs & ODD_BIT and not severity_filter) or pairs & mask & CATEGORY_MASK[OTHER_CATEGORY]:
            return None  # an unknown severity or a category outside the form: the general path counts those
        if pairs & mask or not q.needs_finding:
            group = Group(gid, site, tag, pairs & mask, n)
            if n:
                plan.groups.append(group)
            if plan.sweep_no is not None:
                plan.sweep_groups.append(group)
    if plan.shop_id and _findings_of_other_shops(c, plan.shop_id, {g.site for g in plan.hit_groups}):
        return None  # the general path also checks each finding's own shop
    return plan


def _findings_of_other_shops(c: sqlite3.Connection, shop_id: str, sites: set[str]) -> bool:
    """Whether a subject of the shop has a finding recorded for another shop (a listing that moved):
    groups describe a subject's findings whatever shop they name."""
    for kind in TAG:
        if sites and c.execute(f"SELECT 1 FROM {TABLE[kind]} s CROSS JOIN findings f ON f.subject_id = s.subject_id "
                               f"AND f.subject_kind = '{kind}' WHERE s.site IN ({placeholders(len(sites))}) "
                               "AND s.shop_id = ? AND f.shop_id != s.shop_id LIMIT 1",
                               (*sorted(sites), shop_id)).fetchone():
            return True
    return False


def _price_conditions(q: SearchQuery) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for op, value in ((">=", q.price_min), ("<=", q.price_max)):
        if value is not None:
            where.append(f"s.price {op} ?")
            params.append(value)
    return " AND ".join(where), params


# --------------------------------------------------------------------------- running


def run(c: sqlite3.Connection, plan: Plan, offset: int,
        limit: int) -> tuple[int, dict[str, dict[str, int]], list[tuple[str, int, int | None]]]:
    """(total, facets, page) of the planned query; page rows are (kind, subject rowid, level)."""
    try:
        counts = count_hits(c, plan)
        total, out, levels = facets(plan, counts)
        return total, out, page(c, plan, levels, counts, offset, limit)
    finally:
        if plan.hits_table:
            c.execute(f"DROP TABLE IF EXISTS temp.{plan.hits_table}")


def _collect(c: sqlite3.Connection, plan: Plan) -> bool:
    """Whether the hits are better read once into a temp table (counts and page then read it): when
    each costs a lookup per candidate (text with a price or shop filter, a sweep with any of them)."""
    if plan.mode == "sweep":
        return bool(plan.text or plan.where or plan.shop_id)
    return plan.mode == "filter" and plan.text is not None


def count_hits(c: sqlite3.Connection, plan: Plan) -> dict[int, int]:
    """Hits per group id of ``plan.hit_groups`` (groups without hits may be left out)."""
    if plan.mode == "groups":
        return {g.gid: g.n for g in plan.groups}
    if not plan.hit_groups or (plan.text and not plan.groups):
        return {}
    if _collect(c, plan):
        sql, params = _source(plan, plan.hit_groups, seen=True)
        plan.hits_table = f"_plan_hits{next(_seq)}"
        c.execute(f"CREATE TEMP TABLE {plan.hits_table}(ord INTEGER PRIMARY KEY, gid INT, seen TEXT)")
        c.execute(f"INSERT INTO {plan.hits_table} {sql}", params)
        return dict(c.execute(f"SELECT gid, count(*) FROM {plan.hits_table} GROUP BY gid").fetchall())
    if plan.mode == "text" and len(plan.groups) <= MAX_RANGES:
        return {g.gid: c.execute("SELECT count(*) FROM fts WHERE fts MATCH ? AND rowid BETWEEN ? AND ?",
                                 (plan.text, *g.range())).fetchone()[0] for g in plan.groups}
    if plan.mode == "text":  # many groups: one pass over the index, grouped by range
        wanted = {g.gid for g in plan.groups}
        lo, hi = min(wanted) << ORD_BITS, (max(wanted) << ORD_BITS) | ORD_MASK
        rows = c.execute(f"SELECT rowid >> {ORD_BITS}, count(*) FROM fts WHERE fts MATCH ? AND rowid BETWEEN ? AND ? "
                         "GROUP BY 1", (plan.text, lo, hi))
        return {gid: n for gid, n in rows if gid in wanted}
    sql, params = _source(plan, plan.hit_groups, seen=False)
    return dict(c.execute(f"SELECT gid, count(*) FROM ({sql}) GROUP BY gid", params).fetchall())


def _gid_list(groups: Sequence[Group]) -> str:
    return ",".join(str(g.gid) for g in groups)  # integers from the database: safe to inline


def _source(plan: Plan, groups: Sequence[Group], seen: bool) -> tuple[str, list[Any]]:
    """SQL of the hits in ``groups`` (of ``plan.hit_groups``) as rows (ord, gid[, seen])."""
    gids, sweep = _gid_list(groups), plan.sweep_no is not None
    gid = "t.gid" if sweep else "s.gid"
    twin = f" CROSS JOIN search_sweeps t ON t.sweep_no = {plan.sweep_no} AND t.ord = s.ord" if sweep else ""
    cols = f"s.ord AS ord, {gid} AS gid" + (", s.seen AS seen" if seen else "")
    where = f" AND {plan.where}" if plan.where else ""
    member = f" AND {_member()}" if plan.text else ""
    text = [plan.text] if plan.text else []
    if plan.shop_id:  # a few subjects: from the shop index of the subject tables
        shop_sql, shop_params = _shop_subjects(plan, groups)
        return (f"SELECT {cols} FROM ({shop_sql}) x CROSS JOIN search_subjects s ON s.ord = x.ord{twin} "
                f"WHERE {gid} IN ({gids}){where}{member}", [*shop_params, *plan.params, *text])
    if plan.text is None and not sweep:  # by group, price included
        return (f"SELECT {cols} FROM search_subjects s INDEXED BY search_subjects_gid "
                f"WHERE {gid} IN ({gids}){where}", list(plan.params))
    if plan.text is None:  # a sweep: from its rows
        join = " CROSS JOIN search_subjects s ON s.ord = t.ord" if seen or where else ""
        cols = cols.replace("s.ord AS", "t.ord AS")
        return (f"SELECT {cols} FROM search_sweeps t INDEXED BY search_sweeps_gid{join} "
                f"WHERE t.sweep_no = {plan.sweep_no} AND t.gid IN ({gids}){where}", list(plan.params))
    # full text: the summary groups' ranges
    ranges = plan.groups if sweep else groups
    twin = twin.replace("t.ord = s.ord", f"t.ord = fts.rowid & {ORD_MASK}")
    join = " CROSS JOIN search_subjects s ON s.doc = fts.rowid" if seen or where else ""
    cols = cols.replace("s.ord AS", f"fts.rowid & {ORD_MASK} AS").replace("s.gid AS", f"fts.rowid >> {ORD_BITS} AS")
    tgids = f" AND t.gid IN ({gids})" if sweep else ""
    parts, params = [], []
    for g in ranges:
        parts.append(f"SELECT {cols} FROM fts{twin}{join} WHERE fts MATCH ? AND fts.rowid BETWEEN ? AND ?"
                     f"{tgids}{where}")
        params += [plan.text, *g.range(), *plan.params]
    return " UNION ALL ".join(parts), params


def _shop_subjects(plan: Plan, groups: Sequence[Group]) -> tuple[str, list[Any]]:
    """SQL of the ords of the shop's listings / the shop itself (by the tables' (site, shop_id) indexes)."""
    sites = sorted({g.site for g in groups})
    parts, params = [], []
    for kind, tag in TAG.items():
        if tag in plan.tags:
            parts.append(f"SELECT {tag << RID_BITS} | rowid AS ord FROM {TABLE[kind]} "
                         f"WHERE site IN ({placeholders(len(sites))}) AND shop_id = ?")
            params += [*sites, plan.shop_id]
    return " UNION ALL ".join(parts), params


def _member() -> str:
    return "EXISTS (SELECT 1 FROM fts WHERE fts MATCH ? AND fts.rowid = s.doc)"


# --------------------------------------------------------------------------- facets


def facets(plan: Plan, counts: dict[int, int]) -> tuple[int, dict[str, dict[str, int]], dict[int | None, int]]:
    """(total, facets, hits per level) from the hits per group."""
    total = 0
    sites: dict[str, int] = {}
    cats = [0] * len(CATEGORIES)
    sevs = dict.fromkeys(RANKS, 0)
    levels: dict[int | None, int] = {}
    for g in plan.hit_groups:
        n = counts.get(g.gid, 0)
        if not n:
            continue
        total += n
        sites[g.site] = sites.get(g.site, 0) + n
        levels[g.level] = levels.get(g.level, 0) + n
        for i in range(len(CATEGORIES)):
            if g.passing & CATEGORY_MASK[i]:
                cats[i] += n
        for r in RANKS:
            if g.passing & RANK_MASK[r]:
                sevs[r] += n
    by_cat = {CATEGORIES[i]: k for i, k in enumerate(cats) if k}
    out = {"category": dict(sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))),
           "severity": {SEVERITIES[r - 1]: k for r, k in sevs.items() if k},
           "site": dict(sorted(sites.items(), key=lambda kv: (-kv[1], kv[0])))}
    return total, out, levels


# --------------------------------------------------------------------------- the page


def page(c: sqlite3.Connection, plan: Plan, levels: dict[int | None, int], counts: dict[int, int],
         offset: int, limit: int) -> list[tuple[str, int, int | None]]:
    """(kind, subject rowid, level) of the hits ``offset`` .. ``offset + limit`` in search order."""
    out: list[tuple[str, int, int | None]] = []
    for level in (*RANKS, None):
        n = levels.get(level, 0)
        if limit <= 0:
            break
        if offset >= n:
            offset -= n
            continue
        take = min(limit, n - offset)
        groups = [g for g in plan.hit_groups if g.level == level and counts.get(g.gid)]
        for ord_, _gid in _level_rows(c, plan, groups, n, offset, take):
            out.append((KIND[ord_ >> RID_BITS], ord_ & RID_MASK, level))
        offset, limit = 0, limit - take
    return out


def _level_rows(c: sqlite3.Connection, plan: Plan, groups: list[Group], hits: int, skip: int,
                take: int) -> list[tuple[int, int]]:
    """(ord, gid) of the hits ``skip`` .. ``skip + take`` of one level (``hits`` of them in ``groups``):
    merging the groups' runs of the search-order index, or sorting the level's hits, whichever looks
    cheaper."""
    if plan.hits_table:
        return c.execute(f"SELECT ord, gid FROM {plan.hits_table} WHERE gid IN ({_gid_list(groups)}) "
                         "ORDER BY seen DESC, ord LIMIT ? OFFSET ?", (take, skip)).fetchall()
    streams = _streams(plan, groups)
    sort_cost = sum(g.n for g in groups) * SORT if plan.mode == "groups" else hits * (JOIN if plan.text else SORT)
    if _merge_cost(plan, groups, hits, skip + take, len(streams)) <= sort_cost and not plan.shop_id:
        cursors = [c.execute(sql, params) for sql, params in streams]
        try:
            merged = heapq.merge(*cursors, key=lambda r: (r[0], -r[1]), reverse=True)  # seen desc, ord asc
            return [(r[1], r[2]) for r in itertools.islice(merged, skip, skip + take)]
        finally:
            for cur in cursors:
                cur.close()
    sql, params = _source(plan, groups, seen=True)
    return c.execute(f"SELECT ord, gid FROM ({sql}) ORDER BY seen DESC, ord LIMIT ? OFFSET ?",
                     (*params, take, skip)).fetchall()


def _streams(plan: Plan, groups: list[Group]) -> list[tuple[str, list[Any]]]:
    """SQL of the level's hits (seen, ord, gid) in search order, one statement per summary group."""
    sweep = plan.sweep_no is not None
    twin = (f" CROSS JOIN search_sweeps t ON t.sweep_no = {plan.sweep_no} AND t.ord = s.ord "
            f"AND t.gid IN ({_gid_list(groups)})") if sweep else ""
    where = f" AND {plan.where}" if plan.where else ""
    member, params = (f" AND {_member()}", [*plan.params, plan.text]) if plan.text else ("", list(plan.params))
    return [(f"SELECT s.seen, s.ord, {'t.gid' if sweep else 's.gid'} FROM search_subjects s "
             f"INDEXED BY search_subjects_gid{twin} WHERE s.gid = {g.gid}{where}{member} ORDER BY s.seen DESC, s.ord",
             params) for g in (plan.groups if sweep else groups)]


def _merge_cost(plan: Plan, groups: list[Group], hits: int, want: int, streams: int) -> float:
    """Estimated cost of merging ``streams`` runs until ``want`` of the level's ``hits`` came out."""
    pulled = want + streams  # each run reads one row ahead
    members = sum(g.n for g in (plan.groups if plan.sweep_no is not None else groups))
    walked = pulled * members / max(hits, 1)  # rows each run steps over per hit it yields
    lookup = PROBE if plan.sweep_no is not None else 0.0  # a sweep row per row walked (the price is in the index)
    cost = streams * STREAM + pulled * PULL + walked * (WALK + lookup)
    if plan.text:
        cost += walked * TEST
    return cost
