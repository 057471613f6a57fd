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

Settings: ``STORE_URL``, ``JOBDIR``, ``STORE_SQLITE_BATCH_SIZE`` (writes per commit of a SQLite store:
its open batch holds the file's write lock, so distributed workers sharing one file commit each write at
once); the sweep record also reads ``NETSWORD_INCREMENTAL``,
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

from . import open_store
from .base import HISTORY_UNKNOWN, PageState
from .pagecache import LocalPageStates
from .sqlite import SQLiteStore

logger = logging.getLogger(__name__)

#: Signal sent (``store``, ``spider``) when the store stage is about to close a one-process sweep's record: every
#: page is stored. ``crawler.subpages`` assembles the subjects with sub-pages then, with this stage's store.
sweep_ending = object()


class StorePipeline:
    """Writes subjects, findings, snapshots and page states; opens and closes the sweep record."""

    def __init__(self, url: str, stats: Any = None, sweep_settings: dict[str, Any] | None = None,
                 crawler: Any = None, job_dir: str | None = None, sqlite_batch_size: int = 0) -> None:
        self.url, self.stats = url, stats
        self.sqlite_batch_size = sqlite_batch_size  # 0: the SQLite store's own default
        self.sweep_settings = dict(sweep_settings or {})
        self.crawler = crawler
        self.store: Any = None
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
        return cls(s.get("STORE_URL"), crawler.stats, sweep_settings, crawler, s.get("JOBDIR") or None,
                   s.getint("STORE_SQLITE_BATCH_SIZE", 0))

    def _spider(self, spider: Any) -> Any:
        # Scrapy 2.19 passes no spider to open_spider/close_spider that default it: use the crawler's
        return spider if spider is not None else getattr(self.crawler, "spider", None)

    def open_spider(self, spider: Any = None) -> None:
        self.store = open_store(self.url)
        if self.sqlite_batch_size > 0 and isinstance(self.store, SQLiteStore):
            self.store.batch_size = self.sqlite_batch_size
        spider = self._spider(spider)
        # the sweep record says how it was crawled; a distributed sweep's is written when it is seeded and
        # when its last page is done (crawler.distributed), not by each of its workers
        if spider is not None and not getattr(spider, "distributed", False):
            settings = dict(self.sweep_settings)
            if getattr(spider, "search_terms", None):
                settings["search"] = spider.search_terms
            self.store.start_sweep(spider.sweep_id, spider.site, utc_now(), settings)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, UnchangedPage):
            return self._unchanged(item)
        if isinstance(item, ListingItem | ShopItem) and item.part:
            # one page of a subject with sub-pages: kept as its part; the subject is saved when assembled
            if item.html_sha256:
                self.store.record_snapshot(item.html_sha256, item.url, item.html_path, item.fetched_at,
                                           item.status, item.sweep_id, item.rendered)
            if item.status < 400:
                self.store.put_part(item)
                self._inc("netsword/parts")
        elif isinstance(item, ListingItem | ShopItem):
            # subject + snapshot record + findings; findings the page no longer shows are resolved (not while
            # the listing's price history is unknown: findings over history could not fire)
            self.store.save(item, resolve=HISTORY_UNKNOWN not in (getattr(item, "history", None) or {}))
            self._inc(f"netsword/{item.kind}s")
            self._inc("netsword/findings", len(item.findings))
        elif isinstance(item, PageItem) and item.html_sha256:
            self.store.record_snapshot(item.html_sha256, item.url, item.html_path, item.fetched_at,
                                       item.status, item.sweep_id, item.rendered)
        if isinstance(item, ListingItem | ShopItem | PageItem) and item.html_sha256 and item.status < 400:
            subject = isinstance(item, ListingItem | ShopItem)
            self._put_page_state(PageState(
                url=item.url, sha256=item.html_sha256, path=item.html_path, etag=item.etag,
                last_modified=item.last_modified, fetched_at=item.fetched_at, sweep_id=item.sweep_id,
                page_type=getattr(item, "page_type", "") or item.kind,
                subject_kind=item.kind if subject else "", subject_id=item.subject_id if subject else ""))
        return item

    def _put_page_state(self, state: PageState) -> None:
        self.store.put_page_state(state)
        if self.local is not None:
            self.local.put(state)

    def _unchanged(self, item: UnchangedPage) -> UnchangedPage:
        store = self.store
        store.record_snapshot(item.html_sha256, item.url, item.html_path, item.fetched_at, item.status,
                              item.sweep_id, item.rendered)
        if item.subject_id and not store.mark_seen(item.subject_kind, item.subject_id, item.sweep_id,
                                                   item.fetched_at) and not self._revive_parts(item):
            logger.warning("unchanged page of an unknown %s %s: %s", item.subject_kind, item.subject_id, item.url)
            self._inc("netsword/unchanged_unknown")
        if item.html_sha256:  # the stored state the page matched (the spider copied it): seen again now.
            # Built from the item, not read back: a read commits the store's open batch, once per page.
            self._put_page_state(PageState(
                url=item.url, sha256=item.html_sha256, path=item.html_path, etag=item.etag,
                last_modified=item.last_modified, fetched_at=item.fetched_at, sweep_id=item.sweep_id,
                page_type=item.page_type, subject_kind=item.subject_kind, subject_id=item.subject_id))
        self._inc("netsword/unchanged")
        if item.subject_kind:
            self._inc(f"netsword/{item.subject_kind}s")
        return item

    def _revive_parts(self, item: UnchangedPage) -> bool:
        """An unchanged page of a subject with sub-pages that was never assembled (its sweep was killed and not
        resumed): its stored parts join this sweep, whose end assembles it (crawler.subpages)."""
        try:
            parts = self.store.parts(item.subject_kind, item.subject_id)
        except NotImplementedError:
            return False
        for part in parts:
            part.sweep_id = item.sweep_id
            self.store.put_part(part)
        return bool(parts)

    def close_spider(self, spider: Any = None) -> None:
        if self.store is None:
            return
        spider = self._spider(spider)
        if spider is not None and not getattr(spider, "distributed", False):
            if self.crawler is not None:
                self.crawler.signals.send_catch_log(signal=sweep_ending, store=self.store, spider=spider)
            stats = {k: v for k, v in (self.stats.get_stats() if self.stats else {}).items()
                     if isinstance(v, int | float | str)}
            self.store.finish_sweep(spider.sweep_id, utc_now(), stats)
        self.store.close()
        if self.store.spooled:
            self._inc("netsword/store/spooled", self.store.spooled)
        if self.local is not None:
            self.local.close()

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)
