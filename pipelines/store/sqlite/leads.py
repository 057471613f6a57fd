"""What the analyst side keeps in the SQLite engine: triage statuses, the audit trail, console users, shops.

Kept apart from ``engine.py`` (connections, transactions, subject and finding writes);
``SQLiteStore`` mixes this in. The tables are additive (schema v2): ``triage_events`` is
append-only (the audit trail), ``users`` holds argon2 hashes, never passwords, and (v6) each
user's ``session_epoch`` (the console's session generation).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from typing import Any

from crawler.items import ShopItem
from netsword.clock import utc_now

from ..base import FilterValue, TriageEvent, User, as_tuple
from .summary import TAG, placeholders

LEADS_SCHEMA = """
CREATE TABLE IF NOT EXISTS triage_events (
  event_id INTEGER PRIMARY KEY AUTOINCREMENT, lead_id TEXT NOT NULL, action TEXT NOT NULL, value TEXT NOT NULL,
  previous TEXT NOT NULL DEFAULT '', finding_id TEXT NOT NULL DEFAULT '', actor TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS triage_events_lead ON triage_events(lead_id, event_id);
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, session_epoch INTEGER NOT NULL DEFAULT 0);
"""


def migrate_users(c: sqlite3.Connection) -> None:
    """v6: ``users.session_epoch`` on a store made before it (inside the schema transaction)."""
    columns = {r[1] for r in c.execute("PRAGMA table_info(users)")}
    if "session_epoch" not in columns:
        c.execute("ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0")


def _event(r: sqlite3.Row) -> TriageEvent:
    return TriageEvent(lead_id=r["lead_id"], action=r["action"], value=r["value"], actor=r["actor"], at=r["at"],
                       previous=r["previous"], finding_id=r["finding_id"], event_id=r["event_id"])


def _user(r: sqlite3.Row) -> User:
    return User(r["username"], r["password_hash"], r["role"], bool(r["disabled"]), r["created_at"], r["updated_at"],
                r["session_epoch"])


#: subject ids read per page by iter_subject_ids
ID_PAGE = 2000

class SQLiteLeads:
    """Triage, users and the shop scan of ``SQLiteStore`` (which provides ``_read()`` and ``_write()``)."""

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _write(self, n: int = 1, atomic: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _touch_findings(self, c: sqlite3.Connection, finding_ids: Sequence[str]) -> None:
        raise NotImplementedError

    def iter_subject_ids(self, kind: str, site: FilterValue = None) -> Iterator[str]:
        table = {"listing": "listings", "shop": "shops"}[kind]
        sites = as_tuple(site)
        where = f" AND site IN ({placeholders(len(sites))})" if sites else ""
        after = ""
        while True:  # keyset paging on the primary key
            with self._read() as c:
                ids = [r[0] for r in c.execute(f"SELECT subject_id FROM {table} WHERE subject_id > ?{where} "
                                               "ORDER BY subject_id LIMIT ?", (after, *sites, ID_PAGE))]
            yield from ids
            if len(ids) < ID_PAGE:
                return
            after = ids[-1]

    def iter_shops(self, site: FilterValue = None) -> Iterator[ShopItem]:
        sites = as_tuple(site)
        sql = f"SELECT d.data FROM shops s JOIN subject_data d ON d.id = s.rowid * 4 + {TAG['shop']}"
        if sites:
            sql += f" WHERE s.site IN ({placeholders(len(sites))})"
        names = {f.name for f in fields(ShopItem) if f.init}
        with self._read() as c:
            rows = c.execute(sql + " ORDER BY s.site, s.shop_id", sites).fetchall()
        for r in rows:
            yield ShopItem(**{k: v for k, v in json.loads(r["data"]).items() if k in names})

    def iter_listing_pictures(self, site: FilterValue = None) -> Iterator[tuple[str, str, str, list[dict[str, Any]]]]:
        """One query: the pictures of listings that have any, from the stored item JSON (SQLite's JSON1)."""
        sites = as_tuple(site)
        sql = (f"SELECT s.subject_id, s.site, s.shop_id, json_extract(d.data, '$.images') AS images FROM listings s "
               f"JOIN subject_data d ON d.id = s.rowid * 4 + {TAG['listing']} "
               "WHERE json_array_length(json_extract(d.data, '$.images')) > 0")
        if sites:
            sql += f" AND s.site IN ({placeholders(len(sites))})"
        with self._read() as c:
            rows = c.execute(sql + " ORDER BY s.subject_id", sites).fetchall()
        for r in rows:
            yield r["subject_id"], r["site"], r["shop_id"], json.loads(r["images"])

    def set_finding_status(self, finding_ids: Sequence[str], status: str, *,
                           only_from: Sequence[str] | None = None) -> int:
        ids = tuple(finding_ids)
        if not ids:
            return 0
        sql = f"UPDATE findings SET status=? WHERE finding_id IN ({placeholders(len(ids))}) AND status!=?"
        params: list[Any] = [status, *ids, status]
        if only_from is not None:
            sql += f" AND status IN ({placeholders(len(only_from))})"
            params.extend(only_from)
        with self._write(atomic=False) as c:
            n = c.execute(sql, params).rowcount
            if n:
                self._touch_findings(c, ids)
        return n

    def add_triage_event(self, event: TriageEvent) -> TriageEvent:
        at = event.at or utc_now()
        with self._write(atomic=False) as c:
            event_id = c.execute("INSERT INTO triage_events(lead_id, action, value, previous, finding_id, actor, at) "
                                 "VALUES (?,?,?,?,?,?,?)", (event.lead_id, event.action, event.value, event.previous,
                                                            event.finding_id, event.actor, at)).lastrowid
        return TriageEvent(event.lead_id, event.action, event.value, event.actor, at, event.previous,
                           event.finding_id, event_id)

    def triage_events(self, lead_id: str | None = None) -> list[TriageEvent]:
        sql, params = "SELECT * FROM triage_events", ()
        if lead_id is not None:
            sql, params = sql + " WHERE lead_id=?", (lead_id,)
        with self._read() as c:
            return [_event(r) for r in c.execute(sql + " ORDER BY event_id", params).fetchall()]

    def put_user(self, user: User) -> None:
        now = utc_now()
        with self._write(atomic=False) as c:
            c.execute("INSERT INTO users(username, password_hash, role, disabled, created_at, updated_at, "
                      "session_epoch) VALUES (?,?,?,?,?,?,?) ON CONFLICT(username) DO UPDATE SET "
                      "password_hash=excluded.password_hash, role=excluded.role, disabled=excluded.disabled, "
                      "updated_at=excluded.updated_at, session_epoch=max(users.session_epoch, excluded.session_epoch)",
                      (user.username, user.password_hash, user.role, int(user.disabled), user.created_at or now, now,
                       user.session_epoch))

    def get_user(self, username: str) -> User | None:
        with self._read() as c:
            r = c.execute("SELECT * FROM users WHERE username=?", (username,)).fetchone()
        return _user(r) if r is not None else None

    def users(self) -> list[User]:
        with self._read() as c:
            return [_user(r) for r in c.execute("SELECT * FROM users ORDER BY username").fetchall()]
