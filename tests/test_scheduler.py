"""The scheduler as a real process: sweeps due in a few seconds run (one per site at a time), SIGTERM stops it
gracefully, a restart keeps the plan and the run history and does not run a finished sweep again."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cli_helpers import ROOT, run_cli

from pipelines.store import open_store
from scheduler import read_jobs

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def quick_crawls(monkeypatch):
    """Sweeps run with tests/quick_crawl_settings.py (no finding screenshots: seconds, not half a minute)."""
    tests = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "quick_crawl_settings")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p))


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def runs(home: Path):
    db = home / "netsword.db"
    if not db.exists():
        return []
    store = open_store(db)
    try:
        return store.runs(limit=None)
    except Exception:  # the first process may still be creating the schema
        return []
    finally:
        store.close()


class Scheduler:
    """`netsword schedule run` in a child process, its log in a file."""

    def __init__(self, campaign: Path, home: Path, name: str) -> None:
        self.log_path = home / f"{name}.log"
        home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "NETSWORD_HOME": str(home)}
        env.pop("NETSWORD_STORE", None)
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "schedule", "run", "--campaign", str(campaign)],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 90) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()


def test_scheduler_runs_stops_and_restarts_with_plan_and_history(tmp_path, demo_server, quick_crawls):
    home = tmp_path / "home"
    due = datetime.now(TZ) + timedelta(seconds=8)
    day = due.date()
    hourly_minute = (due.minute + 30) % 60  # the hourly watch sweep stays in the future during the test
    campaign = tmp_path / "c.yml"
    campaign.write_text(f"""\
campaign: sched
title: 调度测试
phases: [{{name: 组织实施, start: {day - timedelta(days=1)}, end: {day + timedelta(days=5)}}}]
sites:
  - site: demo
    base_url: "{demo_server.url}"
    start_urls: ["{{base_url}}/shop/S001/"]
    watch: ["{{base_url}}/shop/S002/"]
plan:
  baseline: {{days_before: 0, at: "{due:%H:%M:%S}"}}   # both due at the same second, same site:
  daily: {{days_before: 0, at: "{due:%H:%M:%S}"}}      # one waits for the other
  hourly: {{every_hours: 1, minute: {hourly_minute}}}
