"""What only the SQLite engine promises: URLs, the WAL file, batched commits, transactions, threads.

The engine-independent Store contract (upserts, history, findings life cycle, search, export
stream) is tests/store_contract/, run against every engine. The item builders live in
tests/store_contract/store_builders.py and are re-exported here for older imports.
"""

from __future__ import annotations

import sqlite3

import pytest
from store_contract.store_builders import T1, T2, T3, finding, listing, shop

from pipelines.store import SearchQuery, open_store
from pipelines.store.sqlite import SQLiteStore

__all__ = ["T1", "T2", "T3", "finding", "listing", "shop"]


# --------------------------------------------------------------------------- opening


def test_open_store_urls(tmp_path):
    for url in (f"sqlite:///{tmp_path}/a.db", str(tmp_path / "b.db"), tmp_path / "c.db"):
        s = open_store(url)
        assert isinstance(s, SQLiteStore)
        s.close()
    assert (tmp_path / "a.db").exists() and (tmp_path / "b.db").exists()
    with pytest.raises(ValueError, match="sqlite"):
        open_store("mongodb://localhost/x")


def test_file_is_wal_with_schema_version(tmp_path):
    open_store(tmp_path / "n.db").close()
    con = sqlite3.connect(tmp_path / "n.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] >= 1
    con.close()
    open_store(tmp_path / "n.db").close()  # reopening an existing file is fine


def test_upgrade_from_v5_gives_users_a_session_epoch(tmp_path):
    """A v5 file (users without session_epoch) keeps its users; their sessions start at epoch 0."""
    from pipelines.store.base import User

    s = open_store(tmp_path / "v5.db")
    s.put_user(User("wang", "$argon2id$w", role="admin"))
    s.close()
    con = sqlite3.connect(tmp_path / "v5.db")
    con.executescript("ALTER TABLE users DROP COLUMN session_epoch; "
                      "DELETE FROM schema_version; INSERT INTO schema_version VALUES (5);")
    con.close()
    s = open_store(tmp_path / "v5.db")
    try:
        assert (s.get_user("wang").role, s.get_user("wang").session_epoch) == ("admin", 0)
        s.put_user(User("wang", "$argon2id$w", role="admin", session_epoch=1))
        assert s.get_user("wang").session_epoch == 1
    finally:
        s.close()


# --------------------------------------------------------------------------- durability and concurrency


def test_batched_writes_visible_to_others_after_flush(tmp_path):
    path = tmp_path / "n.db"
    writer = SQLiteStore(path, batch_size=10_000, max_delay=3600)
    other = SQLiteStore(path)
    writer.upsert_listing(listing("1", "高仿鞋"))
    assert writer.counts()["listings"] == 1  # read-your-writes (commits first)
    writer.upsert_listing(listing("2", "运动鞋"))
    assert other.counts()["listings"] == 1  # the second write is not committed yet
    writer.flush()
    assert other.counts()["listings"] == 2
    writer.upsert_listing(listing("3", "皮鞋"))
    writer.close()
    assert other.counts()["listings"] == 3  # close flushes
    other.close()


def test_transaction_rolls_back_on_error(tmp_path):
    s = SQLiteStore(tmp_path / "n.db")
    s.upsert_listing(listing("1", "a"))
    with pytest.raises(RuntimeError), s.transaction():
        s.upsert_listing(listing("2", "b"))
        assert s.counts()["listings"] == 2  # the owner reads its own transaction
        raise RuntimeError("boom")
    assert s.counts()["listings"] == 1
    with s.transaction():
        s.upsert_listing(listing("3", "c"))
    assert s.counts()["listings"] == 2
    s.close()


def test_failing_call_leaves_nothing_half_written(tmp_path, monkeypatch):
    s = SQLiteStore(tmp_path / "n.db")
    item = listing("1", "运动鞋")
    s.upsert_listing(item)
    original = SQLiteStore._upsert_finding

    def flaky(self, c, f, found):
        if f.rule_id == "broken.rule":
            raise RuntimeError("boom")
        return original(self, c, f, found)

    monkeypatch.setattr(SQLiteStore, "_upsert_finding", flaky)
    with pytest.raises(RuntimeError):
        s.upsert_findings([finding(item, snippet="高仿证据"), finding(item, "broken.rule")])
    assert s.counts()["findings"] == 0 and s.counts()["listings"] == 1  # earlier calls are kept
    assert s.search(SearchQuery(text="高仿", flagged_only=False)).total == 0  # no index entry leaked
    s.close()


def test_in_memory_store_and_search_inside_a_transaction():
    s = open_store("sqlite:///:memory:")
    with s.transaction():
        s.upsert_listing(listing("1", "耐克高仿运动鞋"))
        assert s.search(SearchQuery(text="高仿", flagged_only=False)).total == 1
    assert s.get_listing("demo:1").title == "耐克高仿运动鞋"
    s.close()
