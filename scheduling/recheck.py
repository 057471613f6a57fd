"""The scheduler's daily re-check (复查): ``netsword recheck`` in a child process, once a day.

At ``recheck_at`` (config, default 09:30 in the campaigns' time zone; ``off`` for none) the
scheduler runs ``netsword recheck``: the listings of confirmed and referred leads fetched again
(:mod:`crawler.recheck`). The job is the scheduler's own, not a campaign's: it stays when the
campaign files change. Its output goes to ``<home>/logs/recheck-<UTC time>.log``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netsword import config as netsword_config

logger = logging.getLogger("netsword.scheduler")

JOB_ID = "recheck:daily"
JOB_FUNC = "scheduling.recheck:scheduled_recheck"
TIMEOUT = 6 * 3600


def trigger(at: str, tz: Any) -> Any:
    """The daily cron trigger at ``at`` (HH:MM); None when ``at`` is ``off`` or empty."""
    from apscheduler.triggers.cron import CronTrigger

    if not at or at.strip().lower() == "off":
        return None
    hour, _, minute = at.strip().partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"recheck_at 应为 HH:MM 或 off / recheck_at is HH:MM or off, got {at!r}")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=tz)


def scheduled_recheck(home: str | None = None, at: str = "") -> int:
    """What the job runs: ``netsword recheck`` for ``home`` (default this process's); its exit status."""
    home_path = Path(home) if home else netsword_config.data_home()
    logs = home_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"recheck-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.log"
    env = {**os.environ, "NETSWORD_HOME": str(home_path)}
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.run([sys.executable, "-m", "cli", "recheck"], cwd=netsword_config.ROOT, env=env,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            logger.error("re-check timed out after %s s (log %s)", TIMEOUT, log_path)
            return -1
    level = logging.INFO if proc.returncode == 0 else logging.ERROR
    logger.log(level, "re-check finished with exit status %s (log %s)", proc.returncode, log_path)
    return proc.returncode
