"""scrapy-redis's scheduler, with leases handed on and given back (see :mod:`.queue`).

Wiring (set by :func:`crawler.distributed.worker.worker_settings`): ``SCHEDULER`` is this class,
``SCHEDULER_QUEUE_CLASS`` the leased queue, ``DUPEFILTER_CLASS`` the Bloom filter, the keys those
of the sweep (:class:`~crawler.distributed.keys.SweepKeys`), ``SCHEDULER_PERSIST`` on (the frontier
outlives every worker). :class:`LeaseAckMiddleware` (downloader) and :class:`LeaseSpiderMiddleware`
give leases back when a page is done.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Request
from scrapy_redis.scheduler import Scheduler

from crawler.distributed.dupefilter import marks
from crawler.distributed.queue import LEASE

logger = logging.getLogger(__name__)


def lease_queue(crawler: Any) -> Any:
    """The leased queue of the crawler's sweep, or None (not a distributed crawl)."""
    spider = getattr(crawler, "spider", None)
    return getattr(spider, "netsword_lease_queue", None)


def ack(crawler: Any, request: Any, stats_key: str = "") -> None:
    """The request's page is done: its lease goes back once the store has committed what it wrote
    (:meth:`crawler.distributed.worker.WorkerExtension.ack_committed`)."""
    queue = lease_queue(crawler)
    lease = request.meta.pop(LEASE, None) if request is not None else None
    if queue is not None and lease is not None:
        queue.defer_ack(lease)
        if stats_key and crawler.stats is not None:
            crawler.stats.inc_value(stats_key)


class LeaseScheduler(Scheduler):
    """scrapy-redis's scheduler with leased pops and atomic admission (see the module docstring), and a local
    memory of the links this worker has put through the sweep's filter: a link every page repeats (a shop, a
    category, the next list page) is checked in Redis once per worker, not once per page that links to it
    (each check is a round trip that stops the worker's reactor). A link once admitted is in the sweep's filter
    for good, so remembering it here changes no decision. Setting: ``NETSWORD_REDIS_KNOWN_LINKS`` (how many
    links a worker remembers; the memory starts over when full). Stats: ``netsword/frontier/known``."""

    known: set[int]
    known_limit = 0

    def open(self, spider: Any) -> None:
        super().open(spider)
        spider.netsword_lease_queue = self.queue
        self.queue.on_admitted = self._admitted
        self.known = set()
        settings = getattr(spider, "settings", None)
        self.known_limit = settings.getint("NETSWORD_REDIS_KNOWN_LINKS", 500_000) if settings is not None else 0

    def close(self, reason: str) -> None:
        """The links waiting in this worker go to the sweep's queue, and the requests leased ahead and never
        started go back to it at once, for the other workers (not after their leases ran out)."""
        try:
            self.queue.flush_admits()
            self.queue.give_back_unstarted()
        except Exception as exc:  # Redis away: the pages that gave those links and the requests leased ahead
            # are still leased: their leases run out and another worker fetches them again
            logger.warning("could not hand the sweep's queue what this worker holds: %s", exc)
        super().close(reason)

    def _admitted(self, done: list[tuple[Any, bool]]) -> None:
        """What a flush of the waiting links found: the duplicates are logged as scrapy-redis logs them."""
        queued = 0
        for request, ok in done:
            if ok:
                queued += 1
            else:
                self.df.log(request, self.spider)
        if queued and self.stats:
            self.stats.inc_value("scheduler/enqueued/redis", queued)

    def enqueue_request(self, request: Any) -> bool:
        """Seen-check and queueing in one atomic step (:meth:`LeasedPriorityQueue.admit`): a worker killed
        between marking a link seen and queueing it would lose that page for the whole sweep."""
        if request.dont_filter:
            self.queue.push(request)
            queued = True
        else:
            fingerprint = self.df.request_fingerprint(request)
            key = int(fingerprint[:16], 16)  # 64 bits of the fingerprint: a small int, not a 40-character string
            leased = LEASE in request.meta  # a redirect or retry hands its lease on: always through Redis
            if key in self.known and not leased:
                if self.stats:
                    self.stats.inc_value("netsword/frontier/known")
                return False
            if self.known_limit > 0:
                if len(self.known) >= self.known_limit:
                    self.known.clear()
                self.known.add(key)
            mark = marks(self.df, request, fingerprint)
            if not leased:
                # a new link waits in the worker for the next flush (LeasedPriorityQueue.admit_later), which
                # logs the duplicates and counts the queued; until then Scrapy takes it as scheduled
                self.queue.admit_later(request, self.df.key, *mark)
                return True
            queued = self.queue.admit(request, self.df.key, *mark)
            if not queued:  # e.g. a redirect to a page seen before: its lease went with the check
                self.df.log(request, self.spider)
        if queued and self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return queued


class LeaseAckMiddleware:
    """Downloader middleware (outermost): a request that failed for good gives its lease back."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseAckMiddleware:
        return cls(crawler)

    def process_exception(self, request: Any, exception: BaseException, spider: Any = None) -> None:
        ack(self.crawler, request, "netsword/lease/acked_failed")


class LeaseSpiderMiddleware:
    """Spider middleware (outermost): a page is done when its item left the pipeline (the item
    signals, :class:`crawler.distributed.worker.WorkerExtension`), or -- a page with no item -- when
    its links are queued."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseSpiderMiddleware:
        return cls(crawler)

    def process_spider_output(self, response: Any, result: Iterable[Any], spider: Any = None) -> Iterator[Any]:
        items = 0
        for obj in result:
            items += not isinstance(obj, Request)
            yield obj
        if not items:
            ack(self.crawler, response.request, "netsword/lease/acked_noitem")

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any],
                                          spider: Any = None) -> AsyncIterator[Any]:
        items = 0
        async for obj in result:
            items += not isinstance(obj, Request)
            yield obj
        if not items:
            ack(self.crawler, response.request, "netsword/lease/acked_noitem")

    def process_spider_exception(self, response: Any, exception: BaseException, spider: Any = None) -> None:
        ack(self.crawler, response.request, "netsword/lease/acked_failed")
