"""One sweep per site at a time, across processes: an ``flock`` on ``<NETSWORD_HOME>/locks/<site>.lock``.

The scheduler (:class:`scheduling.runs.SweepRunner`) waits for the lock before it starts a sweep;
``netsword crawl`` takes it without waiting and fails with a clear message when another sweep of the
site holds it (a second sweep would otherwise delete the first one's job folder). The scheduler's
child crawl gets ``NETSWORD_SITE_LOCK_HELD=<site>`` (its parent holds the lock for it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

#: Set by a process that holds the site's lock for the crawl it starts (the scheduler).
HELD_BY_PARENT = "NETSWORD_SITE_LOCK_HELD"


def lock_path(home: Path, site: str) -> Path:
    return Path(home) / "locks" / f"{site}.lock"


@contextlib.contextmanager
def site_lock(home: Path, site: str, wait: float = 0.0, stopping: threading.Event | None = None) -> Iterator[bool]:
    """Hold the site's lock (True), or give up after ``wait`` seconds or when ``stopping`` is set (False)."""
    if os.environ.get(HELD_BY_PARENT) == site:
        yield True
        return
    path = lock_path(home, site)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with open(path, "a+") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if (stopping is not None and stopping.is_set()) or time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.5)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
