"""The store stage, the last ``ITEM_PIPELINES`` entry: everything that reached here goes into the Store.

:class:`StorePipeline` writes listings, shops, their findings and snapshot records; it opens the
sweep record once, with how the sweep was crawled (robots obeyed, incremental, resumed,
politeness settings, search terms), and closes it with the crawl's stats. It also keeps the
incremental crawl's memory (:class:`~pipelines.store.base.PageState` per URL, written after the
page's item, so a crash never leaves a state whose item is lost) and records pages that did
not change since the last sweep (:class:`~crawler.items.UnchangedPage`).

Outages: the store takes every write (an engine that cannot reach its server spools it, see
``elastic/engine.py``), so nothing here waits on the store or raises for it. Each page state is
also kept in the job folder (:class:`~pipelines.store.pagecache.LocalPageStates`), for the
incremental middleware while the store cannot be read. A listing matched without its price
history (``HISTORY_UNKNOWN``, the store was unreadable) resolves none of its findings: that is
done when ``pipelines.history`` matches it again.

Settings: ``STORE_URL``, ``JOBDIR``, ``STORE_WRITER`` (``process``: the writes in a process of their own, off
the reactor, :mod:`pipelines.store.writer`; ``thread``; ``inline``: on the reactor; ``auto``, the default:
:func:`writer_mode`), ``STORE_SQLITE_BATCH_SIZE``
(writes per commit of a SQLite store: its open batch holds the file's write lock, so distributed workers sharing
one file commit each write at once); the sweep record also reads ``NETSWORD_INCREMENTAL``,
``NETSWORD_RESUME``, ``AUTOTHROTTLE_ENABLED``, ``CONCURRENT_REQUESTS_PER_DOMAIN``,
``DOWNLOAD_DELAY`` and ``ROBOTSTXT_OBEY``. Stats: ``netsword/listings``, ``netsword/shops``,
``netsword/findings``, ``netsword/unchanged``, ``netsword/unchanged_unknown``,
``netsword/store/spooled`` (writes that went to a local spool, not the store).
"""

from __future__ import annotations

import logging
from typing import Any

from crawler.items import ListingItem, PageItem, ShopItem, UnchangedPage
from netsword.clock import utc_now
from netsword.sidecar import OffReactor

from . import open_store
from .base import HISTORY_UNKNOWN, PageState
from .pagecache import LocalPageStates
from .writer import StoreWriter, StoreWriterConfig

logger = logging.getLogger(__name__)

#: Signal sent (``store``, ``spider``) when the store stage is about to close a one-process sweep's record: every
#: page is stored. ``crawler.subpages`` assembles the subjects with sub-pages then, with this stage's store.
sweep_ending = object()


def writer_mode(setting: str, url: str) -> str:
    """Where the store stage's writes run (``STORE_WRITER``): ``auto`` is ``process`` for a SQLite store (the
    embedded default: its SQL and bookkeeping off the reactor) and ``inline`` for a search engine (its writes are
    buffered bulk requests already; its outage handling -- spool, replay -- stays in the crawl's process)."""
    if setting != "auto":
        return setting
    return "inline" if "://" in str(url) and not str(url).lower().startswith("sqlite://") else "process"


