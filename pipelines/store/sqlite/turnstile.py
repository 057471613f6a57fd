"""Who goes first at SQLite's write lock: people (the console) before batch writers (a sweep).

SQLite hands its write lock to whoever asks while it is free, and a waiting connection only
asks again every few tens of milliseconds. A batch writer that commits and begins its next
batch at once (a busy sweep) can so keep a waiting console out until its busy timeout. The
turnstile tells the batch writer that someone waits: a sidecar file next to the database,
``<db>-priority`` (empty; kept like ``-wal`` and ``-shm``), locked with flock(2):

* an interactive writer holds a shared lock on it from before its ``BEGIN IMMEDIATE`` until
  its ``COMMIT`` or ``ROLLBACK`` (several interactive writers hold it together);
* a batch writer probes it (a non-blocking exclusive lock, released at once): while someone
  holds it, the batch writer commits its open batch (the store's commit timer probes every
  ``TIMER_STEP``) and waits before it begins the next one (at most its busy timeout).

flock(2) locks belong to the open file, so two stores of one process see each other like two
processes do, and the kernel drops the lock of a process that dies. Where there is no flock
(Windows), or the sidecar cannot be opened (a read-only folder), there is no turnstile and
writers simply queue at SQLite's lock as before.
"""

from __future__ import annotations

import logging
import os
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no turnstile
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: how often a batch writer that gives way looks whether the interactive writers are done
GIVE_WAY_STEP = 0.005


class Turnstile:
    """The priority lock file of one database, opened once per store."""

    def __init__(self, fd: int, path: str) -> None:
        self._fd: int | None = fd
        self.path = path
        self._held = False

    @classmethod
    def open(cls, db_path: str) -> Turnstile | None:
        """The turnstile of ``db_path``; None where flock or the sidecar file is not available."""
        if fcntl is None:
            return None
        path = db_path + "-priority"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)  # flock needs no write access
        except OSError as exc:
            log.debug("no write priority for %s: %s", db_path, exc)
            return None
        return cls(fd, path)

    # ----------------------------------------------------------------- interactive writers

    def hold(self) -> None:
        """Say "a person waits to write" (before BEGIN IMMEDIATE); idempotent."""
        if self._fd is not None and not self._held:
            fcntl.flock(self._fd, fcntl.LOCK_SH)  # blocks only for a batch writer's probe (microseconds)
            self._held = True

    def release(self) -> None:
        """After COMMIT or ROLLBACK."""
        if self._fd is not None and self._held:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._held = False

    # ----------------------------------------------------------------- batch writers

    def someone_waiting(self) -> bool:
        """True while an interactive writer (of any process) holds the turnstile."""
        if self._fd is None:
            return False
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        return False

    def give_way(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until no interactive writer waits or writes."""
        deadline = time.monotonic() + timeout
        while self.someone_waiting() and time.monotonic() < deadline:
            time.sleep(GIVE_WAY_STEP)

    def close(self) -> None:
        if self._fd is not None:
            self.release()
            os.close(self._fd)
            self._fd = None
