"""The evidence thread: file writes of a sweep's evidence, off the reactor, in the order asked.

:class:`~pipelines.evidence.EvidencePipeline` hands every write (HTML snapshots, screenshots,
WARC records, manifest lines) to one worker thread. One thread keeps them in order -- a page's
WARC records, asked for when it was downloaded, are on disk before its manifest line, asked for
when its item came -- and keeps the WARC writer and the manifest single-threaded. The reactor
thread goes on parsing meanwhile; gzip, hashing and file writes release the GIL, so the work
really runs beside it.

``run()`` waits for the result (an item waits for its files before it goes on to the store);
``submit()`` does not (a WARC record of a response; an error is logged). Either way the write
comes after every write asked for before it.

Hand-overs are batched: the writes asked for within ``delay`` seconds (10 ms) go to the thread
together, and their results come back to the reactor together. Waking a thread (and being woken
by it) costs the reactor more than a small write itself -- two wake-ups per page were about a
tenth of the reactor's time on a fast local site; now there are a few per ``delay``, whatever the
pages per second. An item waits at most ``delay`` longer for its evidence; other pages go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: a job: the function, its arguments, the reactor's future for its result (None: not waited for)
_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any] | None"]


class EvidenceIO:
    def __init__(self, name: str = "netsword-evidence", delay: float = 0.01) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.delay = delay
        self._jobs: list[_Job] = []  # asked for, not yet handed to the thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the evidence thread; its result (or its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ask((fn, args, future), loop)
        return await future

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """``fn(*args)`` on the evidence thread, not waited for; an exception is logged."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # called outside the reactor: hand it over now
            loop = None
        self._ask((fn, args, None), loop)

    def _ask(self, job: _Job, loop: asyncio.AbstractEventLoop | None) -> None:
        self._jobs.append(job)
        if loop is None:
            self.flush()
        elif self._timer is None:
            self._loop = loop
            self._timer = loop.call_later(self.delay, self.flush)

    def flush(self) -> None:
        """Hand the jobs asked for so far to the thread now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._jobs:
            jobs, self._jobs = self._jobs, []
            self._pool.submit(self._work, jobs, self._loop)

    def _work(self, jobs: list[_Job], loop: asyncio.AbstractEventLoop | None) -> None:
        """(evidence thread) The jobs in order; their results to the reactor in one call."""
        done: list[tuple[asyncio.Future[Any], bool, Any]] = []
        for fn, args, future in jobs:
            try:
                result, ok = fn(*args), True
            except Exception as exc:  # raised to whoever waits; logged when nobody does
                result, ok = exc, False
                if future is None:
                    logger.error("evidence write failed: %s", exc, exc_info=exc)
            if future is not None:
                done.append((future, ok, result))
        if done and loop is not None:
            with contextlib.suppress(RuntimeError):  # the reactor is gone (shut down): nobody waits any more
                loop.call_soon_threadsafe(_resolve, done)

    def shutdown(self) -> None:
        """Finish what was asked, then stop the thread (blocks until then)."""
        self.flush()
        self._pool.shutdown(wait=True)


def _resolve(done: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, result in done:
        if future.cancelled():
            continue
        if ok:
            future.set_result(result)
        else:
            future.set_exception(result)
