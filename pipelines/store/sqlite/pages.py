"""Evidence records and incremental sweeps in the SQLite engine: snapshot records, page states,
unchanged pages (``mark_seen``) and what a resumed sweep may skip.

Kept apart from ``engine.py`` (connections, transactions, subject and finding writes);
``SQLiteStore`` mixes this in.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager

from ..base import PageState, Snapshot
from .summary import TABLE, TAG, placeholders


class SQLitePages:
    """Snapshots, page states and ``mark_seen`` of ``SQLiteStore`` (which provides ``_read()``, ``_write()``
    and ``_touch()``)."""

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _write(self, n: int = 1, atomic: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _touch(self, kind: str, subject_id: str, text_changed: bool = False, text: str | None = None) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------------- evidence

    def record_snapshot(self, sha256: str, url: str, path: str, fetched_at: str, status: int,
                        sweep_id: str, rendered: bool) -> None:
        with self._write(atomic=False) as c:
            self._record_snapshot(c, sha256, url, path, fetched_at, status, sweep_id, rendered)

    @staticmethod
    def _record_snapshot(c: sqlite3.Connection, sha256: str, url: str, path: str, fetched_at: str, status: int,
                         sweep_id: str, rendered: bool) -> None:
        c.execute("INSERT OR IGNORE INTO snapshots(sha256, url, path, fetched_at, status, sweep_id, rendered) "
                  "VALUES (?,?,?,?,?,?,?)", (sha256, url, path, fetched_at, status, sweep_id, int(rendered)))

    def snapshots(self, sha256: str) -> list[Snapshot]:
        with self._read() as c:
            rows = c.execute("SELECT * FROM snapshots WHERE sha256=? ORDER BY fetched_at", (sha256,)).fetchall()
        return [Snapshot(r["sha256"], r["url"], r["path"], r["fetched_at"], r["status"], r["sweep_id"],
                         bool(r["rendered"])) for r in rows]

    # ----------------------------------------------------------------- incremental sweeps and resume

    def page_state(self, url: str) -> PageState | None:
        with self._read() as c:
            row = c.execute("SELECT url, sha256, path, etag, last_modified, fetched_at, sweep_id, page_type, "
                            "subject_kind, subject_id FROM page_states WHERE url=?", (url,)).fetchone()
        return PageState(*row) if row is not None else None

    def put_page_state(self, state: PageState) -> None:
        values = (state.url, state.sha256, state.path, state.etag, state.last_modified, state.fetched_at,
                  state.sweep_id, state.page_type, state.subject_kind, state.subject_id)
        with self._write(atomic=False) as c:
            c.execute("INSERT OR REPLACE INTO page_states(url, sha256, path, etag, last_modified, fetched_at, "
                      "sweep_id, page_type, subject_kind, subject_id) VALUES (?,?,?,?,?,?,?,?,?,?)", values)

    def mark_seen(self, kind: str, subject_id: str, sweep_id: str, seen_at: str) -> bool:
        table = TABLE.get(kind)
        if table is None:
            raise ValueError(f"kind must be 'listing' or 'shop', not {kind!r}")
        with self._write() as c:
            row = c.execute(f"SELECT rowid, fetched_at FROM {table} WHERE subject_id=?", (subject_id,)).fetchone()
            if row is None:
                return False
            if seen_at > row["fetched_at"]:
                c.execute(f"UPDATE {table} SET fetched_at=?, sweep_id=? WHERE rowid=?", (seen_at, sweep_id, row[0]))
                c.execute("UPDATE subject_data SET data=json_set(data, '$.fetched_at', ?, '$.sweep_id', ?) "
                          "WHERE id=?", (seen_at, sweep_id, row[0] * 4 + TAG[kind]))
            c.execute("INSERT OR IGNORE INTO subject_sweeps VALUES (?,?,?)", (kind, subject_id, sweep_id))
            self._touch(kind, subject_id)
            if kind == "listing":
                c.execute("UPDATE listing_versions SET last_seen_at=?, last_sweep_id=? WHERE id=(SELECT id FROM "
                          "listing_versions WHERE subject_id=? ORDER BY fetched_at DESC, id DESC LIMIT 1) "
                          "AND last_seen_at<?", (seen_at, sweep_id, subject_id, seen_at))
            ids = [r[0] for r in c.execute("SELECT finding_id FROM findings WHERE subject_id=? AND subject_kind=? "
                                            "AND resolved_at IS NULL", (subject_id, kind))]
            if ids:
                c.execute(f"UPDATE findings SET last_seen=?, last_sweep_id=? WHERE finding_id IN "
                          f"({placeholders(len(ids))}) AND last_seen<?", (seen_at, sweep_id, *ids, seen_at))
                c.executemany("INSERT OR IGNORE INTO finding_sweeps VALUES (?,?)", [(i, sweep_id) for i in ids])
        return True

    def sweep_urls(self, sweep_id: str) -> set[str]:
        with self._read() as c:
            return {r[0] for r in c.execute("SELECT url FROM page_states WHERE sweep_id=?", (sweep_id,))}
