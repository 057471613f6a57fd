"""Copying: everything the SQLite store keeps as engine-neutral records, and back (``netsword index copy``).

Reads and patches the tables of :mod:`.engine` directly (schema v3); loading into a store that
already holds data merges: the latest observation wins, as with any sweep.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, fields
from typing import Any

from crawler.items import Finding, ListingItem, ShopItem

from .search import TAG, row_finding

Record = dict[str, Any]
_STATE = ("status", "first_seen", "last_seen", "first_sweep_id", "last_sweep_id", "resolved_at", "resolved_sweep_id")
_VERSION = ("version_key", "html_sha256", "price", "original_price", "title", "sweep_id", "fetched_at", "last_seen_at",
            "last_sweep_id")


def _item(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls) if f.init}
    return cls(**{k: v for k, v in data.items() if k in names})


class SQLiteTransfer:
    """``dump`` and ``load`` of the Store contract (mixed into SQLiteStore)."""

    _read: Any
    _write: Any

    def dump(self) -> Iterator[Record]:
        """Everything this store keeps, as engine-neutral records (see :mod:`pipelines.self.transfer`)."""
        self.flush()
        for sw in self.sweeps():
            yield {"type": "sweep", **asdict(sw)}
        with self._read() as c:
            for kind, table in (("listing", "listings"), ("shop", "shops")):
                sweeps: dict[str, list[str]] = {}
                for sid, sweep in c.execute("SELECT subject_id, sweep_id FROM subject_sweeps WHERE kind=? "
                                            "ORDER BY subject_id, sweep_id", (kind,)):
                    sweeps.setdefault(sid, []).append(sweep)
                versions: dict[str, list[dict[str, Any]]] = {}
                if kind == "listing":
                    for r in c.execute("SELECT * FROM listing_versions ORDER BY subject_id, fetched_at, id"):
                        versions.setdefault(r["subject_id"], []).append({k: r[k] for k in _VERSION})
                for r in c.execute(f"SELECT t.subject_id, t.first_seen, t.first_sweep_id, d.data FROM {table} t "
                                   f"JOIN subject_data d ON d.id = t.rowid * 4 + {TAG[kind]} ORDER BY t.subject_id"):
                    rec = {"type": kind, "item": json.loads(r["data"]), "first_seen": r["first_seen"],
                           "first_sweep_id": r["first_sweep_id"], "sweeps": sweeps.get(r["subject_id"], [])}
                    if kind == "listing":
                        rec["versions"] = versions.get(r["subject_id"], [])
                    yield rec
            fsweeps: dict[str, list[str]] = {}
            for fid, sweep in c.execute("SELECT finding_id, sweep_id FROM finding_sweeps "
                                        "ORDER BY finding_id, sweep_id"):
                fsweeps.setdefault(fid, []).append(sweep)
            for r in c.execute("SELECT * FROM findings ORDER BY finding_id"):
                yield {"type": "finding", "finding": asdict(row_finding(r)),
                       "state": {**{k: r[k] for k in _STATE}, "sweeps": fsweeps.get(r["finding_id"], [])}}
            for r in c.execute("SELECT sha256, url, path, fetched_at, status, sweep_id, rendered FROM snapshots "
                               "ORDER BY id"):
                yield {"type": "snapshot", **dict(r), "rendered": bool(r["rendered"])}
            for r in c.execute("SELECT * FROM page_states ORDER BY url"):
                yield {"type": "page_state", "state": dict(r)}
            for r in c.execute("SELECT * FROM triage_events ORDER BY event_id"):
                yield {"type": "triage_event", "event": dict(r)}
            for r in c.execute("SELECT * FROM users ORDER BY username"):
                yield {"type": "user", "user": {**dict(r), "disabled": bool(r["disabled"])}}
            if c.execute("SELECT 1 FROM sqlite_master WHERE name='sweep_runs'").fetchone():
                for r in c.execute("SELECT * FROM sweep_runs ORDER BY run_id"):
                    yield {"type": "run", "run": dict(r)}


    def load(self, records: Iterable[Record]) -> int:
        """Write records of :meth:`dump` (from any engine); merges: the latest observation wins."""
        from ..base import PageState, SweepRun

        n = 0
        with self.transaction():
            for rec in records:
                n += 1
                t = rec["type"]
                if t == "sweep":
                    with self._write(atomic=False) as c:
                        c.execute("INSERT OR REPLACE INTO sweeps(sweep_id, site, started_at, finished_at, "
                                  "settings, stats) VALUES (?,?,?,?,?,?)",
                                  (rec["sweep_id"], rec["site"], rec["started_at"], rec["finished_at"],
                                   json.dumps(rec["settings"]), json.dumps(rec["stats"])))
                elif t in ("listing", "shop"):
                    item = _item(ListingItem if t == "listing" else ShopItem, rec["item"])
                    (self.upsert_listing if t == "listing" else self.upsert_shop)(item)
                    table = "listings" if t == "listing" else "shops"
                    with self._write() as c:
                        c.execute(f"UPDATE {table} SET first_seen=min(first_seen, ?), first_sweep_id=? "
                                  "WHERE subject_id=?",
                                  (rec["first_seen"] or item.fetched_at, rec["first_sweep_id"], item.subject_id))
                        c.executemany("INSERT OR IGNORE INTO subject_sweeps VALUES (?,?,?)",
                                      [(t, item.subject_id, s) for s in rec["sweeps"]])
                        if t == "listing":
                            c.execute("DELETE FROM listing_versions WHERE subject_id=?", (item.subject_id,))
                            c.executemany(f"INSERT OR IGNORE INTO listing_versions(subject_id, {', '.join(_VERSION)}) "
                                          f"VALUES (?,{','.join('?' * len(_VERSION))})",
                                          [(item.subject_id, *(v[k] for k in _VERSION)) for v in rec["versions"]])
                elif t == "finding":
                    f, st = _item(Finding, rec["finding"]), rec["state"]
                    f.found_at = st["last_seen"] or f.found_at
                    self.upsert_findings([f])
                    with self._write() as c:
                        c.execute(f"UPDATE findings SET {', '.join(f'{k}=?' for k in _STATE)} WHERE finding_id=?",
                                  (*(st[k] for k in _STATE), f.finding_id))
                        c.executemany("INSERT OR IGNORE INTO finding_sweeps VALUES (?,?)",
                                      [(f.finding_id, s) for s in st["sweeps"]])
                elif t == "snapshot":
                    self.record_snapshot(rec["sha256"], rec["url"], rec["path"], rec["fetched_at"], rec["status"],
                                          rec["sweep_id"], rec["rendered"])
                elif t == "page_state":
                    self.put_page_state(_item(PageState, rec["state"]))
                elif t == "triage_event":
                    e = rec["event"]
                    with self._write(atomic=False) as c:
                        c.execute("INSERT OR IGNORE INTO triage_events(event_id, lead_id, action, value, previous, "
                                  "finding_id, actor, at) VALUES (?,?,?,?,?,?,?,?)",
                                  (e["event_id"], e["lead_id"], e["action"], e["value"], e["previous"], e["finding_id"],
                                   e["actor"], e["at"]))
                elif t == "user":
                    u = rec["user"]
                    with self._write(atomic=False) as c:
                        c.execute("INSERT OR REPLACE INTO users(username, password_hash, role, disabled, created_at, "
                                  "updated_at, session_epoch) VALUES (?,?,?,?,?,?,?)",
                                  (u["username"], u["password_hash"], u["role"], int(u["disabled"]), u["created_at"],
                                   u["updated_at"], int(u.get("session_epoch") or 0)))
                elif t == "run":
                    self.put_run(_item(SweepRun, rec["run"]))
                else:
                    raise ValueError(f"unknown record type {t!r}")
        return n
