"""Holding a site's downloader slot: what ``Retry-After`` and a wall need and Scrapy has no public call for.

Scrapy's downloader runs the downloader middlewares' ``process_request`` *before* a request joins its
slot's queue (``Downloader._enqueue_request``), so a middleware cannot stop requests that wait in the
queue already. Both helpers use the slot the way the downloader itself does for ``DOWNLOAD_DELAY``
(``Slot.latercall``: while it is pending the slot sends nothing; ``Downloader._latercall`` ends it),
written against Scrapy 2.13-2.19 (setup.cfg pins ``scrapy<3``); a downloader without them (another
version) makes both a no-op that says so once in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from twisted.python.failure import Failure

logger = logging.getLogger(__name__)
_warned: set[str] = set()


def _slot(crawler: Any, request: Any) -> tuple[Any, Any]:
    downloader = getattr(getattr(crawler, "engine", None), "downloader", None)
    slots = getattr(downloader, "slots", None)
    if downloader is None or slots is None or not hasattr(downloader, "_latercall"):
        if "slots" not in _warned:
            _warned.add("slots")
            logger.warning("no downloader slots to hold here: Retry-After and walls hold new requests only")
        return downloader, None
    return downloader, slots.get(downloader.get_slot_key(request))


def hold_slot(crawler: Any, request: Any, seconds: float) -> bool:
    """The request's site sends nothing for ``seconds`` (queued requests wait); False if it could not."""
    from scrapy.utils.asyncio import call_later

    downloader, slot = _slot(crawler, request)
    if slot is None or seconds <= 0:
        return False
    if slot.latercall is not None:
        slot.latercall.cancel()
    slot.latercall = call_later(seconds, downloader._latercall, slot)
    return True


def drain_slot(crawler: Any, request: Any, error: Callable[[Any], BaseException]) -> int:
    """Fail every request waiting in the request's slot with ``error(request)`` (they never reach the site);
    how many. The failures go through the downloader middlewares' ``process_exception`` as a download error."""
    _downloader, slot = _slot(crawler, request)
    if slot is None:
        return 0
    waiting = list(slot.queue)
    slot.queue.clear()
    for queued, dfd in waiting:
        dfd.errback(Failure(error(queued)))
    return len(waiting)
