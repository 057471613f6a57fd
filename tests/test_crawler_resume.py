"""Resume: a sweep of the demo killed with SIGKILL at random points, continued with `crawl --resume`,
ends with the same pages and findings as an uninterrupted sweep (the session's demo_sweep), and
nothing stored twice."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

from cli_helpers import ROOT, run_cli

SWEEP = "demo-resume"


def _start(home, *args: str) -> subprocess.Popen:
    env = {**os.environ, "NETSWORD_HOME": str(home)}
    env.pop("NETSWORD_STORE", None)
    return subprocess.Popen([sys.executable, "-m", "cli", "crawl", "--site", "demo", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill_after(proc: subprocess.Popen, server, requests: int, timeout: float = 300) -> bool:
    """SIGKILL the crawl (and its browser) once the server has answered ``requests`` more requests;
    False if the crawl ended first."""
    target = server.requests + requests
    deadline = time.monotonic() + timeout
    while server.requests < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        return False
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def _sweep_state(db_path, sweep_id: str) -> dict:
    db = sqlite3.connect(db_path)
    q = lambda sql: db.execute(sql, (sweep_id,)).fetchall()  # noqa: E731
    state = {
        "urls": {r[0] for r in q("select url from snapshots where sweep_id=?")},
        "snapshot_rows": len(q("select 1 from snapshots where sweep_id=?")),
        "subjects": {(r[0], r[1]) for r in q("select kind, subject_id from subject_sweeps where sweep_id=?")},
        "findings": {r[0] for r in q("select finding_id from finding_sweeps where sweep_id=?")},
        "versions_per_listing": max((r[0] for r in db.execute(
            "select count(*) from listing_versions group by subject_id")), default=0),
    }
    db.close()
    return state


def test_killed_sweep_resumes_to_the_same_pages_and_findings(demo_sweep, demo_server, tmp_path):
    seed = int(os.environ.get("NETSWORD_TEST_SEED") or time.time())
    rng = random.Random(seed)
    print(f"\nseed {seed} (NETSWORD_TEST_SEED={seed} repeats these kill points)")
    home = tmp_path / "home"
    kills = 0
    proc = _start(home, "--base-url", demo_server.url, "--sweep-id", SWEEP)
    for _ in range(2):
        point = rng.randint(40, 220)
        if _kill_after(proc, demo_server, point):
            kills += 1
            print(f"killed after {point} more requests")
        proc = _start(home, "--resume")
    proc.wait(timeout=600)
    assert proc.returncode == 0
    assert kills >= 1, "the crawl finished before any kill"

    got, want = _sweep_state(home / "netsword.db", SWEEP), _sweep_state(demo_sweep["db"], demo_sweep["sweep_id"])
    assert got["urls"] == want["urls"], (sorted(want["urls"] - got["urls"])[:10],
                                         sorted(got["urls"] - want["urls"])[:10])
    assert got["subjects"] == want["subjects"]
    assert got["findings"] == want["findings"]
    assert got["snapshot_rows"] == len(got["urls"])  # every page once in the sweep
    assert got["versions_per_listing"] == 1  # no listing stored twice as two versions

    # a finished sweep cannot be resumed; its evidence verifies (killed WARC segments are read record by record)
    again = run_cli("crawl", "--site", "demo", "--resume", home=home)
    assert again.returncode != 0 and "already finished" in again.stderr
    verify = run_cli("evidence", "verify", SWEEP, home=home)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "not closed" in verify.stderr or kills == 0
