"""Running one sweep for the scheduler (or ``netsword schedule run-now``), each in its own process.

:class:`SweepRunner` takes the site's lock (one sweep per site at a time, across processes: an
``flock`` on ``<NETSWORD_HOME>/locks/<site>.lock``, :mod:`crawler.sitelock`, which manual crawls take
too), writes a run record (:class:`SweepRun`) to the
Store, starts ``python -m cli crawl --site S --sweep-id ID`` as a child process (its output goes to
``<NETSWORD_HOME>/logs/sweeps/<id>.log``), waits for it, reads pages / findings / errors from the
sweep's stats, sends the alert digest and completes the run record. A crash of the crawl is a
``crashed`` run, never a crash of the scheduler. :meth:`SweepRunner.stop` (SIGTERM) asks running
crawls to stop (Scrapy shuts down cleanly on SIGTERM), kills them after ``stop_grace`` seconds and
records them as ``interrupted``; ``netsword crawl --site S --resume`` continues such a sweep. A crawl
running longer than ``max_seconds`` (default 12 h) is stopped the same way and recorded as ``failed``.

Sweeps with their own start URLs (hourly sweeps of watch-listed shops; campaigns limited to some
shops) get a copy of the site profile whose ``start_urls`` are those pages (``NETSWORD_SITES_DIR``).
Sweeps after a festival's baseline get ``HISTORY_BASELINE_SWEEP`` (see :mod:`pipelines.history`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from crawler.sitelock import HELD_BY_PARENT, site_lock
from netsword.clock import utc_now
from netsword.config import ROOT, data_home, sites_dir
from netsword.config import store_url as configured_store_url
from pipelines.store import open_store
from pipelines.store.base import SweepRun
from scheduling.alerts import AlertConfig, new_findings, notify_run

logger = logging.getLogger("netsword.scheduler")

FINAL = ("ok", "incomplete", "failed", "crashed", "interrupted", "skipped")




@dataclass
class SweepRequest:
    """What to sweep and why (a scheduled job's kwargs, or run-now)."""

    site: str
    kind: str = "manual"
    campaign: str = ""
    festival: str = ""
    job_id: str = ""
    base_url: str | None = None
    start_urls: list[str] = field(default_factory=list)  # [] = the profile's
    campaign_file: str = ""
    search: list[str] = field(default_factory=list)  # search keywords: sweep their search results


def alert_config(req: SweepRequest) -> AlertConfig:
    """The campaign's alert settings (read when the sweep runs; a broken file only loses the alert)."""
    if not req.campaign_file:
        return AlertConfig(min_severity=os.environ.get("NETSWORD_ALERT_MIN_SEVERITY", "high"))
    from scheduling.campaigns import load_campaign

    try:
        loaded = load_campaign(req.campaign_file)
    except Exception as exc:
        logger.error("campaign file unreadable, alerts use the defaults: %s", exc)
        return AlertConfig()
    a, fest = loaded.campaign.alerts, loaded.festival(req.festival)
    return AlertConfig(a.min_severity, list(a.notify), a.console_url, a.max_items, loaded.campaign.title,
                       fest.festival.name if fest else "", loaded.campaign.timezone)


class SweepRunner:
    def __init__(self, home: Path | str | None = None, store_url: str | None = None, *,
                 lock_wait: float = 3600.0, stop_grace: float = 30.0, max_seconds: float = 12 * 3600) -> None:
        self.home = Path(home) if home else data_home()
        self.store_url = store_url or configured_store_url()
        self.lock_wait, self.stop_grace, self.max_seconds = lock_wait, stop_grace, max_seconds
        self.stopping = threading.Event()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._mutex = threading.Lock()

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        """Stop: no new sweeps; running crawls get SIGTERM, then SIGKILL after ``stop_grace`` s."""
        self.stopping.set()
        with self._mutex:
            children = list(self._children.values())
        for proc in children:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()

    # ------------------------------------------------------------------ locks
    @contextlib.contextmanager
    def site_lock(self, site: str, wait: float | None = None) -> Iterator[bool]:
        """Hold the site's lock (True), or give up after ``wait`` seconds or on stop (False)."""
        with site_lock(self.home, site, self.lock_wait if wait is None else wait, self.stopping) as locked:
            yield locked

    # ------------------------------------------------------------------ run
    def run(self, req: SweepRequest) -> SweepRun:
        """Run one sweep to its end and return its final record."""
        with self.site_lock(req.site) as locked:
            if not locked:
                if self.stopping.is_set():
                    return self._record(self._new_run(req, "skipped", "调度器正在停止，未开始"), write=False)
                return self._record(self._new_run(req, "skipped", f"站点 {req.site} 有其他扫描在运行，"
                                                                  f"等待 {self.lock_wait:.0f} 秒后放弃"))
            if self.stopping.is_set():
                return self._record(self._new_run(req, "skipped", "调度器正在停止，未开始"), write=False)
            return self._run_locked(req)

    def _new_run(self, req: SweepRequest, status: str = "running", message: str = "") -> SweepRun:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        base = "-".join(p for p in (req.site, req.festival, req.kind, stamp) if p)
        run_id, n = base, 1
        with self._store() as store:
            while store.runs(run_id=run_id, limit=1):
                n += 1
                run_id = f"{base}-{n}"
        now = utc_now("milliseconds")
        return SweepRun(run_id, req.site, req.kind, req.campaign, req.festival, req.job_id, started_at=now,
                        finished_at=None if status == "running" else now, status=status, message=message)

    def _run_locked(self, req: SweepRequest) -> SweepRun:
        run = self._new_run(req)
        log_path = self.home / "logs" / "sweeps" / f"{run.run_id}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "NETSWORD_HOME": str(self.home), "NETSWORD_STORE": self.store_url,
               HELD_BY_PARENT: req.site}  # this runner holds the site's lock for the crawl
        baseline = self._baseline_for(req)
        if baseline:
            env["HISTORY_BASELINE_SWEEP"] = baseline
        else:
            env.pop("HISTORY_BASELINE_SWEEP", None)
        if req.start_urls:
            env["NETSWORD_SITES_DIR"] = str(self._scoped_profile(req, run.run_id))
        cmd = [sys.executable, "-m", "cli", "crawl", "--site", req.site, "--sweep-id", run.run_id]
        if req.base_url:
            cmd += ["--base-url", req.base_url]
        for term in req.search:
            cmd += ["--search", term]
        logger.info("sweep %s started (%s)", run.run_id, " ".join(cmd[2:]))
        ended_by = ""
        with open(log_path, "ab") as log:
            try:
                proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                return self._record(replace(run, status="failed", finished_at=utc_now("milliseconds"),
                                            message=str(exc)))
            run.pid = proc.pid
            self._record(run)
            with self._mutex:
                self._children[run.run_id] = proc
            try:
                ended_by = self._wait(proc)
            finally:
                with self._mutex:
                    self._children.pop(run.run_id, None)
        return self._finish(run, proc.returncode, ended_by, log_path, req)

    def _wait(self, proc: subprocess.Popen[bytes]) -> str:
        """Wait for the crawl: "" when it ended by itself, "stop" / "timeout" when it was stopped (SIGTERM,
        then SIGKILL after ``stop_grace`` s) because the runner stops or it ran past ``max_seconds``."""
        deadline = time.monotonic() + self.max_seconds
        while True:
            try:
                proc.wait(timeout=0.5)
                return "stop" if self.stopping.is_set() else ""
            except subprocess.TimeoutExpired:
                if not self.stopping.is_set() and time.monotonic() < deadline:
                    continue
            reason = "stop" if self.stopping.is_set() else "timeout"
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return reason

    def _finish(self, run: SweepRun, rc: int, ended_by: str, log_path: Path, req: SweepRequest) -> SweepRun:
        run.exit_code, run.finished_at, run.pid = rc, utc_now("milliseconds"), None
        with self._store() as store:
            sweep = next((s for s in store.sweeps() if s.sweep_id == run.run_id), None)
            stats: dict[str, Any] = sweep.stats if sweep else {}
            run.pages = int(stats.get("response_received_count", 0))
            run.findings = int(stats.get("netsword/findings", 0))
            run.errors = int(stats.get("netsword/pages/failed", 0)) + int(stats.get("log_count/ERROR", 0))
            if sweep is not None:
                run.new_findings = len(new_findings(store, run.run_id))
        if ended_by == "timeout":
            run.status, run.message = "failed", f"超过 {self.max_seconds:.0f} 秒未结束，已停止；" + _tail(log_path)
        elif ended_by:
            run.status = "interrupted"
            run.message = f"调度器停止时中断；继续：netsword crawl --site {run.site} --resume"
        elif rc == 0:
            run.status = "ok"
        elif rc < 0:
            run.status, run.message = "crashed", f"爬取进程被信号 {-rc} 终止；" + _tail(log_path)
        elif stats and str(stats.get("finish_reason", "")).startswith("blocked_"):  # a login / verification wall
            from crawler.walls import wall_summary

            run.status, run.message = "incomplete", wall_summary(run.site, stats)
        elif stats and stats.get("finish_reason") not in (None, "finished"):
            run.status, run.message = "incomplete", f"爬取提前结束（{stats.get('finish_reason')}）；" + _tail(log_path)
        else:
            run.status, run.message = "failed", f"退出码 {rc}；" + _tail(log_path)
        if run.status in ("ok", "incomplete") and not self.stopping.is_set():
            with self._store() as store:
                config = alert_config(req)
                run.alert = notify_run(store, run, config)
                _check_saved_searches(store, config.console_url)
        logger.info("sweep %s %s: %d pages, %d findings (%d new), %d errors%s", run.run_id, run.status, run.pages,
                    run.findings, run.new_findings, run.errors, f"; alert {run.alert}" if run.alert else "")
        return self._record(run)

    # ------------------------------------------------------------------ helpers
    @contextlib.contextmanager
    def _store(self) -> Iterator[Any]:
        store = open_store(self.store_url)
        try:
            yield store
        finally:
            store.close()

    def _record(self, run: SweepRun, write: bool = True) -> SweepRun:
        if write:
            with self._store() as store:
                store.put_run(run)
        return run

    def _baseline_for(self, req: SweepRequest) -> str:
        """The festival's latest finished baseline sweep of this site ("" if none, or this is one)."""
        if req.kind == "baseline" or not req.festival:
            return ""
        with self._store() as store:
            runs = store.runs(site=req.site, kind="baseline", status=("ok", "incomplete"), campaign=req.campaign,
                              festival=req.festival, limit=1)
        return runs[0].run_id if runs else ""

    def _scoped_profile(self, req: SweepRequest, run_id: str) -> Path:
        """A folder with the site's profile whose start URLs are the request's (e.g. watch-listed shops)."""
        src = sites_dir() / f"{req.site}.yml"
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
        data["start_urls"] = list(req.start_urls)
        folder = self.home / "scoped-profiles" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{req.site}.yml").write_text(
            f"# {src} with the sweep's own start URLs (sweep {run_id})\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return folder


