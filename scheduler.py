"""netsword's one long-running process: campaign calendars in, sweeps out (APScheduler 3).

``netsword schedule run`` (or ``python -m scheduler``) loads the campaigns (campaigns/*.yml,
:mod:`scheduling.campaigns`), turns their festivals into jobs (:mod:`scheduling.plan`) and keeps
them in a persistent SQLite job store, ``<NETSWORD_HOME>/scheduler.db``: a restart keeps the plan
(a job whose campaign entry did not change keeps its next run time, so runs missed while the
scheduler was down are made up once, coalesced, within the misfire grace time); run records live
in the Store (``netsword schedule history``).

Each job runs its sweep in a child process (:class:`scheduling.runs.SweepRunner`): one sweep per
site at a time (a site lock), ``max_instances=1`` per job. SIGTERM / SIGINT stop gracefully: no new
sweeps, running crawls get SIGTERM and are recorded as interrupted. SIGHUP reloads the campaign
files. Only one scheduler may run per NETSWORD_HOME (``scheduler.lock``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from netsword.clock import utc_now
from netsword.config import data_home
from pipelines.store.base import SweepRun
from scheduling import recheck
from scheduling.campaigns import DEFAULT_TZ, LoadedCampaign, load_campaigns
from scheduling.plan import JOB_FUNC, PlannedJob, plan_all
from scheduling.runs import SweepRunner, recover_stale_runs, set_runner

logger = logging.getLogger("netsword.scheduler")

MISFIRE_GRACE = 3600  # seconds a missed run may still start late
MAX_WORKERS = 4  # sweeps of different sites that may run at once


def jobstore_path(home: Path | None = None) -> Path:
    return (home or data_home()) / "scheduler.db"


@dataclass
class SyncReport:
    added: list[str]
    kept: list[str]
    removed: list[str]
    done: list[str]  # in the plan but over (or already run)

    def __str__(self) -> str:
        return (f"{len(self.added)} added, {len(self.kept)} kept, {len(self.removed)} removed, "
                f"{len(self.done)} over")


class CampaignScheduler:
    def __init__(self, campaigns: list[LoadedCampaign], *, home: Path | None = None, store_url: str | None = None,
                 misfire_grace: int = MISFIRE_GRACE, max_workers: int = MAX_WORKERS,
                 runner: SweepRunner | None = None) -> None:
        self.campaigns = campaigns
        self.home = home or data_home()
        self.misfire_grace = misfire_grace
        self.runner = runner or SweepRunner(self.home, store_url, lock_wait=misfire_grace)
        self.max_workers = max_workers
        self.planned: dict[str, PlannedJob] = {}
        self.scheduler: Any = None

    def _make(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        self.home.mkdir(parents=True, exist_ok=True)
        return BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{jobstore_path(self.home)}")},
            executors={"default": ThreadPoolExecutor(self.max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.misfire_grace},
            timezone=DEFAULT_TZ)

    def start(self) -> SyncReport:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

        set_runner(self.runner)
        self.scheduler = self._make()
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.scheduler.start(paused=True)
        for run in recover_stale_runs(self.runner):
            logger.warning("run %s was left running by an earlier scheduler: marked interrupted", run.run_id)
        report = self.sync()
        self.scheduler.resume()
        return report

    def sync(self, campaigns: list[LoadedCampaign] | None = None) -> SyncReport:
        """Make the job store match the campaigns; unchanged jobs keep their next run time."""
        if campaigns is not None:
            self.campaigns = campaigns
        self.planned = {j.job_id: j for j in plan_all(self.campaigns)}
        now = datetime.now(UTC)
        horizon = now - timedelta(seconds=self.misfire_grace)
        existing = {job.id: job for job in self.scheduler.get_jobs()}
        report = SyncReport([], [], [], [])
        for job_id in existing.keys() - self.planned.keys() - {recheck.JOB_ID}:
            self.scheduler.remove_job(job_id)
            report.removed.append(job_id)
        with self.runner._store() as store:
            for job_id, pj in self.planned.items():
                job = existing.get(job_id)
                if job is not None and job.kwargs.get("fingerprint") == pj.fingerprint():
                    report.kept.append(job_id)
                    continue
                over = pj.last_time() < horizon
                if pj.spec["type"] == "date" and job is None and not over:  # a one-off that already ran?
                    due = pj.last_time() - timedelta(seconds=self.misfire_grace)
                    over = any(datetime.fromisoformat(r.started_at) >= due for r in store.runs(job_id=job_id, limit=1))
                if over:
                    if job is not None:
                        self.scheduler.remove_job(job_id)
                    report.done.append(job_id)
                    continue
                self.scheduler.add_job(JOB_FUNC, trigger=pj.trigger(), id=job_id, kwargs=pj.kwargs(),
                                       name=f"{pj.festival_name} {pj.label} {pj.site}", replace_existing=True)
                report.added.append(job_id)
        self._sync_recheck(existing)
        logger.info("plan synced: %s", report)
        return report

    def _sync_recheck(self, existing: dict[str, Any]) -> None:
        """The daily re-check job (scheduling.recheck), at ``recheck_at``; removed when that is ``off``."""
        from netsword.config import current

        at = current(home=self.home).recheck_at
        trig = recheck.trigger(at, DEFAULT_TZ)
        job = existing.get(recheck.JOB_ID)
        if trig is None:
            if job is not None:
                self.scheduler.remove_job(recheck.JOB_ID)
            return
        if job is not None and job.kwargs.get("at") == at and job.kwargs.get("home") == str(self.home):
            return
        self.scheduler.add_job(recheck.JOB_FUNC, trigger=trig, id=recheck.JOB_ID, replace_existing=True,
                               kwargs={"home": str(self.home), "at": at}, name="复查 re-check (daily)")

    def jobs(self) -> list[Any]:
        return list(self.scheduler.get_jobs()) if self.scheduler is not None else []

    def _on_missed(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES

        pj = self.planned.get(event.job_id)
        when = event.scheduled_run_time
        if event.code == EVENT_JOB_MAX_INSTANCES:
            logger.warning("job %s due at %s skipped: its previous sweep is still running", event.job_id, when)
            return
        logger.warning("job %s missed its run at %s (more than %ss late)", event.job_id, when, self.misfire_grace)
        if pj is None:
            return
        stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        now = utc_now("milliseconds")
        run = SweepRun(f"{pj.site}-{pj.festival}-{pj.kind}-missed-{stamp}", pj.site, pj.kind, pj.campaign,
                       pj.festival, pj.job_id, started_at=now, finished_at=now, status="skipped",
                       message=f"错过运行时间 {when.isoformat()}（调度器停机超过 {self.misfire_grace} 秒）")
        self.runner._record(run)

    def stop(self) -> None:
        """Graceful stop: no new sweeps, running ones interrupted, the job store left as it is."""
        if self.scheduler is None:
            return
        logger.info("stopping: no new sweeps; running sweeps are asked to stop")
        self.scheduler.pause()
        self.runner.stop()
        self.scheduler.shutdown(wait=True)
        self.scheduler = None
        set_runner(None)


def read_jobs(home: Path | None = None) -> dict[str, Any] | None:
    """The jobs in the job store (id -> Job) without running anything; None if there is no job store."""
    path = jobstore_path(home)
    if not path.exists():
        return None
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{path}")},
                                timezone=DEFAULT_TZ)
    sched.start(paused=True)
    try:
        return {job.id: job for job in sched.get_jobs()}
    finally:
        sched.shutdown(wait=False)


class AlreadyRunning(RuntimeError):
    """Another scheduler holds ``<NETSWORD_HOME>/scheduler.lock``."""


def running_scheduler(home: Path | None = None) -> int | None:
    """The pid of the scheduler running for ``home`` (None if none holds its lock)."""
    path = (home or data_home()) / "scheduler.lock"
    if not path.exists():
        return None
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def _instance_lock(home: Path) -> Any:
    home.mkdir(parents=True, exist_ok=True)
    fh = open(home / "scheduler.lock", "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        other = fh.read().strip()
        fh.close()
        raise AlreadyRunning(f"另一个调度器正在运行（pid {other or '?'}，{home / 'scheduler.lock'}）") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def serve(campaign_paths: list[str] | None = None, *, home: Path | None = None,
          misfire_grace: int = MISFIRE_GRACE, stop_grace: float = 30.0) -> int:
    """Run the scheduler in the foreground until SIGTERM or SIGINT; SIGHUP reloads the campaigns."""
    home = home or data_home()
    campaigns = load_campaigns(campaign_paths)
    lock = _instance_lock(home)
    stop, reload = threading.Event(), threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: reload.set())
    runner = SweepRunner(home, lock_wait=misfire_grace, stop_grace=stop_grace)
    sched = CampaignScheduler(campaigns, home=home, misfire_grace=misfire_grace, runner=runner)
    try:
        report = sched.start()
        logger.info("scheduler running (pid %d, %d campaign(s), %s); job store %s", os.getpid(), len(campaigns),
                    report, jobstore_path(home))
        for job in sorted(sched.jobs(), key=lambda j: (j.next_run_time is None, j.next_run_time or 0)):
            logger.info("  next %s  %s", job.next_run_time.isoformat() if job.next_run_time else "—", job.id)
        while not stop.wait(0.5):
            if reload.is_set():
                reload.clear()
                try:
                    logger.info("SIGHUP: campaigns reloaded, %s", sched.sync(load_campaigns(campaign_paths)))
                except Exception as exc:  # a broken file keeps the current plan
                    logger.error("campaigns not reloaded: %s", exc)
    finally:
        sched.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.close()
    logger.info("scheduler stopped")
    return 0


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m scheduler", description="Run the netsword campaign scheduler.")
    ap.add_argument("--campaign", action="append", help="campaign file or folder (default: campaigns/)")
    args = ap.parse_args(argv)
    setup_logging()
    return serve(args.campaign)


if __name__ == "__main__":
    sys.exit(main())
