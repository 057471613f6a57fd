"""The search summary of the SQLite engine (schema v5), kept current on every write.

Search must count, facet and sort hundreds of thousands of subjects in well under 100 ms, so
it reads precomputed rows instead of aggregating findings per query:

``search_subjects``
    One row per listing / shop: its group, price and when it was last seen (the sort key), with
    a covering index by group in search order (a shop filter uses the subject tables' index).
    Its rowid is the subject's document id, so a text query's hits are read in rowid order.
``search_groups``
    One row per distinct (site, kind, pairs of its unresolved findings, pairs of all its
    findings) and how many subjects share it. A *pair* is a (category, severity) bit, so a
    group tells which categories and severities count for any category / severity filter:
    the facet counts and the ordering level of a whole group at once.
``fts``
    One document per subject: in ``body`` the tokens of its text and of the evidence of all its
    findings, with a barrier token between the parts so that no phrase runs from one into the
    next; in ``uni`` each CJK character it contains, once (what a one-character term looks up:
    a prefix index over every token would cost more to write). The document id
    is ``group id << 39 | ord``: the documents of a group are one rowid range, so a text
    query counts its hits per group from the full-text index alone. A subject whose group
    changes moves to the new range (written once per batch, at commit).

``search_sweeps``
    Per sweep and subject fetched in it with findings seen in that sweep: the group of those
    findings (their current category, severity and status), so a sweep filter counts from one
    index too. (Subjects without findings in the sweep have no row: a sweep filter that keeps
    unflagged subjects takes the general path.)
    Sweep memberships reach it through a queue (a temp table of the writer connection) that
    triggers on ``subject_sweeps`` and ``finding_sweeps`` fill, whoever writes through the store.

``ord = kind tag << 38 | subject rowid`` is the tie-break order of search (listings before
shops, then insertion order).

Writes mark subjects dirty; the rows and documents of dirty subjects are recomputed from the
tables just before the batch commits (and before a read inside ``transaction()``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from crawler.items import CATEGORIES

from ..base import RESOLVED, text_segments

log = logging.getLogger(__name__)

#: ``flush()`` / ``close()`` merge the full-text index into one segment once this process has written
#: documents for this share of the stored subjects (and at least COMPACT_MIN): FTS5 otherwise keeps
#: a dozen segments at a million documents, and every text query pays a seek in each.
COMPACT_SHARE = 0.1
COMPACT_MIN = 10_000

TAG = {"listing": 0, "shop": 1}
TABLE = {"listing": "listings", "shop": "shops"}
KIND = {v: k for k, v in TAG.items()}
SHOP_TEXT = ("name", "operator", "license_text", "license_number", "food_license", "address",
             "description", "service", "notices")
LISTING_TEXT = ("title", "description", "promo", "service", "shop_name")

RID_BITS = 38
ORD_BITS = RID_BITS + 1
RID_MASK = (1 << RID_BITS) - 1
ORD_MASK = (1 << ORD_BITS) - 1
#: between the parts of a document: letters after a digit never come out of a query's terms
BARRIER = "0b"

RANKS = (4, 3, 2, 1)  # critical .. low, the order of search levels
CATEGORY_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
OTHER_CATEGORY = len(CATEGORIES)  # any category outside the form
ODD_BIT = 1 << 60  # a finding of unknown severity (rank 0)
CATEGORY_MASK = [0b1111 << (4 * i) for i in range(OTHER_CATEGORY + 1)]
RANK_MASK = {r: sum(1 << (4 * i + r - 1) for i in range(OTHER_CATEGORY + 1)) for r in RANKS}
KNOWN_MASK = sum(CATEGORY_MASK[:OTHER_CATEGORY])
ALL_PAIRS = KNOWN_MASK | CATEGORY_MASK[OTHER_CATEGORY]

SUMMARY_SCHEMA = """
CREATE TABLE IF NOT EXISTS search_groups (
  gid INTEGER PRIMARY KEY, site TEXT NOT NULL, tag INTEGER NOT NULL, open_pairs INTEGER NOT NULL,
  all_pairs INTEGER NOT NULL, n INTEGER NOT NULL DEFAULT 0, UNIQUE (site, tag, open_pairs, all_pairs));
