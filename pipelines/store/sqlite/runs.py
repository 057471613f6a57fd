"""Sweep run records in the SQLite engine (schema v4): what the scheduler started, when, and how it ended.

``SQLiteStore`` mixes this in. One row per run (``run_id`` = the sweep id), replaced as the run
goes on (running -> ok / failed / ...); nothing is ever deleted.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import astuple, fields

from ..base import FilterValue, SweepRun, as_tuple
from .search import placeholders

RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweep_runs (
  run_id TEXT PRIMARY KEY, site TEXT NOT NULL, kind TEXT NOT NULL, campaign TEXT NOT NULL, festival TEXT NOT NULL,
  job_id TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, exit_code INTEGER,
  pages INTEGER NOT NULL, findings INTEGER NOT NULL, new_findings INTEGER NOT NULL, errors INTEGER NOT NULL,
  message TEXT NOT NULL, alert TEXT NOT NULL, pid INTEGER);
CREATE INDEX IF NOT EXISTS sweep_runs_site ON sweep_runs(site, started_at);
CREATE INDEX IF NOT EXISTS sweep_runs_job ON sweep_runs(job_id, started_at);
"""

_COLS = tuple(f.name for f in fields(SweepRun))


class SQLiteRuns:
    """``put_run`` / ``runs`` of ``SQLiteStore`` (which provides ``_read()``, ``_write()`` and ``flush()``)."""

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _write(self, n: int = 1, atomic: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def put_run(self, run: SweepRun) -> None:
        with self._write(atomic=False) as c:
            c.execute(f"INSERT OR REPLACE INTO sweep_runs({','.join(_COLS)}) VALUES ({placeholders(len(_COLS))})",
                      astuple(run))
        self.flush()

    def runs(self, *, site: FilterValue = None, kind: FilterValue = None, status: FilterValue = None,
             campaign: str | None = None, festival: str | None = None, job_id: str | None = None,
             run_id: str | None = None, limit: int | None = 100) -> list[SweepRun]:
        where, params = [], []
        for col, value in (("site", site), ("kind", kind), ("status", status)):
            values = as_tuple(value)
            if values:
                where.append(f"{col} IN ({placeholders(len(values))})")
                params.extend(values)
        for col, one in (("campaign", campaign), ("festival", festival), ("job_id", job_id), ("run_id", run_id)):
            if one is not None:
                where.append(f"{col}=?")
                params.append(one)
        sql = f"SELECT {','.join(_COLS)} FROM sweep_runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, run_id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._read() as c:
            rows = c.execute(sql, params).fetchall()
        return [SweepRun(*tuple(r)) for r in rows]
