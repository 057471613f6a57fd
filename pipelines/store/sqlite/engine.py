"""The embedded engine: one SQLite file (WAL), full-text search that works for Chinese.

Writes
    Writes are batched into one transaction on a single writer connection, committed after
    ``batch_size`` writes, on ``flush()``, before a read, on ``close()``, and by a commit
    timer (a thread that lives while a batch is open): ``max_delay`` seconds after the
    batch began, ``max_idle`` seconds after its last write (a sweep waiting on the network
    holds no lock), or at once when an interactive writer waits (``turnstile.py``). So a
    batch holds SQLite's write lock for at most about ``max_delay`` seconds, whatever the
    next write does. A call that writes several rows is a savepoint, so a failing call
    leaves no half-written item (``save()`` stores a whole page in one). The search
    summary and full-text documents of the subjects a batch touched are recomputed just
    before the commit (``summary.py``; FTS5 would otherwise flush its index at every
    savepoint). ``with store.transaction():`` groups calls explicitly (all or nothing; the
    timer leaves it alone). A crash loses at most the uncommitted batch: call ``close()``.

Interactive writers
    ``make_interactive()`` (the console) commits every write at once and goes first: it
    holds the turnstile while it waits for the lock, batch writers give way, and it waits
    at most ``INTERACTIVE_TIMEOUT`` seconds; a write that still cannot start raises
    ``StoreBusy`` (nothing written), never a silent loss.

Reads
    A read first commits pending writes (read-your-writes: waited for when the reading
    thread's own writes are pending, else skipped when another thread is in the middle of a
    write), then runs on a per-thread reader
    connection that sees committed data (WAL: readers and the writer never block each
    other). Inside ``transaction()`` the owning thread reads through the writer.

Threads
    One Store object may be shared by threads: writes are serialised by a lock, readers
    get one connection per thread. Several processes may open the same file; SQLite
    serialises their write transactions (``timeout`` seconds of waiting).

Full text
    FTS5 with the unicode61 tokenizer over pre-tokenised text: CJK runs become
    overlapping character bigrams plus the run's last character, latin words and numbers
    stay whole, everything NFKC + case folded. A query term becomes a phrase of the same
    bigrams, so 高仿 finds 耐克高仿运动鞋 but not 仿真花 or 高端仿古; a one-character term
    looks the character up among the document's CJK characters. One document per
    subject: listing title, description, promo, service, shop name (and their normalised
    variants) or the shop texts, and the snippets and matched terms of its findings.

Search
    Answered from the search summary (``plan.py``): totals, facets and the page
    from per-group counts, covering indexes and full-text rowid ranges; the few queries
    it cannot answer exactly take the general path (``search.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import fields
from pathlib import Path
from typing import Any

from crawler.items import Finding, ListingItem, ShopItem
from netsword.clock import utc_now

from ..base import OPEN, RESOLVED, SEVERITY_RANK, ListingVersion, Store, StoreBusy, StoredFinding, Sweep
from .leads import LEADS_SCHEMA, SQLiteLeads, migrate_users
from .pages import SQLitePages
from .parts import SQLiteParts
from .runs import RUNS_SCHEMA, SQLiteRuns
from .search import SQLiteQueries, row_finding
from .summary import (
    LISTING_TEXT,
    SHOP_TEXT,
    SUMMARY_SCHEMA,
    SWEEP_QUEUE,
    SWEEP_TRIGGERS,
    TAG,
    SQLiteSummary,
    evidence_text,
    placeholders,
)
from .transfer import SQLiteTransfer
from .turnstile import Turnstile

log = logging.getLogger(__name__)

#: how often the commit timer looks at an open batch (is it due, does a person wait to write?)
TIMER_STEP = 0.05
#: seconds an interactive writer (the console) waits for the write lock before ``StoreBusy``
INTERACTIVE_TIMEOUT = 10.0

#: v2: triage_events, users (leads.py); v3: page_states (crawler); v4: sweep_runs;
#: v5: the search summary and one full-text document per subject (summary.py); v6: users.session_epoch (leads.py)
SCHEMA_VERSION = 6

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
  sweep_id TEXT PRIMARY KEY, site TEXT NOT NULL DEFAULT '', started_at TEXT NOT NULL DEFAULT '',
  finished_at TEXT, settings TEXT NOT NULL DEFAULT '{}', stats TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS listings (
  subject_id TEXT PRIMARY KEY, site TEXT NOT NULL, listing_id TEXT NOT NULL, shop_id TEXT NOT NULL,
  shop_name TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL, price REAL, original_price REAL,
  currency TEXT, category TEXT NOT NULL, status INTEGER, fetched_at TEXT NOT NULL, sweep_id TEXT NOT NULL,
  html_sha256 TEXT NOT NULL, first_seen TEXT NOT NULL, first_sweep_id TEXT NOT NULL,
  fts_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS listings_site ON listings(site, shop_id);
CREATE TABLE IF NOT EXISTS shops (
  subject_id TEXT PRIMARY KEY, site TEXT NOT NULL, shop_id TEXT NOT NULL, name TEXT NOT NULL,
  operator TEXT NOT NULL, license_number TEXT NOT NULL, url TEXT NOT NULL, status INTEGER,
  fetched_at TEXT NOT NULL, sweep_id TEXT NOT NULL, html_sha256 TEXT NOT NULL, first_seen TEXT NOT NULL,
  first_sweep_id TEXT NOT NULL, fts_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS shops_site ON shops(site, shop_id);
CREATE TABLE IF NOT EXISTS listing_versions (
  id INTEGER PRIMARY KEY, subject_id TEXT NOT NULL REFERENCES listings(subject_id) ON DELETE CASCADE,
  version_key TEXT NOT NULL, html_sha256 TEXT NOT NULL, price REAL, original_price REAL, title TEXT NOT NULL,
  sweep_id TEXT NOT NULL, fetched_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, last_sweep_id TEXT NOT NULL,
  UNIQUE (subject_id, fetched_at, version_key));
CREATE TABLE IF NOT EXISTS subject_sweeps (
  kind TEXT NOT NULL, subject_id TEXT NOT NULL, sweep_id TEXT NOT NULL,
  PRIMARY KEY (kind, subject_id, sweep_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subject_sweeps_sweep ON subject_sweeps(sweep_id);
CREATE TABLE IF NOT EXISTS findings (
  finding_id TEXT PRIMARY KEY, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, rule_id TEXT NOT NULL,
  rule_version TEXT NOT NULL, pack TEXT NOT NULL, title TEXT NOT NULL, category TEXT NOT NULL,
  severity TEXT NOT NULL, severity_rank INTEGER NOT NULL, basis TEXT NOT NULL, site TEXT NOT NULL,
  shop_id TEXT NOT NULL, url TEXT NOT NULL, field TEXT NOT NULL, matched TEXT NOT NULL, snippet TEXT NOT NULL,
  start_pos INTEGER NOT NULL, end_pos INTEGER NOT NULL, deobfuscated TEXT NOT NULL,
  snapshot_sha256 TEXT NOT NULL, sweep_id TEXT NOT NULL, found_at TEXT NOT NULL, fts_hash TEXT NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, first_sweep_id TEXT NOT NULL, last_sweep_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open', resolved_at TEXT, resolved_sweep_id TEXT);
-- covering: search aggregates findings per subject from the index alone
CREATE INDEX IF NOT EXISTS findings_subject ON findings(subject_id, subject_kind, status, severity_rank, category,
  severity);
CREATE INDEX IF NOT EXISTS findings_category ON findings(category, severity_rank);
CREATE INDEX IF NOT EXISTS findings_shop ON findings(site, shop_id);
CREATE TABLE IF NOT EXISTS finding_sweeps (
  finding_id TEXT NOT NULL REFERENCES findings(finding_id) ON DELETE CASCADE, sweep_id TEXT NOT NULL,
  PRIMARY KEY (finding_id, sweep_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS finding_sweeps_sweep ON finding_sweeps(sweep_id);
CREATE TABLE IF NOT EXISTS snapshots (
  id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, url TEXT NOT NULL, path TEXT NOT NULL, fetched_at TEXT NOT NULL,
  status INTEGER NOT NULL, sweep_id TEXT NOT NULL, rendered INTEGER NOT NULL, UNIQUE (sha256, url, sweep_id));
-- the whole item as JSON, id = subject rowid * 4 + tag (kept out of the hot tables)
CREATE TABLE IF NOT EXISTS subject_data (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
"""

