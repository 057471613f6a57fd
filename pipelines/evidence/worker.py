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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class EvidenceIO:
    def __init__(self, name: str = "netsword-evidence") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the evidence thread; its result (or its exception)."""
        return await asyncio.wrap_future(self._pool.submit(fn, *args))

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """``fn(*args)`` on the evidence thread, not waited for; an exception is logged."""
        self._pool.submit(fn, *args).add_done_callback(_log_failure)

    def shutdown(self) -> None:
        """Finish what was asked, then stop the thread (blocks until then)."""
        self._pool.shutdown(wait=True)


def _log_failure(future: Future[Any]) -> None:
    exc = future.exception()
    if exc is not None:
        logger.error("evidence write failed: %s", exc, exc_info=exc)
