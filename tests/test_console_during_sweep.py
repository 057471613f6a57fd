"""Issue 12, item 1: a polite sweep must not lock the analysts out of the console.

A real sweep of the demo marketplace (`netsword crawl`, its own process, DOWNLOAD_DELAY=2) writes
into the same SQLite file the console triages on (the real app under uvicorn on 127.0.0.1, a
thread of this process, driven over HTTP). Every triage write must be saved and answered within 2 seconds while the
sweep runs, and every change must be in the store afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cli_helpers import ROOT
from leads_fixtures import ConsoleServer, copy_home

from leads.leads import build_leads
from leads.triage import lead_state
from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app
from pipelines.store import open_store
from pipelines.store.sqlite import SQLiteStore

SWEEP = "demo-polite"
PASSWORD = "correct-horse-2"
#: the issue's requirement: a triage write is answered within 2 s during a sweep
LIMIT_S = 2.0
WRITES = 12
TESTS = Path(__file__).resolve().parent


@pytest.fixture
def home(demo_sweep, tmp_path) -> tuple[Path, list[str]]:
    """A private copy of the demo sweep with a console user; the ids of three of its leads."""
    home = copy_home(demo_sweep["home"], tmp_path / "home")
    store = open_store(home / "netsword.db")
    add_user(store, "analyst1", PASSWORD, "analyst")
    lead_ids = [lead.lead_id for lead in build_leads(store)[:3]]
    store.close()
    assert len(lead_ids) == 3
    return home, lead_ids


def _start_sweep(home: Path, base_url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "NETSWORD_HOME": str(home), "SCRAPY_SETTINGS_MODULE": "quick_crawl_settings",
           "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)}
    env.pop("NETSWORD_STORE", None)
    polite = ("-s", "DOWNLOAD_DELAY=2", "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "CLOSESPIDER_TIMEOUT=120")
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "cli", "crawl", "--site", "demo", "--base-url", base_url,
                                 "--sweep-id", SWEEP, *polite], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _swept_pages(db: Path) -> int:
    """Pages of the sweep committed so far (read-only; WAL readers never wait for the writer)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM snapshots WHERE sweep_id=?", (SWEEP,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _wait_for_pages(proc: subprocess.Popen, db: Path, n: int, log: Path, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while (pages := _swept_pages(db)) < n:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"the sweep stored {pages} pages in {timeout:.0f} s"
        time.sleep(0.2)
    return pages


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # Scrapy's graceful stop: the sweep record is closed
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _login(client: httpx.Client) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": "analyst1", "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text[:500]
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/search").text).group(1)


def _triage_requests(lead_ids: list[str]) -> list[tuple[str, dict[str, str]]]:
    """WRITES triage changes, each one a real change: notes, assignments, status moves."""
    out: list[tuple[str, dict[str, str]]] = []
    statuses = ("confirmed", "dismissed")
    for i in range(WRITES):
        lead = lead_ids[i % len(lead_ids)]
        kind = i % 3
        if kind == 0:
            out.append(("/triage/note", {"lead_id": lead, "note": f"扫描期间的备注 {i} / note during the sweep"}))
        elif kind == 1:
            out.append(("/triage/status", {"lead_id": lead, "status": statuses[(i // 3) % 2],
                                           "reason": "false_positive"}))  # a dismissal names its reason
        else:
            out.append(("/triage/assign", {"lead_id": lead, "assignee": "analyst1" if (i // 3) % 2 == 0 else ""}))
    return out


def test_console_triage_is_saved_within_2s_while_a_polite_sweep_runs(home, demo_server, tmp_path):
    home_dir, lead_ids = home
    db = home_dir / "netsword.db"
    log = tmp_path / "sweep.log"
    config = ConsoleConfig(str(db), str(home_dir / "evidence"), secrets.token_urlsafe(48))
    proc = _start_sweep(home_dir, demo_server.url, log)
    timings: list[float] = []
    try:
        pages_before = _wait_for_pages(proc, db, 2, log)  # the sweep is writing
        app = create_app(config)
        with ConsoleServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            token = _login(client)
            for path, data in _triage_requests(lead_ids):
                t0 = time.monotonic()
                r = client.post(path, data={**data, "csrf_token": token})
                timings.append(time.monotonic() - t0)
                print(f"{path} {data}: {r.status_code} in {timings[-1]:.3f} s")
                assert r.status_code == 303, (path, r.status_code, r.text[:300])
                assert timings[-1] < LIMIT_S, (path, timings)
                page = client.get(r.headers["location"]).text
                assert "已保存" in page, (path, data)  # the analyst is told the change was saved
                time.sleep(0.6)  # an analyst's pace, spread over several pages of the sweep
        app.state.store.close()
        assert proc.poll() is None, "the sweep ended before the triage did: it did not overlap"
        pages_after = _swept_pages(db)
        assert pages_after > pages_before, (pages_before, pages_after)  # it kept writing meanwhile
    finally:
        _stop(proc)
    print(f"triage latency during the sweep: max {max(timings):.3f} s, "
          f"median {sorted(timings)[len(timings) // 2]:.3f} s over {len(timings)} writes")

    store = open_store(db)
    try:
        events = store.triage_events()
        notes = {e.value for e in events if e.action == "note"}
        assert {d["note"] for p, d in _triage_requests(lead_ids) if p == "/triage/note"} <= notes
        # every change kept, none twice (a dismissal also records its reason per finding)
        assert len([e for e in events if e.actor == "analyst1" and e.action != "dismiss_reason"]) == WRITES
        # the last write of each kind wins
        final_status = {d["lead_id"]: d["status"] for p, d in _triage_requests(lead_ids) if p == "/triage/status"}
        for lead, status in final_status.items():
            assert lead_state(store, lead).status == status
    finally:
        store.close()


def test_a_triage_write_that_cannot_start_is_refused_with_503_and_can_be_retried(home):
    """A writer outside netsword's turnstile (the sqlite3 shell, an older netsword) keeps the lock: the analyst
    is told at once that nothing was saved, instead of a 500 after 30 s; trying again works."""
    home_dir, lead_ids = home
    db = home_dir / "netsword.db"
    store = SQLiteStore(db, timeout=1)  # the console's wait, shortened for the test
    config = ConsoleConfig(str(db), str(home_dir / "evidence"), secrets.token_urlsafe(48))
    note = {"lead_id": lead_ids[0], "note": "一定要保存的备注 / a note that must not be lost"}
    with ConsoleServer(create_app(config, store=store)) as server, httpx.Client(base_url=server.url) as client:
        token = _login(client)
        foreign = sqlite3.connect(db)
        foreign.execute("BEGIN IMMEDIATE")
        try:
            t0 = time.monotonic()
            r = client.post("/triage/note", data={**note, "csrf_token": token})
            assert time.monotonic() - t0 < 5
        finally:
            foreign.rollback()
            foreign.close()
        assert r.status_code == 503 and r.headers["retry-after"]
        assert "没有保存" in r.text and "NOT saved" in r.text
        assert store.triage_events(lead_ids[0]) == []
        r = client.post("/triage/note", data={**note, "csrf_token": token})
        assert r.status_code == 303 and "已保存" in client.get(r.headers["location"]).text
        assert [e.value for e in store.triage_events(lead_ids[0])] == [note["note"]]
    store.close()