class StorePipeline:
    """Writes subjects, findings, snapshots and page states; opens and closes the sweep record.

    The writes themselves are a :class:`~pipelines.store.writer.StoreWriter`'s: here, on the reactor
    (``writer="inline"``: a pipeline built directly, as tests and tools do), or -- what ``from_crawler`` builds
    with ``STORE_WRITER = "process"``, the default for SQLite stores -- in a process of its own
    (:class:`OffReactorStorePipeline`).
    """

    def __init__(self, url: str, stats: Any = None, sweep_settings: dict[str, Any] | None = None,
                 crawler: Any = None, job_dir: str | None = None, sqlite_batch_size: int = 0,
                 writer: str = "inline", commit_each_batch: bool = False) -> None:
        self.url, self.stats = url, stats
        self.sqlite_batch_size = sqlite_batch_size  # 0: the SQLite store's own default
        self.commit_each_batch = commit_each_batch  # commit each item's writes (inline) or each hand-over (else)
        self.sweep_settings = dict(sweep_settings or {})
        self.crawler = crawler
        self.writer_mode = writer
        self.store: Any = None
        self.writer: StoreWriter | None = None
        self.local = LocalPageStates(job_dir, url) if job_dir else None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        s = crawler.settings
        sweep_settings = {"robots_obeyed": s.getbool("ROBOTSTXT_OBEY"),
                          "incremental": s.getbool("NETSWORD_INCREMENTAL", True),
                          "resumed": s.getbool("NETSWORD_RESUME", False),
                          "autothrottle": s.getbool("AUTOTHROTTLE_ENABLED"),
                          "concurrency_per_domain": s.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
                          "download_delay": s.getfloat("DOWNLOAD_DELAY")}
        mode = writer_mode(s.get("STORE_WRITER") or "auto", s.get("STORE_URL"))
        kind = cls if mode == "inline" or cls is not StorePipeline else OffReactorStorePipeline
        return kind(s.get("STORE_URL"), crawler.stats, sweep_settings, crawler, s.get("JOBDIR") or None,
                    s.getint("STORE_SQLITE_BATCH_SIZE", 0), writer=mode,
                    commit_each_batch=s.getbool("STORE_COMMIT_EACH_BATCH"))

    def _spider(self, spider: Any) -> Any:
        # Scrapy 2.19 passes no spider to open_spider/close_spider that default it: use the crawler's
        return spider if spider is not None else getattr(self.crawler, "spider", None)

    def _config(self) -> StoreWriterConfig:
        return StoreWriterConfig(str(self.url), self.sqlite_batch_size, self.commit_each_batch)

    def _sweep_start(self, spider: Any) -> tuple[Any, ...] | None:
        """The sweep record's opening (start_sweep's arguments); None for a distributed sweep's worker: its
        record is written when it is seeded and when its last page is done (crawler.distributed)."""
        spider = self._spider(spider)
        if spider is None or getattr(spider, "distributed", False):
            return None
        settings = dict(self.sweep_settings)
        if getattr(spider, "search_terms", None):
            settings["search"] = spider.search_terms
        return spider.sweep_id, spider.site, utc_now(), settings

    def open_spider(self, spider: Any = None) -> None:
        self.writer = StoreWriter(self._config())
        self.store = self.writer.store
        start = self._sweep_start(spider)
        if start is not None:
            self.writer.start_sweep(*start)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        assert self.writer is not None
        for op, args in self._writes(item):
            self.writer.call(op, args)
        self.writer.end_batch()
        self._add_counts(self.writer.take_counts())
        return item

    def _writes(self, item: Any) -> list[tuple[str, tuple[Any, ...]]]:
        """The store writes an item makes, in order (stats counted and the job folder's page state kept here)."""
        calls: list[tuple[str, tuple[Any, ...]]] = []
        if isinstance(item, UnchangedPage):
            state = None
            if item.html_sha256:  # the stored state the page matched (the spider copied it): seen again now.
                # Built from the item, not read back: a read commits the store's open batch, once per page.
                state = PageState(
                    url=item.url, sha256=item.html_sha256, path=item.html_path, etag=item.etag,
                    last_modified=item.last_modified, fetched_at=item.fetched_at, sweep_id=item.sweep_id,
                    page_type=item.page_type, subject_kind=item.subject_kind, subject_id=item.subject_id)
                if self.local is not None:
                    self.local.put(state)
            calls.append(("unchanged", (item, state)))
            self._inc("netsword/unchanged")
            if item.subject_kind:
                self._inc(f"netsword/{item.subject_kind}s")
            return calls
        if isinstance(item, ListingItem | ShopItem) and item.part:
            # one page of a subject with sub-pages: kept as its part; the subject is saved when assembled
            if item.html_sha256:
                calls.append(("record_snapshot", (item.html_sha256, item.url, item.html_path, item.fetched_at,
                                                  item.status, item.sweep_id, item.rendered)))
            if item.status < 400:
                calls.append(("put_part", (item,)))
                self._inc("netsword/parts")
        elif isinstance(item, ListingItem | ShopItem):
            # subject + snapshot record + findings; findings the page no longer shows are resolved (not while
            # the listing's price history is unknown: findings over history could not fire)
            calls.append(("save", (item, HISTORY_UNKNOWN not in (getattr(item, "history", None) or {}))))
            self._inc(f"netsword/{item.kind}s")
            self._inc("netsword/findings", len(item.findings))
        elif isinstance(item, PageItem) and item.html_sha256:
            calls.append(("record_snapshot", (item.html_sha256, item.url, item.html_path, item.fetched_at,
                                              item.status, item.sweep_id, item.rendered)))
        if isinstance(item, ListingItem | ShopItem | PageItem) and item.html_sha256 and item.status < 400:
            subject = isinstance(item, ListingItem | ShopItem)
            state = PageState(
                url=item.url, sha256=item.html_sha256, path=item.html_path, etag=item.etag,
                last_modified=item.last_modified, fetched_at=item.fetched_at, sweep_id=item.sweep_id,
                page_type=getattr(item, "page_type", "") or item.kind,
                subject_kind=item.kind if subject else "", subject_id=item.subject_id if subject else "")
            calls.append(("put_page_state", (state,)))
            if self.local is not None:
                self.local.put(state)
        return calls

    def close_spider(self, spider: Any = None) -> None:
        if self.writer is None:
            return
        self._finish(spider, self.store)
        self._add_counts({"netsword/store/spooled": self.writer.close()})
        self._close_local()

    def _finish(self, spider: Any, store: Any) -> None:
        """The sweep's end, on ``store``: subjects with sub-pages assembled (crawler.subpages), the record closed."""
        spider = self._spider(spider)
        if spider is not None and not getattr(spider, "distributed", False):
            if self.crawler is not None:
                self.crawler.signals.send_catch_log(signal=sweep_ending, store=store, spider=spider)
            stats = {k: v for k, v in (self.stats.get_stats() if self.stats else {}).items()
                     if isinstance(v, int | float | str)}
            store.finish_sweep(spider.sweep_id, utc_now(), stats)

    def _close_local(self) -> None:
        if self.local is not None:
            self.local.close()

    def _add_counts(self, counts: dict[str, int]) -> None:
        for key, n in counts.items():
            if n:
                self._inc(key, n)

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)