-- sig: a hash of its findings' (rowid, pair, open): when it changes, every sweep row of the subject is redone
CREATE TABLE IF NOT EXISTS search_subjects (
  doc INTEGER PRIMARY KEY, ord INTEGER NOT NULL UNIQUE, gid INTEGER NOT NULL, price REAL, seen TEXT NOT NULL,
  sig INTEGER NOT NULL);
-- search order within a group: a level's page merges its groups' runs (or sorts them when sparse);
-- with the price, a price filter reads it alone (an index by price would cost a random page per write)
CREATE INDEX IF NOT EXISTS search_subjects_gid ON search_subjects(gid, seen DESC, ord, price);
-- one document per subject (rowid = gid << 39 | ord): body tokens, and its distinct CJK characters
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, uni, tokenize = 'unicode61', columnsize = 0);
CREATE TABLE IF NOT EXISTS search_sweep_ids (sweep_no INTEGER PRIMARY KEY, sweep_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS search_sweeps (
  sweep_no INTEGER NOT NULL, ord INTEGER NOT NULL, gid INTEGER NOT NULL, PRIMARY KEY (sweep_no, ord)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_sweeps_gid ON search_sweeps(sweep_no, gid);
"""

#: On the writer connection only (temp objects): the sweep memberships it writes, whoever calls it
#: (``transfer.py`` inserts into the sweep tables directly), queued for the next flush.
SWEEP_QUEUE = """
CREATE TEMP TABLE IF NOT EXISTS search_sweep_queue (kind TEXT NOT NULL, subject_id TEXT NOT NULL,
  sweep_id TEXT NOT NULL, finding INTEGER);
"""
SWEEP_TRIGGERS = """
CREATE TEMP TRIGGER IF NOT EXISTS search_sweep_queue_subject AFTER INSERT ON main.subject_sweeps BEGIN
  INSERT INTO search_sweep_queue VALUES (new.kind, new.subject_id, new.sweep_id, NULL); END;
CREATE TEMP TRIGGER IF NOT EXISTS search_sweep_queue_finding AFTER INSERT ON main.finding_sweeps BEGIN
  INSERT INTO search_sweep_queue SELECT subject_kind, subject_id, new.sweep_id, rowid FROM main.findings
  WHERE finding_id = new.finding_id; END;
"""


Doc = tuple[str, str]  # (body, uni) of a full-text document

# --------------------------------------------------------------------------- pairs


def pair_bit(category: str, rank: int) -> int:
    """The bit of a finding's (category, severity rank); ODD_BIT for an unknown severity."""
    if rank not in RANK_MASK:
        return ODD_BIT
    return 1 << (4 * CATEGORY_INDEX.get(category, OTHER_CATEGORY) + rank - 1)


def top_rank(pairs: int) -> int | None:
    """The worst severity rank among ``pairs`` (0: only unknown severities; None: no pair)."""
    for r in RANKS:
        if pairs & RANK_MASK[r]:
            return r
    return 0 if pairs & ODD_BIT else None


def doc_id(gid: int, ord_: int) -> int:
    return gid << ORD_BITS | ord_


def index_tokens(text: str, chars: set[str] | None = None) -> str:
    """Text as the space-separated tokens FTS5 indexes: CJK runs as overlapping bigrams plus the
    run's last character, latin words and numbers whole, all NFKC + case folded. The CJK characters
    are added to ``chars`` if given."""
    toks: list[str] = []
    for is_cjk, seg in text_segments(text):
        if is_cjk:
            toks.extend(map(str.__add__, seg, seg[1:]))  # overlapping bigrams
            toks.append(seg[-1])
            if chars is not None:
                chars.update(seg)
        else:
            toks.append(seg)
    return " ".join(toks)


def document(texts: Iterable[str]) -> Doc:
    """The full-text document of a subject from its text and its findings' evidence texts: (body, uni)."""
    chars: set[str] = set()
    parts = dict.fromkeys(index_tokens(text, chars) for text in texts)  # the same evidence once
    return f" {BARRIER} ".join(parts), " ".join(sorted(chars))


def subject_text(values: dict[str, Any], names: Sequence[str]) -> str:
    """The searchable text of a subject (its fields, then the normalised variants that differ)."""
    parts = [str(values.get(n) or "") for n in names]
    originals = set(parts)
    parts += [v for v in (values.get("norm") or {}).values() if v and v not in originals]
    return "\n".join(p for p in parts if p)


def evidence_text(snippet: str, matched: Sequence[str]) -> str:
    """The searchable text of a finding: its snippet without the hit markers, and the matched terms."""
    return snippet.replace("【", "").replace("】", "") + "\n" + "\n".join(matched)


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def placeholders(n: int) -> str:
    return ",".join("?" * n)


def chunks(seq: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


# --------------------------------------------------------------------------- the write side


@dataclass
class _Subject:
    """What the summary keeps of one subject, computed from the tables."""

    ord: int
    site: str
    price: float | None
    seen: str
    open_pairs: int = 0
    all_pairs: int = 0
    doc: Doc | None = None  # its new document, when its text or evidence changed
    findings: list[tuple[int, int, bool]] = field(default_factory=list)  # (rowid, pair bit, unresolved)

    @property
    def sig(self) -> int:
        return hash(tuple(self.findings))  # ints only: the same in every process


class SQLiteSummary:
    """Keeps ``search_subjects``, ``search_groups`` and ``fts`` current (mixed into ``SQLiteStore``,
    which calls ``_touch`` from its writes and ``_flush_summary`` before committing)."""

    _w: sqlite3.Connection
    _dirty: dict[tuple[str, str], bool]  # (kind, subject id) -> its text or evidence changed
    _texts: dict[tuple[str, str], str]  # subject texts written in this batch
    _call_dirty: dict[tuple[str, str], bool]  # the same for the write call in progress
    _call_texts: dict[tuple[str, str], str]
    _gids: dict[tuple[str, int, int, int], int]
    _sweep_nos: dict[str, int]

    def _init_summary_state(self) -> None:
        self._dirty, self._texts, self._call_dirty, self._call_texts, self._gids = {}, {}, {}, {}, {}
        self._sweep_nos = {}
        self._docs_written = 0  # full-text documents written since the index was last compacted
        # findings above this rowid were written by this connection since its last flush or BEGIN, so
        # their sweep memberships are all in the queue (None: do not rely on the queue)
        self._findings_floor: int | None = None

    def _mark_findings_floor(self, c: sqlite3.Connection) -> None:
        self._findings_floor = c.execute("SELECT coalesce(max(rowid), 0) FROM findings").fetchone()[0]

    def _touch(self, kind: str, subject_id: str, text_changed: bool = False, text: str | None = None) -> None:
        """The subject changed in the current write call (applied if the call succeeds)."""
        key = (kind, subject_id)
        self._call_dirty[key] = self._call_dirty.get(key, False) or text_changed
        if text is not None:
            self._call_texts[key] = text

    def _end_call(self, ok: bool) -> None:
        if not self._call_dirty and not self._call_texts:
            return
        if ok:
            for key, changed in self._call_dirty.items():
                self._dirty[key] = self._dirty.get(key, False) or changed
            self._texts.update(self._call_texts)
        self._call_dirty.clear()
        self._call_texts.clear()

    def _drop_summary_state(self) -> None:
        """After a rollback: forget pending marks and the group ids the transaction may have made."""
        self._dirty.clear()
        self._texts.clear()
        self._gids.clear()
        self._sweep_nos.clear()
        self._findings_floor = None

    def _touch_findings(self, c: sqlite3.Connection, finding_ids: Sequence[str]) -> None:
        for part in chunks(finding_ids):
            for kind, sid in c.execute("SELECT DISTINCT subject_kind, subject_id FROM findings WHERE finding_id "
                                       f"IN ({placeholders(len(part))})", part):
                self._touch(kind, sid)

    # ----------------------------------------------------------------- flushing

    def _flush_summary(self) -> None:
        """Recompute the summary rows and documents of the dirty subjects (inside the writer's transaction)."""
        c = self._w
        queued = self._take_sweep_queue(c)
        if not self._dirty and not queued:
            return
        dirty, texts = self._dirty, self._texts
        self._dirty, self._texts = {}, {}
        for key in queued:
            dirty.setdefault(key, False)
        floor, self._findings_floor = self._findings_floor, None
        deltas: dict[int, int] = {}
        docs: list[tuple[int, int, Doc]] = []  # (document id, 0 delete / 1 insert, document)
        for kind in TAG:
            for part in chunks([sid for (k, sid) in dirty if k == kind]):
                subjects = self._load_subjects(c, kind, part)
                if not subjects:
                    continue
                ords = [s.ord for s in subjects.values()]
                old = {o: (g, sig) for o, g, sig in c.execute(
                    f"SELECT ord, gid, sig FROM search_subjects WHERE ord IN ({placeholders(len(ords))})", ords)}
                # a subject without a summary row gets its document too
                text_dirty = {sid for sid, s in subjects.items() if dirty[(kind, sid)] or s.ord not in old}
                self._load_findings(c, kind, subjects, text_dirty, texts)
                self._store_subjects(c, kind, subjects, {o: g for o, (g, _) in old.items()}, deltas, docs)
                # the sweep rows: all of them when the findings changed, else those of new memberships
                redo = {sid for sid, s in subjects.items() if old.get(s.ord, (0, None))[1] != s.sig}
                # subjects new since the last flush whose findings are too: the queue holds all their memberships
                fresh = {sid for sid in redo if subjects[sid].ord not in old and floor is not None
                         and all(rowid > floor for rowid, _, _ in subjects[sid].findings)}
                self._store_sweeps(c, kind, subjects, redo, fresh,
                                   {sid: queued[(kind, sid)] for sid in subjects if (kind, sid) in queued})
        if floor is not None:
            self._mark_findings_floor(c)
        c.executemany("UPDATE search_groups SET n = n + ? WHERE gid = ?", [(d, g) for g, d in deltas.items() if d])
        # in rowid order: FTS5 writes a new index segment whenever a document id is lower than the last one
        self._docs_written += sum(op for _, op, _ in docs)
        for doc, op, (body, uni) in sorted(docs):
            if op:
                c.execute("INSERT INTO fts(rowid, body, uni) VALUES (?,?,?)", (doc, body, uni))
            else:
                c.execute("DELETE FROM fts WHERE rowid = ?", (doc,))

    @staticmethod
    def _take_sweep_queue(c: sqlite3.Connection) -> dict[tuple[str, str], set[tuple[str, int | None]]]:
        """The sweep memberships written since the last flush, by subject: (sweep id, finding rowid or
        None for the subject's own). The queue is emptied."""
        out: dict[tuple[str, str], set[tuple[str, int | None]]] = {}
        for kind, sid, sweep, finding in c.execute("SELECT kind, subject_id, sweep_id, finding "
                                                   "FROM search_sweep_queue").fetchall():
            out.setdefault((kind, sid), set()).add((sweep, finding))
        if out:
            c.execute("DELETE FROM search_sweep_queue")
        return out

    @staticmethod
    def _load_subjects(c: sqlite3.Connection, kind: str, sids: Sequence[str]) -> dict[str, _Subject]:
        tag, table = TAG[kind], TABLE[kind]
        price = "price" if kind == "listing" else "NULL"
        return {sid: _Subject(tag << RID_BITS | rowid, site, p, seen)
                for rowid, sid, site, p, seen in c.execute(
                    f"SELECT rowid, subject_id, site, {price}, fetched_at FROM {table} "
                    f"WHERE subject_id IN ({placeholders(len(sids))})", sids)}

    def _load_findings(self, c: sqlite3.Connection, kind: str, subjects: dict[str, _Subject], text_dirty: set[str],
                       texts: dict[tuple[str, str], str]) -> None:
        """Fill the pairs of every subject, and the document of those whose text or evidence changed."""
        sids = list(subjects)
        evidence_texts: dict[str, list[str]] = {}
        evidence = "snippet, matched" if text_dirty else "NULL, NULL"  # else the index alone answers
        for rowid, sid, category, rank, status, snippet, matched in c.execute(
                f"SELECT rowid, subject_id, category, severity_rank, status, {evidence} FROM findings "
                f"WHERE subject_kind = ? AND subject_id IN ({placeholders(len(sids))}) ORDER BY rowid",
                (kind, *sids)):
            s = subjects[sid]
            bit = pair_bit(category, rank)
            s.all_pairs |= bit
            if status != RESOLVED:
                s.open_pairs |= bit
            s.findings.append((rowid, bit, status != RESOLVED))
            if sid in text_dirty:
                evidence_texts.setdefault(sid, []).append(evidence_text(snippet, json.loads(matched)))
        if text_dirty:
            self._subject_docs(c, kind, subjects, text_dirty, texts, evidence_texts)

    @staticmethod
    def _subject_docs(c: sqlite3.Connection, kind: str, subjects: dict[str, _Subject], text_dirty: set[str],
                      texts: dict[tuple[str, str], str], evidence_texts: dict[str, list[str]]) -> None:
        """Fill ``doc`` of the subjects in ``text_dirty``."""
        missing = {subjects[sid].ord & RID_MASK: sid for sid in text_dirty if (kind, sid) not in texts}
        if missing:
            names = LISTING_TEXT if kind == "listing" else SHOP_TEXT
            ids = [rid * 4 + TAG[kind] for rid in missing]
            for i, data in c.execute(f"SELECT id, data FROM subject_data WHERE id IN ({placeholders(len(ids))})",
                                     ids):
                texts[(kind, missing[i // 4])] = subject_text(json.loads(data), names)
        for sid in text_dirty:
            subjects[sid].doc = document([texts.get((kind, sid), ""), *evidence_texts.get(sid, ())])

    def _store_subjects(self, c: sqlite3.Connection, kind: str, subjects: dict[str, _Subject],
                        old: dict[int, int], deltas: dict[int, int], docs: list[tuple[int, int, Doc]]) -> None:
        """Write the summary rows; queue the documents to delete and insert in ``docs``."""
        rows = []
        for s in subjects.values():
            gid = self._gid(c, s.site, TAG[kind], s.open_pairs, s.all_pairs)
            was = old.get(s.ord)
            if was is None:
                deltas[gid] = deltas.get(gid, 0) + 1
                docs.append((doc_id(gid, s.ord), 1, s.doc or ("", "")))
            elif was != gid or s.doc is not None:
                old_doc = doc_id(was, s.ord)
                stored = self._stored_doc(c, old_doc)
                if was != gid or stored != s.doc:
                    docs.append((old_doc, 0, ("", "")))
                    docs.append((doc_id(gid, s.ord), 1, stored if s.doc is None else s.doc))
                if was != gid:
                    deltas[gid] = deltas.get(gid, 0) + 1
                    deltas[was] = deltas.get(was, 0) - 1
            rows.append((doc_id(gid, s.ord), s.ord, gid, s.price, s.seen, s.sig))
        c.executemany("INSERT INTO search_subjects(doc, ord, gid, price, seen, sig) VALUES (?,?,?,?,?,?) "
                      "ON CONFLICT(ord) DO UPDATE SET doc=excluded.doc, gid=excluded.gid, price=excluded.price, "
                      "seen=excluded.seen, sig=excluded.sig", rows)

    @staticmethod
    def _stored_doc(c: sqlite3.Connection, doc: int) -> Doc:
        row = c.execute("SELECT body, uni FROM fts WHERE rowid = ?", (doc,)).fetchone()
        return (row[0], row[1]) if row else ("", "")

    def _gid(self, c: sqlite3.Connection, site: str, tag: int, open_pairs: int, all_pairs: int) -> int:
        key = (site, tag, open_pairs, all_pairs)
        gid = self._gids.get(key)
        if gid is None:
            c.execute("INSERT INTO search_groups(site, tag, open_pairs, all_pairs) VALUES (?,?,?,?) "
                      "ON CONFLICT DO NOTHING", key)
            gid = c.execute("SELECT gid FROM search_groups WHERE site=? AND tag=? AND open_pairs=? AND all_pairs=?",
                            key).fetchone()[0]
            self._gids[key] = gid
        return gid

    def _store_sweeps(self, c: sqlite3.Connection, kind: str, subjects: dict[str, _Subject], redo: set[str],
                      fresh: set[str], queued: dict[str, set[tuple[str, int | None]]]) -> None:
        """Write the sweep rows of ``redo`` (every sweep of those subjects; for ``fresh`` ones from the queue)
        and of the queued sweeps of the others.

        A subject with findings seen in a sweep it was not fetched in gets a marker row (gid 0, never a
        hit): when it is fetched in that sweep later, a missing row means the queue holds all it needs.
        """
        pairs: dict[tuple[str, str], list[int]] = {}  # (subject id, sweep id) -> [open pairs, all pairs]
        markers: set[tuple[str, str]] = set()
        for sid in fresh:
            _queued_pairs(subjects[sid], sid, queued.get(sid, set()), pairs, markers)
        rest = {sid: got for sid, got in queued.items() if sid not in redo}
        joined = self._joined_quietly(c, subjects, rest)
        for sid, sweeps in joined.items():
            _queued_pairs(subjects[sid], sid, {(sw, f) for sw, f in rest[sid] if sw in sweeps}, pairs, markers)
        # from the tables: every sweep of redo, and the queued sweeps the queue alone cannot answer
        again = {sid: {sw for sw, _ in got} - joined.get(sid, set()) for sid, got in rest.items()}
        again = {sid: sweeps for sid, sweeps in again.items() if sweeps}
        for sids, sweeps in ((sorted(redo - fresh), None), (sorted(again), sorted(set().union(*again.values())))):
            for part in chunks(sids):
                _table_pairs(c, kind, part, sweeps, again, pairs, markers)
        # rows only with findings in the sweep (their set only grows: a row is never taken back)
        c.executemany("INSERT OR REPLACE INTO search_sweeps(sweep_no, ord, gid) VALUES (?,?,?)",
                      [(self._sweep_no(c, sweep), subjects[sid].ord,
                        self._gid(c, subjects[sid].site, TAG[kind], open_pairs, all_pairs))
                       for (sid, sweep), (open_pairs, all_pairs) in pairs.items() if all_pairs])
        c.executemany("INSERT OR IGNORE INTO search_sweeps(sweep_no, ord, gid) VALUES (?,?,0)",
                      [(self._sweep_no(c, sweep), subjects[sid].ord) for sid, sweep in markers - pairs.keys()])

    def _joined_quietly(self, c: sqlite3.Connection, subjects: dict[str, _Subject],
                        rest: dict[str, set[tuple[str, int | None]]]) -> dict[str, set[str]]:
        """Per subject, the sweeps it was newly fetched in that have no row yet: none of its findings was
        seen there before (that would have left a row or a marker), so the queue holds all there is."""
        new = {(sid, sw) for sid, got in rest.items() for sw, f in got if f is None}
        by_sweep: dict[int, list[int]] = {}
        for sid, sw in new:
            by_sweep.setdefault(self._sweep_no(c, sw), []).append(subjects[sid].ord)
        rows: set[tuple[int, int]] = set()
        for no, ords in by_sweep.items():
            for part in chunks(ords):
                rows.update((r[0], r[1]) for r in c.execute(f"SELECT sweep_no, ord FROM search_sweeps WHERE "
                                                            f"sweep_no = ? AND ord IN ({placeholders(len(part))})",
                                                            (no, *part)))
        out: dict[str, set[str]] = {}
        for sid, sw in new:
            if (self._sweep_no(c, sw), subjects[sid].ord) not in rows:
                out.setdefault(sid, set()).add(sw)
        return out

    def _sweep_no(self, c: sqlite3.Connection, sweep_id: str) -> int:
        no = self._sweep_nos.get(sweep_id)
        if no is None:
            c.execute("INSERT INTO search_sweep_ids(sweep_id) VALUES (?) ON CONFLICT DO NOTHING", (sweep_id,))
            no = self._sweep_nos[sweep_id] = c.execute("SELECT sweep_no FROM search_sweep_ids WHERE sweep_id = ?",
                                                       (sweep_id,)).fetchone()[0]
        return no

    def _compact_fts(self) -> None:
        """Merge the full-text index into one segment if much was written since it last was (the writer
        holds no transaction: called by ``flush()`` and ``close()``)."""
        if self._docs_written < COMPACT_MIN or self._w.in_transaction:
            return
        stored = self._w.execute("SELECT coalesce(sum(n), 0) FROM search_groups").fetchone()[0]
        if self._docs_written >= COMPACT_SHARE * stored:
            try:
                self._w.execute("INSERT INTO fts(fts) VALUES ('optimize')")  # its own transaction
            except sqlite3.OperationalError as e:  # another process holds the write lock: next time
                log.warning("full-text index not compacted: %s", e)
                return
            self._docs_written = 0

    # ----------------------------------------------------------------- migration

    def _rebuild_summary(self) -> None:
        """Fill the summary and the documents of every stored subject (schema upgrade to v5)."""
        c = self._w
        n = 0
        for kind, table in TABLE.items():
            sids = [r[0] for r in c.execute(f"SELECT subject_id FROM {table} ORDER BY rowid")]
            for part in chunks(sids, 2000):
                self._dirty.update(((kind, sid), True) for sid in part)
                self._flush_summary()
                n += len(part)
        c.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        self._docs_written = 0
        log.info("search summary rebuilt for %d subjects", n)


def _queued_pairs(s: _Subject, sid: str, queued: set[tuple[str, int | None]],
                  pairs: dict[tuple[str, str], list[int]], markers: set[tuple[str, str]]) -> None:
    """The sweep pairs of a subject from its queued memberships (all it has in those sweeps)."""
    bits = {rowid: (bit, unresolved) for rowid, bit, unresolved in s.findings}
    for sweep, finding in queued:
        if finding is None:
            pairs.setdefault((sid, sweep), [0, 0])
    for sweep, finding in queued:
        if finding is None or finding not in bits:
            continue
        got = pairs.get((sid, sweep))
        if got is None:
            markers.add((sid, sweep))
            continue
        bit, unresolved = bits[finding]
        got[1] |= bit
        if unresolved:
            got[0] |= bit


def _table_pairs(c: sqlite3.Connection, kind: str, sids: Sequence[str], sweeps: Sequence[str] | None,
                 only: dict[str, set[str]], pairs: dict[tuple[str, str], list[int]],
                 markers: set[tuple[str, str]]) -> None:
    """Pairs of ``sids`` in their sweeps (all of them, or ``sweeps`` narrowed per subject by ``only``)."""
    for sid, sweep in c.execute(*_in_sweeps("SELECT subject_id, sweep_id FROM subject_sweeps "
                                            "WHERE kind = ? AND subject_id", kind, sids, "sweep_id", sweeps)):
        if sweeps is None or sweep in only[sid]:
            pairs[(sid, sweep)] = [0, 0]
    for sid, sweep, category, rank, status in c.execute(*_in_sweeps(
            "SELECT f.subject_id, fs.sweep_id, f.category, f.severity_rank, f.status FROM findings f "
            "JOIN finding_sweeps fs ON fs.finding_id = f.finding_id WHERE f.subject_kind = ? "
            "AND f.subject_id", kind, sids, "fs.sweep_id", sweeps)):
        if sweeps is not None and sweep not in only[sid]:
            continue
        got = pairs.get((sid, sweep))
        if got is None:
            markers.add((sid, sweep))
            continue
        bit = pair_bit(category, rank)
        got[1] |= bit
        if status != RESOLVED:
            got[0] |= bit


def _in_sweeps(sql: str, kind: str, sids: Sequence[str], col: str,
               sweeps: Sequence[str] | None) -> tuple[str, list[str]]:
    """``sql`` (ending with the subject id column) restricted to ``sids`` and, unless None, to ``sweeps``."""
    sql += f" IN ({placeholders(len(sids))})"
    if sweeps is not None:
        sql += f" AND {col} IN ({placeholders(len(sweeps))})"
    return sql, [kind, *sids, *(sweeps or ())]


def group_rows(c: sqlite3.Connection, every: bool = False) -> Iterable[tuple[int, str, int, int, int, int]]:
    """(gid, site, tag, open_pairs, all_pairs, n) of every group with subjects (``every``: of all groups)."""
    return c.execute("SELECT gid, site, tag, open_pairs, all_pairs, n FROM search_groups"
                     + ("" if every else " WHERE n > 0")).fetchall()
