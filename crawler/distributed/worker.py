"""``netsword worker``: a process that takes requests of distributed sweeps from Redis.

A worker waits for a running sweep (:func:`crawler.distributed.sweeps.next_sweep`), crawls it
with the generic spider through the whole pipeline into the configured store, and goes on with
the next; ``--once`` (tests, batch jobs) leaves when no sweep is running. Any number of workers,
on any machine that reaches Redis and the store, can work on one sweep.

:class:`WorkerExtension` is the worker's side of the sweep: every ``NETSWORD_REDIS_HEARTBEAT``
seconds it renews the leases it holds, writes its heartbeat (time, host, pid, pages/s, stats)
into ``netsword:sweep:<id>:workers``, and leaves the sweep when it was stopped. A page's lease is
given back when its item has been through the pipeline (item signals). When the queue and the
leases are both empty the sweep is done: the first worker to see that marks it finished and
writes the sweep's end (with every worker's counts) into the store. Warnings and worker events go
to the sweep's log in Redis (``netsword runs log``).

Each worker writes its own evidence part (``<sweep>.<worker>``: manifest, WARC), so no two
processes append to one hash chain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import SETTINGS_PRIORITIES

from crawler.distributed.keys import SweepKeys
from crawler.distributed.queue import LEASE
from crawler.distributed.scheduler import ack, lease_queue
from crawler.fillrate import fill_stats, sum_fill
from crawler.spiders.listing import ListingSpider

logger = logging.getLogger(__name__)

#: the counters a heartbeat carries (summed over workers for the sweep's totals)
BEAT_STATS = ("response_received_count", "netsword/pages/ok", "netsword/pages/failed", "netsword/pages/retried",
              "netsword/pages/unchanged", "netsword/pages/skipped", "netsword/pages/unparseable",
              "netsword/browser/pages", "netsword/listings", "netsword/shops", "netsword/findings",
              "netsword/sweep/listings", "netsword/sweep/shops", "netsword/sweep/findings", "log_count/ERROR",
              "log_count/WARNING", "item_scraped_count", "netsword/store/spooled")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


class WorkerSpider(ListingSpider):
    """The generic spider as a worker: its requests come from the sweep's queue, not from start()."""

    distributed = True

    def __init__(self, *args: Any, worker_id: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker_id = worker_id or default_worker_id()
        self.evidence_part = f"{self.sweep_id}.{_safe(self.worker_id)}"

    async def start(self):  # type: ignore[override]
        return
        yield  # an async generator that yields nothing


class RedisLogHandler(logging.Handler):
    """Warnings (and the worker's own events) into the sweep's log list in Redis, newest first."""

    def __init__(self, server: Any, key: str, worker_id: str, keep: int = 500) -> None:
        super().__init__(logging.INFO)
        self.server, self.key, self.worker_id, self.keep = server, key, worker_id, keep

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "py.warnings" or (record.levelno < logging.WARNING
                                             and not record.name.startswith("crawler.distributed")):
            return
        try:
            when = time.strftime("%H:%M:%S", time.gmtime(record.created))
            line = f"{when}Z {self.worker_id} {record.levelname} {record.getMessage()}"[:2000]
            pipe = self.server.pipeline(transaction=False)
            pipe.lpush(self.key, line)
            pipe.ltrim(self.key, 0, self.keep - 1)
            pipe.execute()
        except Exception:  # the log must never stop the crawl
            self.handleError(record)


class WorkerExtension:
    def __init__(self, crawler: Any, server: Any, sweep_id: str, interval: float) -> None:
        self.crawler, self.server, self.keys, self.interval = crawler, server, SweepKeys(sweep_id), interval
        self.sweep_id = sweep_id
        self._loop: Any = None
        self._nudge: Any = None
        self._log: RedisLogHandler | None = None
        self._last = (time.monotonic(), 0)
        self.rate = 0.0
        self.started = time.time()
        self.leaving = ""

    @classmethod
    def from_crawler(cls, crawler: Any) -> WorkerExtension:
        s = crawler.settings
        if not s.get("NETSWORD_REDIS_SWEEP"):
            raise NotConfigured("not a distributed sweep")
        from scrapy_redis.connection import get_redis_from_settings

        ext = cls(crawler, get_redis_from_settings(s), s.get("NETSWORD_REDIS_SWEEP"),
                  s.getfloat("NETSWORD_REDIS_HEARTBEAT", 2.0))
        for handler, signal in ((ext.spider_opened, signals.spider_opened), (ext.spider_idle, signals.spider_idle),
                                (ext.spider_closed, signals.spider_closed), (ext.item_done, signals.item_scraped),
                                (ext.item_done, signals.item_dropped), (ext.item_failed, signals.item_error)):
            crawler.signals.connect(handler, signal=signal)
        return ext

    @property
    def worker_id(self) -> str:
        return getattr(self.crawler.spider, "worker_id", "") or default_worker_id()

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        self._log = RedisLogHandler(self.server, self.keys.log, self.worker_id)
        logging.getLogger().addHandler(self._log)
        logger.info("worker %s joined sweep %s", self.worker_id, self.sweep_id)
        self._loop = task.LoopingCall(self.beat)
        self._loop.start(self.interval, now=True)
        self._nudge = task.LoopingCall(self.nudge)
        self._nudge.start(0.25, now=False)

    def item_done(self, item: Any, response: Any = None, spider: Any = None, **kwargs: Any) -> None:
        if response is not None:
            ack(self.crawler, response.request)

    def item_failed(self, item: Any, response: Any = None, spider: Any = None, failure: Any = None,
                    **kwargs: Any) -> None:
        """A pipeline stage raised (the store refused a write, say): the page is not done. Its lease is let
        go to run out, so that a worker fetches it again; after a few tries it is given up, said in the log."""
        queue = lease_queue(self.crawler)
        lease = response.request.meta.pop(LEASE, None) if response is not None else None
        if queue is None or lease is None:
            return
        if queue.fail(lease):
            logger.warning("page %s failed in the pipeline; it will be fetched again", response.url)
        else:
            logger.error("page %s failed in the pipeline %d times: given up", response.url, queue.max_failures)
            self.crawler.stats.inc_value("netsword/lease/given_up")

    def beat(self, ended: bool = False) -> None:
        try:
            self._beat(ended)
        except Exception as exc:  # Redis away for a moment: the next beat tries again
            logger.warning("heartbeat of worker %s failed: %s", self.worker_id, exc)

    def ack_committed(self) -> None:
        """Commit the store's open batch, then give back the leases of the pages done before it."""
        queue = lease_queue(self.crawler)
        if queue is None or not queue.done:
            return
        scraper = getattr(self.crawler.engine, "scraper", None)
        for pipe in getattr(getattr(scraper, "itemproc", None), "middlewares", ()):
            store = getattr(pipe, "store", None)
            if store is not None and hasattr(store, "flush"):
                store.flush()  # raises while the store is down: the leases stay held (and renewed)
        queue.ack_done()

    def _beat(self, ended: bool) -> None:
        queue = lease_queue(self.crawler)
        if queue is not None and not ended:
            self.ack_committed()
            queue.renew()
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        pages = int(stats.get("response_received_count", 0))
        now = time.monotonic()
        t0, p0 = self._last
        if now - t0 >= 1.0:
            self.rate, self._last = (pages - p0) / (now - t0), (now, pages)
        beat = {"time": time.time(), "host": socket.gethostname(), "pid": os.getpid(), "started": self.started,
                "rate": round(self.rate, 2), "ended": ended, "left": self.leaving,
                "held": len(queue.held) if queue is not None else 0,
                "reclaimed": queue.reclaimed if queue is not None else 0,  # leases of dead workers it gave back
                "stats": {**{k: stats[k] for k in BEAT_STATS if k in stats}, **fill_stats(stats)}}
        self.server.hset(self.keys.workers, self.worker_id, json.dumps(beat))
        if ended:
            return
        from crawler.distributed.sweeps import state

        current = state(self.server, self.sweep_id)
        if current != "running" and not self.leaving:
            self.leaving = current or "gone"
            logger.info("worker %s leaves sweep %s: it is %s", self.worker_id, self.sweep_id, self.leaving)
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(self.crawler.engine.close_spider_async(reason=f"sweep {self.leaving}"))

    def nudge(self) -> None:
        """Work arrived while this worker was idle: ask the engine for it now, not at its next 5 s tick."""
        slot = getattr(self.crawler.engine, "_slot", None)
        queue = lease_queue(self.crawler)
        try:
            if queue is not None and slot is not None and not self.leaving and len(queue):
                slot.nextcall.schedule()
        except Exception as exc:  # Redis away for a moment
            logger.debug("nudge failed: %s", exc)

    def spider_idle(self, spider: Any) -> None:
        from crawler.distributed.sweeps import state

        if self.leaving or state(self.server, self.sweep_id) != "running":
            return
        self.ack_committed()
        queue = lease_queue(self.crawler)
        if queue is not None:
            queue.flush_admits()  # links waiting in this worker are work of the sweep
        pipe = self.server.pipeline(transaction=True)
        pipe.zcard(self.keys.queue)
        pipe.zcard(self.keys.leases)
        queued, leased = pipe.execute()
        if queued or leased:
            raise DontCloseSpider
        if self.server.hsetnx(self.keys.info, "finished_by", self.worker_id):
            self.server.hset(self.keys.info, mapping={"state": "finished", "finished_at": time.time()})
            self._beat(ended=False)
            self._finish_in_store(spider)
            logger.info("sweep %s finished (worker %s saw its queue empty)", self.sweep_id, self.worker_id)
        self.leaving = "finished"

    def _finish_in_store(self, spider: Any) -> None:
        from crawler.distributed.sweeps import status
        from netsword.clock import utc_now
        from pipelines.store import open_store

        st = status(self.server, self.sweep_id, beat_timeout=float("inf"))
        totals: dict[str, Any] = {k: st.total(k) for k in BEAT_STATS}
        totals.update({"finish_reason": "finished", "workers": len(st.workers), "distributed": True})
        totals.update(sum_fill(w.get("stats") or {} for w in st.workers))  # fill rates (crawler.fillrate)
        store = open_store(self.crawler.settings.get("STORE_URL"))
        try:
            profile = getattr(spider, "profile", None)
            if profile is not None and any(profile.has_subpages(k) for k in ("shop", "listing")):
                from crawler.subpages import assemble_sweep, ruleset_of, sweep_tokens

                # every worker's pages are in: subjects with sub-pages are merged and matched (crawler.subpages)
                assemble_sweep(store, self.sweep_id, ruleset_of(self.crawler),
                               tokens=sweep_tokens(self.crawler.settings))
            # a page fetched twice (its lease expired under a slow fetch) is stored once: subjects come from the
            # store's own counts of the sweep, not from the workers' summed counters
            counted = store.counts(self.sweep_id)
            totals.update({"netsword/listings": counted["listings"], "netsword/shops": counted["shops"]})
            store.finish_sweep(self.sweep_id, utc_now(), totals)
        finally:
            store.close()

    def spider_closed(self, spider: Any, reason: str = "") -> None:
        for loop in (self._loop, self._nudge):
            if loop is not None and loop.running:
                loop.stop()
        queue = lease_queue(self.crawler)
        if queue is not None:  # the pipelines are closed: the store committed (or spooled) everything
            queue.ack_done()
        self.beat(ended=True)
        from crawler.distributed.sweeps import state

        if self.leaving == "finished" and state(self.server, self.sweep_id) == "finished":
            try:  # each worker that leaves a finished sweep writes the totals again: the last one's are complete
                self._finish_in_store(spider)
            except Exception as exc:  # the sweep's pages are stored; only its summary line is behind
                logger.warning("could not write the totals of sweep %s: %s", self.sweep_id, exc)
        logger.info("worker %s left sweep %s (%s)", self.worker_id, self.sweep_id, reason)
        if self._log is not None:
            logging.getLogger().removeHandler(self._log)
            self._log = None


def worker_settings(base: Any, sweep_id: str, redis_url: str) -> Any:
    """Project settings for a worker of ``sweep_id``: scrapy-redis wired to the sweep's keys."""
    keys = SweepKeys(sweep_id)
    settings = base.copy()
    dupefilter = {"bloom": "crawler.distributed.dupefilter.BloomDupeFilter",
                  "set": "scrapy_redis.dupefilter.RFPDupeFilter"}[base.get("NETSWORD_REDIS_DUPEFILTER", "bloom")]
    for name, value in (("SCHEDULER", "crawler.distributed.scheduler.LeaseScheduler"),
                        ("SCHEDULER_QUEUE_CLASS", "crawler.distributed.queue.LeasedPriorityQueue"),
                        ("SCHEDULER_QUEUE_KEY", keys.queue), ("SCHEDULER_DUPEFILTER_KEY", keys.seen),
                        ("DUPEFILTER_CLASS", dupefilter), ("SCHEDULER_PERSIST", True), ("REDIS_URL", redis_url),
                        ("NETSWORD_REDIS_SWEEP", sweep_id), ("JOBDIR", None)):
        settings.set(name, value, priority="cmdline")
    from pipelines.store.pipeline import writer_mode

    sqlite = writer_mode("auto", settings.get("STORE_URL")) == "process"
    if sqlite:
        # workers on one machine share one SQLite file: a 500-write batch would hold its write lock ~1 s while the
        # other workers' crawls wait in BEGIN (two workers: 0.95x one); a commit per hand-over to the writer thread
        # holds it for the few ms the writes take, and an item that left the store stage is committed (its page's
        # lease may go back). A search engine keeps its bulk batches (the heartbeat flushes them before the acks).
        settings.set("STORE_COMMIT_EACH_BATCH", True, priority="cmdline")
    # a worker is one core's worth of crawling (run one per core): its store and evidence writes stay in its own
    # process, on threads (a sidecar process each, as the embedded crawl has, would make two workers on two cores
    # compete for the same cores; a thread waits for the shared SQLite file's lock without stopping the crawl; a
    # search engine's writes stay inline, as in the embedded crawl); a `-s STORE_WRITER=process` on the command
    # line still wins (set at cmdline priority: settings of project priority are applied again after this)
    for name, value in (("STORE_WRITER", "thread" if sqlite else "inline"), ("EVIDENCE_WRITER", "thread")):
        if (settings.getpriority(name) or 0) < SETTINGS_PRIORITIES["cmdline"]:
            settings.set(name, value, priority="cmdline")
    dl = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
    dl.update({"crawler.distributed.scheduler.LeaseAckMiddleware": 10,
               "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
               "crawler.distributed.robots.SharedRobotsTxtMiddleware": 100,
               "crawler.distributed.limiter.ClusterLimiter": 940})
    settings.set("DOWNLOADER_MIDDLEWARES", dl, priority="cmdline")
    sp = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    sp["crawler.distributed.scheduler.LeaseSpiderMiddleware"] = 10
    sp["crawler.frontier.FrontierMiddleware"] = None  # the frontier is the sweep's queue in Redis
    settings.set("SPIDER_MIDDLEWARES", sp, priority="cmdline")
    ext = dict(settings.getdict("EXTENSIONS"))
    ext["crawler.distributed.worker.WorkerExtension"] = 600
    settings.set("EXTENSIONS", ext, priority="cmdline")
    return settings


def run_worker(redis_url: str | None = None, *, worker_id: str | None = None, once: bool = False,
               sweep: str | None = None, store_url: str | None = None, evidence_dir: str | None = None,
               extra_settings: dict[str, Any] | None = None, quiet: bool = True, poll: float = 2.0) -> int:
    """Take requests of running sweeps until stopped (``once``: until no sweep is running); returns
    how many sweeps this worker worked on."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.crawler import Crawler, CrawlerProcess
    from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
    from scrapy.utils.project import get_project_settings

    from crawler import runner
    from crawler.distributed.connection import connect
    from crawler.distributed.connection import redis_url as resolve_url
    from crawler.distributed.sweeps import next_sweep, state, status
    from netsword import config as netsword_config

    if str(netsword_config.ROOT) not in sys.path:
        sys.path.insert(0, str(netsword_config.ROOT))
    url = resolve_url(redis_url)
    server = connect(url)
    worker_id = worker_id or default_worker_id()
    ruleset = runner._check_rules(extra_settings or {})
    store_url = store_url or netsword_config.store_url()
    runner._quiet_transport()
    runner._ensure_sqlite_parent(store_url)
    base = get_project_settings()
    base.set("STORE_URL", store_url, priority="cmdline")
    base.set("EVIDENCE_DIR", evidence_dir or str(netsword_config.evidence_dir()), priority="cmdline")
    if quiet:
        base.set("LOG_LEVEL", "WARNING", priority="cmdline")
    for key, value in (extra_settings or {}).items():
        base.set(key, value, priority="cmdline")
    base.set("MATCH_RULESET", ruleset, priority="cmdline")
    Path(base.get("EVIDENCE_DIR")).mkdir(parents=True, exist_ok=True)
    from scrapy.utils.reactor import install_reactor

    install_reactor(base.get("TWISTED_REACTOR"))  # before anything imports twisted's default reactor
    process = CrawlerProcess(base)
    worked: list[str] = []

    async def loop() -> None:
        while True:
            sweep_id = sweep if sweep else next_sweep(server)
            if not sweep_id or state(server, sweep_id) != "running":
                if once or sweep:
                    return
                await asyncio.sleep(poll)
                continue
            info = status(server, sweep_id).info
            crawler = Crawler(WorkerSpider, worker_settings(base, sweep_id, url))
            worked.append(sweep_id)
            await maybe_deferred_to_future(process.crawl(
                crawler, site=info["site"], base_url=info.get("base_url") or None, sweep_id=sweep_id,
                search=json.loads(info.get("search") or "[]") or None, worker_id=worker_id))
            if sweep:
                return

    def start() -> None:
        from twisted.internet import reactor

        d = deferred_from_coro(loop())
        d.addErrback(lambda f: logger.error("worker %s stopped: %s", worker_id, f.getErrorMessage(), exc_info=(
            f.type, f.value, f.getTracebackObject())))
        d.addBoth(lambda _: reactor.stop())

    from twisted.internet import reactor

    reactor.callWhenRunning(start)
    process.start(stop_after_crawl=False)
    return len(worked)