def _tail(path: Path, lines: int = 4) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    keep = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return " | ".join(keep)[-600:]


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale_runs(runner: SweepRunner) -> list[SweepRun]:
    """Runs left "running" by a scheduler that died (their crawl process is gone): mark them interrupted."""
    fixed = []
    with runner._store() as store:
        for run in store.runs(status="running", limit=None):
            if not pid_alive(run.pid):
                run.status, run.finished_at, run.pid = "interrupted", run.finished_at or utc_now("milliseconds"), None
                run.message = f"调度器停止前未结束；继续：netsword crawl --site {run.site} --resume"
                store.put_run(run)
                fixed.append(run)
    return fixed


# ---------------------------------------------------------------------- the scheduled job

_RUNNER: SweepRunner | None = None


def set_runner(runner: SweepRunner | None) -> None:
    """The runner scheduled jobs use (the scheduler process sets it; else a default one is made)."""
    global _RUNNER
    _RUNNER = runner


def scheduled_sweep(*, job_id: str, campaign: str, campaign_file: str, festival: str, kind: str, site: str,
                    base_url: str | None = None, start_urls: list[str] | None = None, fingerprint: str = "",
                    search: list[str] | None = None) -> str:
    """What an APScheduler job runs (its kwargs come from :meth:`scheduling.plan.PlannedJob.kwargs`)."""
    runner = _RUNNER or SweepRunner()
    run = runner.run(SweepRequest(site, kind, campaign, festival, job_id, base_url, list(start_urls or []),
                                  campaign_file, list(search or [])))
    return run.status


