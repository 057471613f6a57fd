"""Questions for the SQLite engine: search with filters and facets, counts, finding export.

Kept apart from ``engine.py`` (connections, transactions, writes) to keep both readable;
``SQLiteStore`` mixes this in.

``search`` answers from the search summary (``plan.py``) whenever that is exact, else
takes the general path here, which aggregates the findings of every hit. The full-text document
of a subject (its text and its findings' evidence) has the id ``gid << 39 | ord``, so a text
match maps to its subject by arithmetic (``summary.py``).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from crawler.items import CATEGORIES, SEVERITIES, Finding

from ..base import RESOLVED, Hit, HitFinding, SearchQuery, SearchResult, as_query, as_tuple, highlight
from . import plan as sqlite_plan
from .plan import match_expression, text_expression
from .summary import (
    LISTING_TEXT,
    ORD_MASK,
    RID_BITS,
    RID_MASK,
    SHOP_TEXT,
    TABLE,
    TAG,
    index_tokens,
    placeholders,
)

__all__ = ["LISTING_TEXT", "SHOP_TEXT", "TAG", "SQLiteQueries", "index_tokens", "match_expression", "placeholders",
           "row_finding"]
_seq = itertools.count()


def _cat_bit(i: int) -> int:
    """Bit of ``CATEGORIES[i]`` in a category mask; ``len(CATEGORIES)`` stands for any other category."""
    return 5 + i  # bits 0-4: severity ranks


#: per subject: worst severity, and bit masks of the severities and categories of its findings (NULL without)
_AGG = ("max(f.severity_rank) AS sev, sum(DISTINCT 1 << f.severity_rank) AS sevs, sum(DISTINCT 1 << CASE f.category "
        + " ".join(f"WHEN '{c}' THEN {_cat_bit(i)}" for i, c in enumerate(CATEGORIES))
        + f" WHEN NULL THEN NULL ELSE iif(f.category IS NULL, NULL, {_cat_bit(len(CATEGORIES))}) END) AS cats")


def _in(col: str, values: tuple[str, ...], where: list[str], params: list[Any]) -> None:
    if values:
        where.append(f"{col} IN ({placeholders(len(values))})")
        params.extend(values)


def row_finding(r: sqlite3.Row) -> Finding:
    return Finding(rule_id=r["rule_id"], rule_version=r["rule_version"], pack=r["pack"], title=r["title"],
                   category=r["category"], severity=r["severity"], basis=r["basis"],
                   subject_kind=r["subject_kind"], subject_id=r["subject_id"], site=r["site"], shop_id=r["shop_id"],
                   url=r["url"], field=r["field"], matched=json.loads(r["matched"]), snippet=r["snippet"],
                   start=r["start_pos"], end=r["end_pos"], deobfuscated=json.loads(r["deobfuscated"]),
                   snapshot_sha256=r["snapshot_sha256"], sweep_id=r["sweep_id"], found_at=r["found_at"])


_FINDING_KEYS = ("rule_id", "rule_version", "pack", "title", "category", "severity", "basis", "subject_kind",
                 "subject_id", "site", "shop_id", "url", "field", "snippet", "snapshot_sha256", "sweep_id",
                 "found_at", "finding_id", "status", "first_seen", "last_seen", "first_sweep_id", "last_sweep_id",
                 "resolved_at", "subject_title", "price", "currency", "shop_name", "operator", "license_number",
                 "fetched_at")


class SQLiteQueries:
    """Read-side methods of ``SQLiteStore`` (which provides ``_read()``)."""

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def counts(self, sweep_id: str | None = None) -> dict[str, Any]:
        if sweep_id is None:
            tables = {t: (t, "1") for t in ("listings", "shops", "snapshots", "sweeps", "listing_versions")}
            fsrc, params = "findings f WHERE 1", ()
        else:
            tables = {"listings": ("subject_sweeps", "kind = 'listing' AND sweep_id = ?"),
                      "shops": ("subject_sweeps", "kind = 'shop' AND sweep_id = ?"),
                      "snapshots": ("snapshots", "sweep_id = ?"), "sweeps": ("sweeps", "sweep_id = ?"),
                      "listing_versions": ("listing_versions", "sweep_id = ?")}
            fsrc, params = "findings f JOIN finding_sweeps fs ON fs.finding_id = f.finding_id WHERE fs.sweep_id = ?", \
                (sweep_id,)
        with self._read() as c:
            out: dict[str, Any] = {k: c.execute(f"SELECT count(*) FROM {t} WHERE {w}", params).fetchone()[0]
                                   for k, (t, w) in tables.items()}
            for key, op in (("findings", "!="), ("resolved", "=")):
                out[key] = c.execute(f"SELECT count(*) FROM {fsrc} AND f.status {op} ?",
                                     (*params, RESOLVED)).fetchone()[0]
            for key, col, order in (("by_category", "category", CATEGORIES), ("by_severity", "severity", SEVERITIES)):
                got = dict(c.execute(f"SELECT f.{col}, count(*) FROM {fsrc} AND f.status != ? GROUP BY f.{col}",
                                     (*params, RESOLVED)).fetchall())
                out[key] = {k: got.pop(k, 0) for k in order} | got
        return out

    # ----------------------------------------------------------------- filters

    @staticmethod
    def _finding_filter(q: SearchQuery, a: str = "f") -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        _in(f"{a}.category", as_tuple(q.category), where, params)
        _in(f"{a}.severity", as_tuple(q.severity), where, params)
        _in(f"{a}.site", as_tuple(q.site), where, params)
        if as_tuple(q.status):
            _in(f"{a}.status", as_tuple(q.status), where, params)
        elif not q.include_resolved:
            where.append(f"{a}.status!=?")
            params.append(RESOLVED)
        for col, value in ((f"{a}.shop_id", q.shop_id), (f"{a}.subject_kind", q.kind)):
            if value:
                where.append(f"{col}=?")
                params.append(value)
        if q.sweep_id:
            where.append(f"EXISTS (SELECT 1 FROM finding_sweeps fs WHERE fs.finding_id={a}.finding_id "
                         "AND fs.sweep_id=?)")
            params.append(q.sweep_id)
        for cond, value in ((f"{a}.last_seen>=?", q.seen_from), (f"{a}.first_seen<?", q.seen_before)):
            if value:
                where.append(cond)
                params.append(value)
        return " AND ".join(where) or "1", params

    @staticmethod
    def _subject_filter(q: SearchQuery, kind: str, a: str) -> tuple[str, list[Any]] | None:
        """SQL over the subject table (alias ``a``); None when the query excludes this kind."""
        if (q.kind and q.kind != kind) or (kind == "shop" and (q.price_min is not None or q.price_max is not None)):
            return None
        where: list[str] = []
        params: list[Any] = []
        _in(f"{a}.site", as_tuple(q.site), where, params)
        if q.shop_id:
            where.append(f"{a}.shop_id=?")
            params.append(q.shop_id)
        for op, value in ((">=", q.price_min), ("<=", q.price_max)):
            if value is not None:
                where.append(f"{a}.price{op}?")
                params.append(value)
        if q.sweep_id:
            where.append(f"EXISTS (SELECT 1 FROM subject_sweeps ss WHERE ss.kind='{kind}' "
                         f"AND ss.subject_id={a}.subject_id AND ss.sweep_id=?)")
            params.append(q.sweep_id)
        return " AND ".join(where) or "1", params

    @staticmethod
    def _match(c: sqlite3.Connection, q: SearchQuery) -> tuple[str | None, str | None, list[str]]:
        """Temp tables (tag, rid) of subjects matching every required term / any excluded term.

        Returns (required table or None, excluded table or None, tables to drop).
        """
        n = next(_seq)
        made: list[str] = []
        tables: list[str | None] = []
        for name, expr in zip((f"_t{n}", f"_x{n}"), text_expression(q), strict=True):
            if expr is None:
                tables.append(None)
                continue
            c.execute(f"CREATE TEMP TABLE {name}(tag INT, rid INT, PRIMARY KEY (tag, rid)) WITHOUT ROWID")
            made.append(name)
            c.execute(f"INSERT OR IGNORE INTO {name} SELECT (rowid & {ORD_MASK}) >> {RID_BITS}, rowid & {RID_MASK} "
                      "FROM fts WHERE fts MATCH ?", (expr,))
            tables.append(name)
        return tables[0], tables[1], made

    # ----------------------------------------------------------------- search

    def search(self, q: SearchQuery | Mapping[str, Any]) -> SearchResult:
        q = as_query(q)
        fsql, fparams = self._finding_filter(q)
        with self._read() as c:
            plan = sqlite_plan.make_plan(c, q)
            if plan is None:
                total, facets, page = self._search_general(c, q, fsql, fparams)
            else:
                total, facets, page = sqlite_plan.run(c, plan, max(q.offset, 0), max(q.limit, 0))
            hits = self._hits(c, q, page, fsql, fparams)
        return SearchResult(hits, total, facets, q)

    def _search_general(self, c: sqlite3.Connection, q: SearchQuery, fsql: str,
                        fparams: list[Any]) -> tuple[int, dict[str, dict[str, int]], list[tuple[str, int, int | None]]]:
        """(total, facets, page) aggregating the findings of every hit: exact for any query."""
        join = "JOIN" if q.needs_finding else "LEFT JOIN"
        hx = f"_hits{next(_seq)}"
        agg = _AGG
        req, exc, made = self._match(c, q)
        made.append(hx)
        try:
            # one row per hit: worst severity and the severities / categories (bit masks) of the
            # findings that passed the filters; only the matched subjects' findings are read
            c.execute(f"CREATE TEMP TABLE {hx}(tag INT, rid INT, site TEXT, seen TEXT, sev INT, sevs INT, cats INT)")
            for kind, table in TABLE.items():
                sub = self._subject_filter(q, kind, "s")
                if sub is None:
                    continue
                where, params = sub
                if exc is not None:
                    where += f" AND s.rowid NOT IN (SELECT rid FROM {exc} WHERE tag = {TAG[kind]})"
                cols = f"{TAG[kind]}, s.rowid, s.site, s.fetched_at"
                if req is None and q.needs_finding and not q.shop_id:
                    # every flagged subject may be a hit: group the findings (index order), then join
                    c.execute(f"INSERT INTO {hx} SELECT {cols}, x.sev, x.sevs, x.cats FROM "
                              f"(SELECT f.subject_id AS sid, {agg} FROM findings f "
                              f"WHERE f.subject_kind = '{kind}' AND {fsql} GROUP BY f.subject_id) x "
                              f"JOIN {table} s ON s.subject_id = x.sid WHERE {where}",
                              [*fparams, *params])
                    continue
                if req is not None:
                    source = f"{req} t JOIN {table} s ON s.rowid = t.rid"
                    where += f" AND t.tag = {TAG[kind]}"
                    group = "t.rid"  # primary key order: no sorting
                else:
                    source, group = f"{table} s", "s.rowid"
                c.execute(f"INSERT INTO {hx} SELECT {cols}, {agg} FROM {source} {join} findings f "
                          f"ON f.subject_id = s.subject_id AND f.subject_kind = '{kind}' AND {fsql} "
                          f"WHERE {where} GROUP BY {group}", [*fparams, *params])
            ranks = range(len(SEVERITIES), 0, -1)
            bits = range(len(CATEGORIES) + 1)  # the last: any other category
            total, *counts = c.execute(
                f"SELECT count(*), {', '.join(f'sum(sevs >> {r} & 1)' for r in ranks)}, "
                f"{', '.join(f'sum(cats >> {_cat_bit(i)} & 1)' for i in bits)} FROM {hx}").fetchone()
            per_rank, per_cat = counts[:len(ranks)], counts[len(ranks):]
            if per_cat[-1]:  # categories outside the known list: count them from the findings
                cats = self._category_facet(c, q, hx, fsql, fparams)
            else:
                cats = {CATEGORIES[i]: k for i, k in enumerate(per_cat[:-1]) if k}
            facets = {"category": dict(sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))),
                      "severity": {SEVERITIES[r - 1]: k for r, k in zip(ranks, per_rank, strict=True) if k},
                      "site": dict(c.execute(f"SELECT site, count(*) FROM {hx} GROUP BY site ORDER BY 2 DESC, 1"))}
            page = c.execute(f"SELECT CASE tag WHEN {TAG['listing']} THEN 'listing' ELSE 'shop' END, rid, sev "
                             f"FROM {hx} ORDER BY coalesce(sev, 0) DESC, seen DESC, tag, rid LIMIT ? OFFSET ?",
                             (max(q.limit, 0), max(q.offset, 0))).fetchall()
        finally:
            for table in made:
                c.execute(f"DROP TABLE IF EXISTS temp.{table}")
        return total, facets, [tuple(r) for r in page]

    @staticmethod
    def _category_facet(c: sqlite3.Connection, q: SearchQuery, hx: str, fsql: str,
                        fparams: list[Any]) -> dict[str, int]:
        """Hits per category, read from the hits' findings (when some category has no bit)."""
        parts, params = [], []
        for kind, table in TABLE.items():
            parts.append(f"SELECT h.rowid AS h, f.category AS category FROM {hx} h JOIN {table} s ON s.rowid = h.rid "
                         f"JOIN findings f ON f.subject_id = s.subject_id AND f.subject_kind = '{kind}' "
                         f"WHERE h.tag = {TAG[kind]} AND {fsql}")
            params += fparams
        return dict(c.execute(f"SELECT category, count(DISTINCT h) FROM ({' UNION ALL '.join(parts)}) "
                              "GROUP BY category", params))

    def _hits(self, c: sqlite3.Connection, q: SearchQuery, page: list[tuple[str, int, int | None]], fsql: str,
              fparams: list[Any]) -> list[Hit]:
        """The page's hits; ``page`` holds (kind, subject rowid, worst passing severity rank)."""
        by_kind: dict[str, list[int]] = {"listing": [], "shop": []}
        for kind, rid, _sev in page:
            by_kind[kind].append(rid)
        sqls = {"listing": "SELECT l.rowid AS rid, l.subject_id, l.site, l.title, l.url, l.shop_id, l.price, "
                           "l.fetched_at, d.data, coalesce(nullif(l.shop_name, ''), s.name, '') AS shop_name "
                           "FROM listings l JOIN subject_data d ON d.id = l.rowid * 4 "
                           "LEFT JOIN shops s ON s.subject_id = l.site || ':' || l.shop_id WHERE l.rowid IN ",
                "shop": "SELECT s.rowid AS rid, subject_id, site, name AS title, url, shop_id, NULL AS price, "
                        "fetched_at, d.data, name AS shop_name FROM shops s JOIN subject_data d "
                        "ON d.id = s.rowid * 4 + 1 WHERE s.rowid IN "}
        rows: dict[tuple[str, int], sqlite3.Row] = {}
        findings: dict[tuple[str, str], list[HitFinding]] = {}
        for kind, rids in by_kind.items():
            if not rids:
                continue
            got = c.execute(sqls[kind] + f"({placeholders(len(rids))})", rids).fetchall()
            rows.update(((kind, r["rid"]), r) for r in got)
            ids = [r["subject_id"] for r in got]
            for f in c.execute(f"SELECT * FROM findings f INDEXED BY findings_subject WHERE f.subject_kind=? "
                               f"AND f.subject_id IN "
                               f"({placeholders(len(ids))}) AND {fsql} ORDER BY severity_rank DESC, rule_id",
                               (kind, *ids, *fparams)):
                findings.setdefault((kind, f["subject_id"]), []).append(HitFinding(
                    f["finding_id"], f["rule_id"], f["title"], f["category"], f["severity"], f["status"],
                    f["field"], f["snippet"]))
        terms = q.terms()[0]
        out: list[Hit] = []
        for kind, rid, sev in page:
            r = rows[(kind, rid)]
            hit = Hit(kind, r["subject_id"], r["site"], r["title"], r["url"], r["shop_id"], r["shop_name"],
                      r["price"], SEVERITIES[sev - 1] if sev else None, r["fetched_at"],
                      findings.get((kind, r["subject_id"]), []))
            if terms:
                data = json.loads(r["data"])
                values = {**data, "shop_name": r["shop_name"]}
                texts = [(n, str(values.get(n) or "")) for n in (LISTING_TEXT if kind == "listing" else SHOP_TEXT)]
                texts += [(f"norm.{k}", v) for k, v in (data.get("norm") or {}).items()]
                texts += [(f"finding:{f.rule_id}", f.snippet) for f in hit.findings]
                hit.highlight_field, hit.highlight = highlight(texts, terms)
            out.append(hit)
        return out

    # ----------------------------------------------------------------- export stream

    def iter_findings(self, q: SearchQuery | Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        q = as_query(q)
        fsql, params = self._finding_filter(q)
        where = [fsql]
        for op, value in ((">=", q.price_min), ("<=", q.price_max)):
            if value is not None:
                where.append(f"f.subject_kind='listing' AND l.price{op}?")
                params.append(value)
        with self._read() as c:
            req, exc, made = self._match(c, q)
            rid = "(CASE f.subject_kind WHEN 'listing' THEN l.rowid ELSE s.rowid END)"
            tag = "(CASE f.subject_kind WHEN 'listing' THEN 0 ELSE 1 END)"
            if req is not None:
                where.append(f"EXISTS (SELECT 1 FROM {req} t WHERE t.tag = {tag} AND t.rid = {rid})")
            if exc is not None:
                where.append(f"NOT EXISTS (SELECT 1 FROM {exc} t WHERE t.tag = {tag} AND t.rid = {rid})")
            sql = ("SELECT f.*, coalesce(l.title, '') AS subject_title, l.price, l.currency, "
                   "coalesce(nullif(l.shop_name, ''), s.name, '') AS shop_name, "
                   "coalesce(s.operator, '') AS operator, coalesce(s.license_number, '') AS license_number, "
                   "coalesce((SELECT max(fetched_at) FROM snapshots sn WHERE sn.sha256 = f.snapshot_sha256 "
                   "AND f.snapshot_sha256 != ''), nullif(f.last_seen, ''), "
                   "CASE f.subject_kind WHEN 'listing' THEN l.fetched_at ELSE s.fetched_at END) AS fetched_at "
                   "FROM findings f LEFT JOIN listings l ON f.subject_kind = 'listing' AND l.subject_id = f.subject_id "
                   "LEFT JOIN shops s ON s.subject_id = f.site || ':' || f.shop_id "
                   f"WHERE {' AND '.join(where)} "
                   "ORDER BY f.severity_rank DESC, f.site, f.shop_id, f.subject_id, f.rule_id")
            try:
                cur = c.execute(sql, params)
                while batch := cur.fetchmany(500):
                    for r in batch:
                        d = {k: r[k] for k in _FINDING_KEYS}
                        d.update(matched=json.loads(r["matched"]), deobfuscated=json.loads(r["deobfuscated"]),
                                 start=r["start_pos"], end=r["end_pos"])
                        yield d
            finally:
                for table in made:
                    c.execute(f"DROP TABLE IF EXISTS temp.{table}")
