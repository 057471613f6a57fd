"""What only the SQLite engine promises: URLs, the WAL file, batched commits, transactions, threads.

The engine-independent Store contract (upserts, history, findings life cycle, search, export
stream) is tests/store_contract/, run against every engine. The item builders live in
tests/store_contract/store_builders.py and are re-exported here for older imports.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from store_contract.store_builders import T1, T2, T3, finding, listing, shop

from pipelines.store import SearchQuery, open_store
from pipelines.store.base import StoreBusy, TriageEvent
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
    writer = SQLiteStore(path, batch_size=10_000, max_delay=3600, max_idle=3600)  # no timer commit meanwhile
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


def _committed_listings(path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM listings").fetchone()[0]
    finally:
        con.close()


def _wait_for(check, seconds: float) -> float:
    """Seconds until ``check()`` held; fails after ``seconds``."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < seconds, f"not within {seconds} s"
        time.sleep(0.01)
    return time.monotonic() - t0


@pytest.mark.parametrize("timing", [{"max_delay": 0.3, "max_idle": 3600}, {"max_delay": 3600, "max_idle": 0.1}])
def test_an_open_batch_is_committed_in_time_without_another_write(tmp_path, timing):
    """The commit timer: a sweep that stalls on a slow page (no next write) holds no lock for long."""
    path = tmp_path / "n.db"
    writer = SQLiteStore(path, batch_size=10_000, **timing)
    writer.upsert_listing(listing("1", "高仿鞋"))
    assert _wait_for(lambda: _committed_listings(path) == 1, 3.0) < 1.5
    # the write lock is free again: another writer gets it within moments (not after max_idle / max_delay of an
    # hour); a short wait covers the writer's own WAL checkpoint right after its commit (seen once in CI under load)
    other = sqlite3.connect(path, timeout=2.0)
    other.execute("BEGIN IMMEDIATE")
    other.rollback()
    other.close()
    writer.upsert_listing(listing("2", "运动鞋"))  # the next batch starts normally
    writer.close()
    assert _committed_listings(path) == 2


def test_an_interactive_write_goes_before_an_open_batch(tmp_path):
    """A batch writer (max_delay and max_idle out of reach) commits as soon as an interactive writer waits."""
    path = tmp_path / "n.db"
    sweep = SQLiteStore(path, batch_size=10_000, max_delay=3600, max_idle=3600)
    sweep.upsert_listing(listing("1", "高仿鞋"))  # an open batch holds the write lock
    console = SQLiteStore(path, interactive=True, timeout=5)
    t0 = time.monotonic()
    event = console.add_triage_event(TriageEvent("demo:s1", "note", "核查中", "ana"))
    assert time.monotonic() - t0 < 1.0
    assert [e.value for e in console.triage_events()] == ["核查中"] and event.event_id
    assert _committed_listings(path) == 1  # the sweep's batch was committed, not lost
    sweep.upsert_listing(listing("2", "运动鞋"))  # and the sweep goes on
    sweep.close()
    assert console.counts()["listings"] == 2
    console.close()


def test_an_interactive_write_that_cannot_start_says_so_and_writes_nothing(tmp_path):
    path = tmp_path / "n.db"
    console = SQLiteStore(path, interactive=True, timeout=0.5)
    foreign = sqlite3.connect(path)  # a writer that knows nothing of netsword's turnstile
    foreign.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreBusy, match="nothing was written"):
        console.add_triage_event(TriageEvent("demo:s1", "note", "核查中", "ana"))
    foreign.rollback()
    foreign.close()
    assert console.triage_events() == []
    console.add_triage_event(TriageEvent("demo:s1", "note", "再试一次", "ana"))  # trying again works
    assert [e.value for e in console.triage_events()] == ["再试一次"]
    console.close()


def test_a_thread_reads_its_own_writes_while_the_timer_commits(tmp_path):
    s = SQLiteStore(tmp_path / "ryw.db", max_delay=0.002, max_idle=0.001)
    for i in range(300):
        s.upsert_listing(listing(str(i), "运动鞋"))
        assert s.get_listing(f"demo:{i}") is not None, i
    s.close()
    assert not [t for t in threading.enumerate() if t.name == "netsword-commit-timer ryw.db"]  # close() ends it


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