# ---------------------------------------------------------------------- history of all sweeps


def run_from_sweep(sweep: Any, new: int = 0) -> SweepRun:
    """A run record for a sweep started by hand (``netsword crawl`` / ``demo``), read from its stats."""
    stats: dict[str, Any] = sweep.stats or {}
    reason = stats.get("finish_reason")
    if sweep.finished_at is None:
        status = "running"
    elif reason in (None, "finished"):
        status = "ok"
    else:
        status = "incomplete"
    return SweepRun(sweep.sweep_id, sweep.site, "manual", started_at=sweep.started_at, finished_at=sweep.finished_at,
                    status=status, pages=int(stats.get("response_received_count", 0)),
                    findings=int(stats.get("netsword/findings", 0)), new_findings=new,
                    errors=int(stats.get("netsword/pages/failed", 0)) + int(stats.get("log_count/ERROR", 0)),
                    message="" if status != "incomplete" else f"爬取提前结束（{reason}）")


def run_history(store: Any, *, site: str | None = None, status: str | None = None, limit: int = 100) -> list[SweepRun]:
    """Every sweep, newest first: the scheduler's run records plus sweeps started by hand (which
    have a sweep record in the store but no run record)."""
    runs = store.runs(site=site, status=status, limit=None)
    known = {r.run_id for r in runs}
    manual = [s for s in store.sweeps() if s.sweep_id not in known and (site is None or s.site == site)]
    manual.sort(key=lambda s: s.started_at or "", reverse=True)
    extra: list[SweepRun] = []
    for sweep in manual:
        run = run_from_sweep(sweep)
        if status is not None and run.status != status:
            continue
        extra.append(run)
        if len(extra) >= limit:
            break
    merged = sorted([*runs, *extra], key=lambda r: r.started_at or "", reverse=True)[:limit]
    for run in merged:
        if run.run_id not in known and run.status == "ok":
            run.new_findings = len(new_findings(store, run.run_id))
    return merged


def _check_saved_searches(store: Any, console_url: str) -> None:
    """Analysts' saved searches with new matches after a sweep: one digest each (``leads.saved``)."""
    from leads.saved import check_saved_searches

    try:
        for s, n, status in check_saved_searches(store, console_url=console_url):
            if n:
                logger.info("saved search %r (%s): %d new, %s", s.name, s.owner, n, status or "no alert target")
    except Exception:  # never fails the sweep's record
        logger.exception("saved searches not checked")