#: v3 (crawler): the last stored fetch of every URL, for conditional requests and unchanged pages.
CRAWL_SCHEMA = """
CREATE TABLE IF NOT EXISTS page_states (
  url TEXT PRIMARY KEY, sha256 TEXT NOT NULL, path TEXT NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,
  fetched_at TEXT NOT NULL, sweep_id TEXT NOT NULL, page_type TEXT NOT NULL, subject_kind TEXT NOT NULL,
  subject_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS page_states_sweep ON page_states(sweep_id);
"""

_FINDING_COLS = ("subject_kind", "subject_id", "rule_id", "rule_version", "pack", "title", "category",
                 "severity", "severity_rank", "basis", "site", "shop_id", "url", "field", "matched", "snippet",
                 "start_pos", "end_pos", "deobfuscated", "snapshot_sha256", "sweep_id", "found_at", "fts_hash")


def _subject_text(item: Any, names: Sequence[str]) -> str:
    parts = [str(getattr(item, n, "") or "") for n in names]
    originals = set(parts)
    parts += [v for v in (item.norm or {}).values() if v and v not in originals]
    return "\n".join(p for p in parts if p)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


_NOT_KEPT = frozenset({"findings", "html"})  # findings have their table; the page body is evidence's job
_KEPT: dict[type, tuple[str, ...]] = {}  # per item class: the fields kept in subject_data