class OffReactorStorePipeline(StorePipeline):
    """The store stage with its writes in a process of its own (``STORE_WRITER = "process"``) or on a thread
    (``"thread"``), through :class:`netsword.sidecar.OffReactor`: the reactor only queues each item's writes
    (batched every 10 ms) and the item goes on once the store has them, in order. At the sweep's end the writer
    commits and closes; the sweep record is closed (and subjects with sub-pages assembled) on a store opened
    here then. If the writer process dies, a writer on a thread takes over and redoes the writes that had no
    answer (each write is an upsert: doing one twice stores it once)."""

    io: OffReactor | None = None

    def open_spider(self, spider: Any = None) -> None:
        # the writer opens the store now: a store that cannot be opened fails the sweep's start, as inline
        self.io = OffReactor(StoreWriter, self._config(), self.writer_mode, on_counts=self._add_counts,
                             name="netsword-store", what="store writer", setting="STORE_WRITER")
        start = self._sweep_start(spider)
        if start is not None:
            self.io.submit("start_sweep", *start)

    async def process_item(self, item: Any, spider: Any = None) -> Any:  # type: ignore[override]
        assert self.io is not None
        calls = self._writes(item)
        for op, args in calls[:-1]:
            self.io.submit(op, *args)
        if calls:  # after the ones before it: once it is done, so are they
            op, args = calls[-1]
            await self.io.run(op, *args)
        return item

    async def close_spider(self, spider: Any = None) -> None:  # type: ignore[override]
        if self.io is None:
            return
        spooled = await self.io.run("close")  # after every write asked before; committed
        self.io.shutdown()
        self.io = None
        self._add_counts({"netsword/store/spooled": spooled})
        store = open_store(self.url)  # the sweep's end, on a store of this process (subpages reads and saves)
        try:
            self._finish(spider, store)
        finally:
            store.close()
        self._close_local()
