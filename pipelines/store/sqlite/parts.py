"""Parts of subjects in the SQLite engine: each page of a subject that has several (a shop home page and its
资质/亮照 page, ``crawler.subpages``), kept per (kind, subject id, page type) with the sweep that stored it.

Kept apart from ``engine.py``; ``SQLiteStore`` mixes this in.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import fields
from typing import Any

from crawler.items import ListingItem, ShopItem

#: one row per page of a subject with sub-pages; made by the first part written (stores of profiles without
#: sub-pages never get it, and the schema version stays)
PARTS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS subject_parts (kind TEXT NOT NULL, subject_id TEXT NOT NULL, part TEXT NOT NULL, "
    "url TEXT NOT NULL, sweep_id TEXT NOT NULL, fetched_at TEXT NOT NULL, data TEXT NOT NULL, "
    "PRIMARY KEY (kind, subject_id, part)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS subject_parts_sweep ON subject_parts(sweep_id)",
)

_CLASSES: dict[str, type[Any]] = {"listing": ListingItem, "shop": ShopItem}
_NOT_KEPT = frozenset({"findings", "html", "norm", "tokens"})


class SQLiteParts:
    """``put_part``, ``parts`` and ``part_subjects`` of ``SQLiteStore`` (which provides ``_read()`` and
    ``_write()``)."""

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _write(self, n: int = 1, atomic: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def put_part(self, item: ListingItem | ShopItem) -> None:
        data = {f.name: getattr(item, f.name) for f in fields(item) if f.init and f.name not in _NOT_KEPT}
        with self._write() as c:
            for statement in PARTS_SCHEMA:
                c.execute(statement)
            c.execute("INSERT OR REPLACE INTO subject_parts(kind, subject_id, part, url, sweep_id, fetched_at, data) "
                      "VALUES (?,?,?,?,?,?,?)", (item.kind, item.subject_id, item.part, item.url, item.sweep_id,
                                                 item.fetched_at, json.dumps(data, ensure_ascii=False, default=str)))

    def parts(self, kind: str, subject_id: str) -> list[ListingItem | ShopItem]:
        cls = _CLASSES[kind]
        names = {f.name for f in fields(cls) if f.init}
        rows = self._part_rows("SELECT data FROM subject_parts WHERE kind=? AND subject_id=? ORDER BY part",
                               (kind, subject_id))
        return [cls(**{k: v for k, v in json.loads(r["data"]).items() if k in names}) for r in rows]

    def part_subjects(self, sweep_id: str) -> list[tuple[str, str]]:
        rows = self._part_rows("SELECT DISTINCT kind, subject_id FROM subject_parts WHERE sweep_id=? "
                               "ORDER BY kind, subject_id", (sweep_id,))
        return [(r["kind"], r["subject_id"]) for r in rows]

    def _part_rows(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        with self._read() as c:
            try:
                return c.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # no part was ever written
                    return []
                raise