def _item_data(item: Any) -> str:
    names = _KEPT.get(type(item))
    if names is None:
        names = _KEPT[type(item)] = tuple(f.name for f in fields(item) if f.name not in _NOT_KEPT)
    return json.dumps({n: getattr(item, n) for n in names}, ensure_ascii=False, default=str)


def _from_data(cls: type, data: str) -> Any:
    names = {f.name for f in fields(cls) if f.init}
    return cls(**{k: v for k, v in json.loads(data).items() if k in names})


# --------------------------------------------------------------------------- the engine


class SQLiteStore(SQLiteQueries, SQLiteSummary, SQLitePages, SQLiteParts, SQLiteLeads, SQLiteRuns, SQLiteTransfer,
                  Store):
    def __init__(self, path: str | Path, *, batch_size: int = 500, max_delay: float = 1.0, max_idle: float = 0.1,
                 timeout: float = 30.0, interactive: bool = False) -> None:
        self.path = str(path)
        self.batch_size, self.max_delay, self.max_idle, self.timeout = batch_size, max_delay, max_idle, timeout
        self._memory = self.path in ("", ":memory:")
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._pending = 0
        self._batch_started = self._last_write = 0.0
        self._batch_no = self._committed_no = 0  # batches begun / begun and then committed or rolled back
        self._depth = 0
        self._tx_owner: int | None = None
        self._timer: threading.Thread | None = None
        self._closing = threading.Event()  # wakes the commit timer up for close()
        self._interactive = False
        self._turnstile = None if self._memory else Turnstile.open(self.path)
        # summary rows and full-text documents are written at commit time: FTS5 flushes its
        # in-memory index at every savepoint, which would make each call cost a new index segment
        self._init_summary_state()
        self._w = self._connect()
        self._open_schema()
        if interactive:
            self.make_interactive()

    def _connect(self) -> sqlite3.Connection:
        c = sqlite3.connect(self.path or ":memory:", timeout=self.timeout, isolation_level=None,
                            check_same_thread=False)
        c.row_factory = sqlite3.Row
        # mmap: search probes the summary and full-text pages at random; no read() call per page.
        # wal_autocheckpoint: a page rewritten by several batches reaches the database file once per
        # checkpoint, so checkpointing every ~40 MB of WAL instead of 4 MB writes a quarter less
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "temp_store=MEMORY", "cache_size=-32000",
                       f"mmap_size={1 << 40}", "wal_autocheckpoint=10000"):
            c.execute(f"PRAGMA {pragma}")
        return c

    def _open_schema(self) -> None:
        """WAL mode and the schema. Processes opening a new file at once (workers) can find it locked without
        their busy timeout applying (the switch to WAL, the first read of the schema): tried again until it runs
        out."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self._w.execute("PRAGMA journal_mode=WAL")
                self._w.executescript(SWEEP_QUEUE)
                self._init_schema()
                self._w.executescript(SWEEP_TRIGGERS)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                if self._w.in_transaction:
                    self._w.execute("ROLLBACK")
                time.sleep(0.05)

    def _init_schema(self) -> None:
        with self._lock:
            row = self._w.execute("SELECT name FROM sqlite_master WHERE name='schema_version'").fetchone()
            version = self._w.execute("SELECT max(version) FROM schema_version").fetchone()[0] if row else None
            if version is not None and version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path}: store schema v{version} is newer than this netsword "
                                   f"(v{SCHEMA_VERSION}); upgrade netsword")
            if version is None or version < SCHEMA_VERSION:  # every change is additive: IF NOT EXISTS
                # v5 replaces the full-text table (one document per subject, new ids) and fills the summary
                drop = "DROP TABLE IF EXISTS fts;" if version is not None and version < 5 else ""
                self._w.executescript(f"BEGIN IMMEDIATE; {drop} {SCHEMA} {SUMMARY_SCHEMA} {LEADS_SCHEMA} "
                                      f"{CRAWL_SCHEMA} {RUNS_SCHEMA}")
                try:
                    migrate_users(self._w)
                    if drop:
                        self._rebuild_summary()
                    self._w.execute(f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION})")
                    self._w.execute("COMMIT")
                except BaseException:
                    self._w.execute("ROLLBACK")
                    self._drop_summary_state()
                    raise

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # ----------------------------------------------------------------- transactions

    def make_interactive(self) -> SQLiteStore:
        """People wait on these writes (the console): each write is committed at once, goes before batch
        writers (the turnstile) and waits at most ``INTERACTIVE_TIMEOUT`` seconds for the lock."""
        with self._lock:
            self._interactive = True
            self.batch_size = 1
            self.timeout = min(self.timeout, INTERACTIVE_TIMEOUT)
            self._w.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        return self

    @contextmanager
    def _write(self, n: int = 1, atomic: bool = True) -> Iterator[sqlite3.Connection]:
        """The writer inside the open batch; ``atomic``: the call's statements succeed or fail together
        (a savepoint; calls running a single statement need none)."""
        with self._lock:
            c = self._w
            if not c.in_transaction:
                self._begin(c)
            if not atomic:
                try:
                    yield c
                except BaseException:
                    self._end_call(ok=False)
                    raise
                self._wrote(n)
                return
            c.execute("SAVEPOINT w")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK TO w")
                c.execute("RELEASE w")
                self._end_call(ok=False)
                raise
            c.execute("RELEASE w")
            self._wrote(n)

    def _begin(self, c: sqlite3.Connection) -> None:
        """Open a batch (under the lock): batch writers first give way to waiting interactive writers,
        interactive writers hold the turnstile until their commit; the commit timer starts."""
        if self._turnstile is not None:
            if self._interactive:
                self._turnstile.hold()
            else:
                self._turnstile.give_way(self.timeout)
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._release_turnstile()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreBusy(f"数据库正忙，{self.timeout:g} 秒内未能开始写入，本次修改未保存 / the store "
                                f"{self.path} stayed busy for {self.timeout:g} s: nothing was written") from exc
            raise
        self._batch_started = self._last_write = time.monotonic()
        self._batch_no += 1
        self._start_timer()
        self._mark_findings_floor(c)

    @property
    def unsaved(self) -> int:
        """Writes in the open batch (not committed yet)."""
        return self._pending

    def _wrote(self, n: int) -> None:
        """A write call succeeded (under the lock)."""
        self._end_call(ok=True)
        self._pending += n
        self._last_write = time.monotonic()
        self._local.batch = self._batch_no  # this thread's writes are in this batch (read-your-writes)
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        if self._depth == 0 and (self._pending >= self.batch_size
                                 or time.monotonic() - self._batch_started >= self.max_delay):
            self._commit()

    def _commit(self) -> None:
        if self._w.in_transaction:
            try:
                self._flush_summary()
                self._w.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        self._ended()

    def _rollback(self) -> None:
        if self._w.in_transaction:
            self._w.execute("ROLLBACK")
        self._drop_summary_state()
        self._ended()

    def _ended(self) -> None:
        """No batch is open any more (committed or rolled back)."""
        self._pending = 0
        self._committed_no = self._batch_no
        self._release_turnstile()

    def _release_turnstile(self) -> None:
        if self._interactive and self._turnstile is not None:
            self._turnstile.release()

    # ----------------------------------------------------------------- the commit timer

    def _start_timer(self) -> None:
        """(Under the lock, at BEGIN.) One thread per open batch commits it when it is due."""
        if self._timer is None:
            self._timer = threading.Thread(target=self._commit_timer, daemon=True,
                                           name=f"netsword-commit-timer {Path(self.path).name}")
            self._timer.start()

    def _commit_timer(self) -> None:
        """Commit the open batch when it is due, however long until the next write; end with the batch."""
        while True:
            with self._lock:
                if self._w is None or not self._w.in_transaction:
                    self._timer = None
                    return
                wait = self._until_due()
                if wait <= 0:
                    self._timed_commit()
                    continue
            self._closing.wait(min(wait, TIMER_STEP))

    def _until_due(self) -> float:
        """Seconds until the open batch is committed (0: now). Inside ``transaction()`` its owner decides."""
        if self._depth:
            return TIMER_STEP
        if not self._interactive and self._turnstile is not None and self._turnstile.someone_waiting():
            return 0.0
        due = min(self._batch_started + self.max_delay, self._last_write + self.max_idle)
        return max(0.0, due - time.monotonic())

    def _timed_commit(self) -> None:
        pending = self._pending
        try:
            self._commit()
        except Exception:  # no caller to raise to: say it loudly (the batch was rolled back)
            log.exception("%s: a batch of %d writes could not be committed and was rolled back / "
                          "一批 %d 条写入提交失败，已回滚", self.path, pending, pending)

    # ----------------------------------------------------------------- explicit transactions, reads, close

    @contextmanager
    def transaction(self) -> Iterator[SQLiteStore]:
        """Group writes: committed together at the end, rolled back on an exception."""
        with self._lock:
            if self._depth == 0:
                self._commit()
                self._tx_owner = threading.get_ident()
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._tx_owner = None
                    self._rollback()
                raise
            self._depth -= 1
            if self._depth == 0:
                self._tx_owner = None
                self._commit()

    def flush(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._commit()
                self._compact_fts()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection for one consistent read (a savepoint around the block)."""
        if getattr(self._local, "batch", 0) > self._committed_no:
            with self._lock:  # this thread's writes are pending: wait for the lock (its holder is brief)
                if self._depth == 0:
                    self._commit()
        elif self._lock.acquire(blocking=False):
            try:
                if self._depth == 0:
                    self._commit()
            finally:
                self._lock.release()
        if self._memory or self._tx_owner == threading.get_ident():
            with self._lock:
                self._flush_summary()
                yield self._w
            return
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = self._connect()
            with self._lock:
                self._readers.append(c)
        c.execute("SAVEPOINT r")
        try:
            yield c
        finally:
            c.execute("RELEASE r")

    def close(self) -> None:
        with self._lock:
            if self._w is None:
                return
            self._depth = 0
            self._commit()
            self._compact_fts()
            for c in self._readers:
                c.close()
            self._readers.clear()
            # advice for the query planner, nothing more: with other writers busy its ANALYZE can meet a
            # newer snapshot and give up at once (no busy handler); the next close will do it
            with suppress(sqlite3.OperationalError):
                self._w.execute("PRAGMA optimize")
            self._w.close()
            self._w = None  # type: ignore[assignment]
            if self._turnstile is not None:
                self._turnstile.close()
            timer = self._timer
        self._closing.set()
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5)

    # ----------------------------------------------------------------- sweeps

    def start_sweep(self, sweep_id: str, site: str, started_at: str, settings: dict[str, Any]) -> None:
        with self._write(atomic=False) as c:
            c.execute("INSERT INTO sweeps(sweep_id, site, started_at, settings) VALUES (?,?,?,?) "
                      "ON CONFLICT(sweep_id) DO UPDATE SET site=excluded.site, started_at=excluded.started_at, "
                      "settings=excluded.settings, finished_at=NULL",
                      (sweep_id, site, started_at, json.dumps(settings, ensure_ascii=False, default=str)))
        self.flush()

    def finish_sweep(self, sweep_id: str, finished_at: str, stats: dict[str, Any]) -> None:
        with self._write(atomic=False) as c:
            c.execute("INSERT INTO sweeps(sweep_id, finished_at, stats) VALUES (?,?,?) ON CONFLICT(sweep_id) "
                      "DO UPDATE SET finished_at=excluded.finished_at, stats=excluded.stats",
                      (sweep_id, finished_at, json.dumps(stats, ensure_ascii=False, default=str)))
        self.flush()

    def sweeps(self) -> list[Sweep]:
        with self._read() as c:
            rows = c.execute("SELECT * FROM sweeps ORDER BY started_at DESC, sweep_id DESC").fetchall()
        return [Sweep(r["sweep_id"], r["site"], r["started_at"], r["finished_at"], json.loads(r["settings"]),
                      json.loads(r["stats"])) for r in rows]

    # ----------------------------------------------------------------- subjects

    def _upsert_subject(self, c: sqlite3.Connection, table: str, kind: str, item: Any,
                        values: dict[str, Any], text: str) -> bool:
        """Insert or update the subject row; True if it is new."""
        sid, fetched, sweep = item.subject_id, values["fetched_at"], values["sweep_id"]
        row = c.execute(f"SELECT rowid, fetched_at, fts_hash FROM {table} WHERE subject_id=?", (sid,)).fetchone()
        if row is None:
            cols = ("subject_id", "first_seen", "first_sweep_id", *values)
            rowid = c.execute(f"INSERT INTO {table}({','.join(cols)}) VALUES ({placeholders(len(cols))})",
                              (sid, fetched, sweep, *values.values())).lastrowid
        elif fetched >= row["fetched_at"]:
            rowid = row["rowid"]
            c.execute(f"UPDATE {table} SET {','.join(f'{k}=?' for k in values)}, "
                      "first_seen=min(first_seen, ?) WHERE rowid=?", (*values.values(), fetched, rowid))
        else:  # an older observation (a re-import): only widen first_seen
            c.execute(f"UPDATE {table} SET first_seen=min(first_seen, ?) WHERE rowid=?", (fetched, row["rowid"]))
            rowid = None
        if rowid is not None:
            c.execute("INSERT OR REPLACE INTO subject_data(id, data) VALUES (?,?)",
                      (rowid * 4 + TAG[kind], _item_data(item)))
            self._touch(kind, sid, row is None or row["fts_hash"] != values["fts_hash"], text)
        if sweep:
            c.execute("INSERT OR IGNORE INTO subject_sweeps VALUES (?,?,?)", (kind, sid, sweep))
        return row is None

    def upsert_listing(self, item: ListingItem) -> None:
        with self._write() as c:
            self._upsert_listing(c, item)

    def _upsert_listing(self, c: sqlite3.Connection, item: ListingItem) -> None:
        fetched = item.fetched_at or utc_now()
        text = _subject_text(item, LISTING_TEXT)
        values = {"site": item.site, "listing_id": item.listing_id, "shop_id": item.shop_id,
                  "shop_name": item.shop_name, "url": item.url, "title": item.title, "price": item.price,
                  "original_price": item.original_price, "currency": item.currency, "category": item.category,
                  "status": item.status, "fetched_at": fetched, "sweep_id": item.sweep_id,
                  "html_sha256": item.html_sha256, "fts_hash": _digest(text)}
        key = item.html_sha256 or "c:" + _digest(f"{item.title}|{item.price}|{item.original_price}")
        new = self._upsert_subject(c, "listings", "listing", item, values, text)
        prev = None if new else c.execute(  # a new listing has no versions yet
            "SELECT id, version_key, last_seen_at FROM listing_versions WHERE subject_id=? AND fetched_at<=? "
            "ORDER BY fetched_at DESC, id DESC LIMIT 1", (item.subject_id, fetched)).fetchone()
        if prev is not None and prev["version_key"] == key:  # unchanged page: extend the version
            if fetched > prev["last_seen_at"]:
                c.execute("UPDATE listing_versions SET last_seen_at=?, last_sweep_id=? WHERE id=?",
                          (fetched, item.sweep_id, prev["id"]))
        else:
            c.execute("INSERT OR IGNORE INTO listing_versions(subject_id, version_key, html_sha256, price, "
                      "original_price, title, sweep_id, fetched_at, last_seen_at, last_sweep_id) "
                      "VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (item.subject_id, key, item.html_sha256, item.price, item.original_price, item.title,
                       item.sweep_id, fetched, fetched, item.sweep_id))

    def upsert_shop(self, item: ShopItem) -> None:
        with self._write() as c:
            self._upsert_shop(c, item)

    def _upsert_shop(self, c: sqlite3.Connection, item: ShopItem) -> None:
        text = _subject_text(item, SHOP_TEXT)
        values = {"site": item.site, "shop_id": item.shop_id, "name": item.name, "operator": item.operator,
                  "license_number": item.license_number, "url": item.url, "status": item.status,
                  "fetched_at": item.fetched_at or utc_now(), "sweep_id": item.sweep_id,
                  "html_sha256": item.html_sha256, "fts_hash": _digest(text)}
        self._upsert_subject(c, "shops", "shop", item, values, text)

    def save(self, item: ListingItem | ShopItem, *, resolve: bool = True) -> None:
        """``Store.save`` in one savepoint: the page's snapshot record, subject, findings and resolution
        are stored together or not at all."""
        findings = item.findings if item.status < 400 else []
        with self._write(1 + (item.status < 400) * (1 + len(findings) + resolve)) as c:
            if item.html_sha256:
                self._record_snapshot(c, item.html_sha256, item.url, item.html_path, item.fetched_at,
                                      item.status, item.sweep_id, item.rendered)
            if item.status >= 400:
                return
            (self._upsert_listing if isinstance(item, ListingItem) else self._upsert_shop)(c, item)
            now = utc_now()
            for f in findings:
                self._upsert_finding(c, f, f.found_at or now)
            if resolve:
                self._resolve(c, item.subject_id, [f.finding_id for f in findings], kind=item.kind,
                              at=item.fetched_at, sweep_id=item.sweep_id)

    def get_listing(self, subject_id: str) -> ListingItem | None:
        return self._get(ListingItem, "listings", "listing", subject_id)

    def get_shop(self, subject_id: str) -> ShopItem | None:
        return self._get(ShopItem, "shops", "shop", subject_id)

    def _get(self, cls: type, table: str, kind: str, subject_id: str) -> Any:
        with self._read() as c:
            row = c.execute(f"SELECT d.data FROM {table} t JOIN subject_data d ON d.id = t.rowid * 4 + ? "
                            "WHERE t.subject_id=?", (TAG[kind], subject_id)).fetchone()
        if row is None:
            return None
        item = _from_data(cls, row["data"])
        item.findings = [sf.finding for sf in self.findings_for(subject_id, kind=kind, include_resolved=False)]
        return item

    def listing_history(self, subject_id: str) -> list[ListingVersion]:
        with self._read() as c:
            rows = c.execute("SELECT * FROM listing_versions WHERE subject_id=? ORDER BY fetched_at, id",
                             (subject_id,)).fetchall()
        return [ListingVersion(r["subject_id"], r["html_sha256"], r["price"], r["original_price"], r["title"],
                               r["sweep_id"], r["fetched_at"], r["last_seen_at"], r["last_sweep_id"]) for r in rows]

    # ----------------------------------------------------------------- findings

    def upsert_findings(self, findings: Sequence[Finding]) -> None:
        if not findings:
            return
        now = utc_now()
        with self._write(len(findings)) as c:
            for f in findings:
                self._upsert_finding(c, f, f.found_at or now)

    def _upsert_finding(self, c: sqlite3.Connection, f: Finding, found: str) -> None:
        fid = f.finding_id
        values = (f.subject_kind, f.subject_id, f.rule_id, f.rule_version, f.pack, f.title, f.category,
                  f.severity, SEVERITY_RANK.get(f.severity, 0), f.basis, f.site, f.shop_id, f.url, f.field,
                  json.dumps(f.matched, ensure_ascii=False), f.snippet, f.start, f.end,
                  json.dumps(f.deobfuscated, ensure_ascii=False), f.snapshot_sha256, f.sweep_id, found,
                  _digest(evidence_text(f.snippet, f.matched)))
        row = c.execute("SELECT rowid, last_seen, fts_hash FROM findings WHERE finding_id=?", (fid,)).fetchone()
        if row is None:
            rowid = c.execute(f"INSERT INTO findings(finding_id, first_seen, last_seen, first_sweep_id, "
                              f"last_sweep_id, {','.join(_FINDING_COLS)}) VALUES "
                              f"({placeholders(5 + len(_FINDING_COLS))})",
                              (fid, found, found, f.sweep_id, f.sweep_id, *values)).lastrowid
        elif found >= row["last_seen"]:
            rowid = row["rowid"]
            c.execute(f"UPDATE findings SET {','.join(f'{k}=?' for k in _FINDING_COLS)}, last_seen=?, "
                      "last_sweep_id=?, status=CASE WHEN status=? AND resolved_at<=? THEN ? ELSE status END, "
                      "resolved_sweep_id=CASE WHEN resolved_at<=? THEN NULL ELSE resolved_sweep_id END, "
                      "resolved_at=CASE WHEN resolved_at<=? THEN NULL ELSE resolved_at END WHERE rowid=?",
                      (*values, found, f.sweep_id, RESOLVED, found, OPEN, found, found, rowid))
        else:  # an older observation: it only widens first_seen
            rowid = None
            c.execute("UPDATE findings SET first_sweep_id=CASE WHEN ?<first_seen THEN ? ELSE first_sweep_id END, "
                      "first_seen=min(first_seen, ?) WHERE rowid=?", (found, f.sweep_id, found, row["rowid"]))
        if rowid is not None:  # its category, severity, status or evidence may have changed
            self._touch(f.subject_kind, f.subject_id, row is None or row["fts_hash"] != values[-1])
        if f.sweep_id:
            c.execute("INSERT OR IGNORE INTO finding_sweeps VALUES (?,?)", (fid, f.sweep_id))

    def resolve_findings(self, subject_id: str, keep_ids: Sequence[str], *, kind: str | None = None,
                         at: str = "", sweep_id: str = "") -> int:
        with self._write(atomic=False) as c:
            return self._resolve(c, subject_id, keep_ids, kind=kind, at=at, sweep_id=sweep_id)

    def _resolve(self, c: sqlite3.Connection, subject_id: str, keep_ids: Sequence[str], *, kind: str | None,
                 at: str, sweep_id: str) -> int:
        at = at or utc_now()
        sql = ("UPDATE findings SET status=CASE WHEN status=? THEN ? ELSE status END, resolved_at=?, "
               "resolved_sweep_id=? WHERE subject_id=? AND resolved_at IS NULL AND last_seen<=?")
        params: list[Any] = [OPEN, RESOLVED, at, sweep_id, subject_id, at]
        if kind:
            sql += " AND subject_kind=?"
            params.append(kind)
        keep = tuple(keep_ids)
        if keep:
            sql += f" AND finding_id NOT IN ({placeholders(len(keep))})"
            params.extend(keep)
        n = c.execute(sql, params).rowcount
        if n:
            for k in (kind,) if kind else tuple(TAG):
                self._touch(k, subject_id)
        return n

    def findings_for(self, subject_id: str, *, kind: str | None = None,
                     include_resolved: bool = True) -> list[StoredFinding]:
        sql, params = "SELECT * FROM findings WHERE subject_id=?", [subject_id]
        if kind:
            sql += " AND subject_kind=?"
            params.append(kind)
        if not include_resolved:
            sql += " AND status!=?"
            params.append(RESOLVED)
        with self._read() as c:
            rows = c.execute(sql + " ORDER BY severity_rank DESC, rule_id", params).fetchall()
            ids = [r["finding_id"] for r in rows]
            sweeps: dict[str, list[str]] = {}
            if ids:
                for fid, sw in c.execute("SELECT finding_id, sweep_id FROM finding_sweeps WHERE finding_id "
                                         f"IN ({placeholders(len(ids))}) ORDER BY sweep_id", ids):
                    sweeps.setdefault(fid, []).append(sw)
        return [StoredFinding(row_finding(r), r["status"], r["first_seen"], r["last_seen"], r["first_sweep_id"],
                              r["last_sweep_id"], r["resolved_at"], sweeps.get(r["finding_id"], []))
                for r in rows]

    # ----------------------------------------------------------------- questions
