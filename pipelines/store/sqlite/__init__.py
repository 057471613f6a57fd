"""The embedded engine: one SQLite file (WAL), full-text search that works for Chinese.

Modules: ``engine`` (SQLiteStore, schema), ``summary`` (the search summary kept on every write),
``plan`` (fast search from the summary), ``search`` (questions: search, counts, export),
``pages`` (snapshots and page states), ``leads`` (triage, audit, users), ``runs`` (sweep runs).
"""

from .engine import SCHEMA_VERSION, SQLiteStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]