festivals: [{{id: fest, name: 测试节, date: "{day}", days: 2}}]
""", encoding="utf-8")

    first = Scheduler(campaign, home, "first")
    try:
        # the baseline and the daily sweep both fire; the second starts only when the first is done
        # (a bound on waiting, not a speed check: a demo sweep takes ~40 s on a quiet machine, minutes on a busy one)
        wait_until(lambda: len(runs(home)) >= 2 and any(r.status == "ok" for r in runs(home)), 900,
                   "a finished sweep and a second one after it:\n" + first.text()[-3000:])
        before = {job_id: job.next_run_time for job_id, job in read_jobs(home).items()}
    finally:
        code = first.stop()
    assert code == 0, first.text()[-3000:]
    assert "scheduler stopped" in first.text()
    # the one-off baseline has run; the daily re-check (scheduling.recheck) is the scheduler's own job
    assert set(before) == {"sched:fest:daily:demo", "sched:fest:hourly:demo", "recheck:daily"}
    assert str(before["recheck:daily"].time())[:5] == "09:30"
    assert before["sched:fest:daily:demo"].date() == day + timedelta(days=1)
    history = runs(home)
    assert len(history) == 2
    assert {r.kind for r in history} == {"baseline", "daily"}
    assert {r.status for r in history} <= {"ok", "interrupted"}, [(r.run_id, r.status, r.message) for r in history]
    assert all(r.pages > 0 for r in history if r.status == "ok")

    second = Scheduler(campaign, home, "second")
    try:
        wait_until(lambda: "scheduler running" in second.text(), 60, "the restarted scheduler:\n" + second.text())
        assert "plan synced: 0 added, 2 kept, 0 removed, 1 over" in second.text()
        after = {job_id: job.next_run_time for job_id, job in read_jobs(home).items()}
        assert after == before
        listed = run_cli("schedule", "list", "--json", "--campaign", str(campaign), home=home)
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert {r["job_id"] for r in rows} == set(before) - {"recheck:daily"}
        assert {r["state"] for r in rows} == {"已排程"}
        shown = run_cli("schedule", "history", "--json", home=home)
        assert shown.returncode == 0, shown.stderr
        assert {json.loads(line)["run_id"] for line in shown.stdout.splitlines()} == {r.run_id for r in history}
    finally:
        code = second.stop()
    assert code == 0, second.text()[-3000:]
    final = runs(home)
    assert [(r.run_id, r.status) for r in final] == [(r.run_id, r.status) for r in history]  # nothing ran again
    spans = sorted((r.started_at, r.finished_at) for r in final)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"sweeps of one site overlapped: {spans}"


def test_a_failing_crawl_is_recorded_not_fatal(tmp_path):
    home = tmp_path / "home"
    proc = run_cli("schedule", "run-now", "--site", "nosuchsite", home=home)
    assert proc.returncode == 1
    assert "失败" in proc.stdout
    [run] = runs(home)
    assert (run.site, run.kind, run.status, run.exit_code) == ("nosuchsite", "manual", "failed", 1)
    assert "nosuchsite" in run.message


def test_a_killed_crawl_is_recorded_as_crashed(tmp_path, demo_server, quick_crawls, monkeypatch):
    import threading

    from scheduling.runs import SweepRequest, SweepRunner

    home = tmp_path / "home"
    monkeypatch.setenv("NETSWORD_HOME", str(home))
    monkeypatch.delenv("NETSWORD_STORE", raising=False)
    runner = SweepRunner(home)
    result = {}
    req = SweepRequest("demo", base_url=demo_server.url, start_urls=["{base_url}/shop/S003/"])
    worker = threading.Thread(target=lambda: result.update(run=runner.run(req)))
    worker.start()
    running = wait_until(lambda: [r for r in runs(home) if r.status == "running" and r.pid], 60, "a running sweep")
    os.kill(running[0].pid, signal.SIGKILL)
    worker.join(timeout=60)
    run = result["run"]
    assert (run.status, run.exit_code) == ("crashed", -signal.SIGKILL)
    assert [(r.run_id, r.status) for r in runs(home)] == [(run.run_id, "crashed")]
    # the runner (the scheduler's) goes on: the site lock was released for the next sweep
    with runner.site_lock("demo", wait=0) as free:
        assert free


def test_run_records_filters(tmp_path):
    from pipelines.store.base import SweepRun

    store = open_store(tmp_path / "s.db")
    store.put_run(SweepRun("a", "demo", "baseline", "c", "f", "c:f:baseline:demo", "2026-12-01T00:00:00+00:00",
                           status="ok"))
    store.put_run(SweepRun("b", "demo", "daily", "c", "f", "c:f:daily:demo", "2026-12-02T00:00:00+00:00"))
    store.put_run(SweepRun("b", "demo", "daily", "c", "f", "c:f:daily:demo", "2026-12-02T00:00:00+00:00",
                           "2026-12-02T00:10:00+00:00", "failed", 1, message="退出码 1"))
    store.put_run(SweepRun("c", "other", started_at="2026-12-03T00:00:00+00:00", status="skipped"))
    assert [r.run_id for r in store.runs()] == ["c", "b", "a"]
    assert [r.run_id for r in store.runs(site="demo", kind="baseline", status=("ok", "incomplete"))] == ["a"]
    assert [r.run_id for r in store.runs(job_id="c:f:daily:demo")] == ["b"]
    [b] = store.runs(run_id="b")
    assert (b.status, b.exit_code, b.message) == ("failed", 1, "退出码 1")
    assert [r.run_id for r in store.runs(campaign="c", festival="f", limit=1)] == ["b"]
    store.close()
