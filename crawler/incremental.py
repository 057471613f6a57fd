"""Incremental sweeps: pages that did not change since the last sweep are not parsed again.

:class:`IncrementalMiddleware` (downloader) looks up the URL's last stored state
(:class:`~pipelines.store.base.PageState`: body hash, snapshot path, ``ETag``,
``Last-Modified``) and

* sends ``If-None-Match`` / ``If-Modified-Since`` (plain HTTP pages; a browser navigation
  cannot ask conditionally): a ``304 Not Modified`` answer is turned into a response whose
  body is the stored snapshot, flagged ``netsword-unchanged``;
* flags a full answer whose body hashes to the stored hash the same way (servers without
  validators, browser pages that render identically).

The spider follows an unchanged page's links (from the stored snapshot: pages behind it may
have changed) and yields an :class:`~crawler.items.UnchangedPage` instead of parsing it; the
store then marks its subject as seen in this sweep (:meth:`Store.mark_seen`) and records the
snapshot again for the sweep (status 304 or 200). A changed page is parsed as usual and gets a
new listing version in the store (price and text history).

:class:`SweepStorePipeline` is the store stage of a sweep: :class:`StorePipeline` plus page
states (written after the page's item, so a crash never leaves a state whose item is lost),
unchanged pages, and the sweep's settings (robots obeyed, incremental, resumed) in its record.

Settings: ``NETSWORD_INCREMENTAL`` (True; ``netsword crawl --full`` turns it off).
Stats: ``netsword/incremental/conditional``, ``.../not_modified``, ``.../same_hash``,
``.../snapshot_missing``, ``netsword/unchanged``, ``netsword/unchanged_unknown``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scrapy.http import HtmlResponse, Request, Response

from crawler.items import ListingItem, PageItem, ShopItem, UnchangedPage
from crawler.middlewares import utc_now
from crawler.spiders.listing import UNCHANGED
from pipelines.store import open_store
from pipelines.store.base import PageState
from pipelines.store.pipeline import StorePipeline

logger = logging.getLogger(__name__)


class IncrementalMiddleware:
    def __init__(self, store_url: str, evidence_dir: str | Path, enabled: bool = True, stats: Any = None) -> None:
        self.store_url, self.evidence_dir, self.enabled, self.stats = store_url, Path(evidence_dir), enabled, stats
        self._store: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> IncrementalMiddleware:
        s = crawler.settings
        return cls(s.get("STORE_URL"), s.get("EVIDENCE_DIR"), s.getbool("NETSWORD_INCREMENTAL", True), crawler.stats)

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = open_store(self.store_url)  # read-only use: the store stage writes
        return self._store

    def process_request(self, request: Request, spider: Any = None) -> None:
        if not self.enabled or request.meta.get("netsword_full") or "netsword_prev" in request.meta:
            return None
        state = self.store.page_state(request.url)
        if state is None:
            return None
        if not (self.evidence_dir / state.path).is_file():
            self._inc("netsword/incremental/snapshot_missing")
            return None
        request.meta["netsword_prev"] = asdict(state)
        if request.meta.get("playwright"):
            return None
        if state.etag:
            request.headers["If-None-Match"] = state.etag
        if state.last_modified:
            request.headers["If-Modified-Since"] = state.last_modified
        if state.etag or state.last_modified:
            request.meta["handle_httpstatus_list"] = [*request.meta.get("handle_httpstatus_list", []), 304]
            self._inc("netsword/incremental/conditional")
        return None

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response | Request:
        prev = request.meta.get("netsword_prev")
        if not prev:
            return response
        if response.status == 304:
            try:
                from pipelines.evidence import EvidenceStore

                body = EvidenceStore(self.evidence_dir).read_html(prev["path"])
            except OSError as exc:  # the snapshot went missing: ask again, unconditionally
                logger.warning("stored snapshot of %s unreadable (%s): fetching it again", request.url, exc)
                self._inc("netsword/incremental/snapshot_missing")
                return _unconditional(request)
            self._inc("netsword/incremental/not_modified")
            return HtmlResponse(url=response.url, status=304, headers=response.headers, body=body,
                                flags=[*response.flags, UNCHANGED], request=request)
        if response.status == 200 and hashlib.sha256(response.body).hexdigest() == prev["sha256"]:
            self._inc("netsword/incremental/same_hash")
            return response.replace(flags=[*response.flags, UNCHANGED])
        return response

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)


def _unconditional(request: Request) -> Request:
    meta = {k: v for k, v in request.meta.items() if k not in ("netsword_prev", "handle_httpstatus_list")}
    meta["netsword_full"] = True
    headers = request.headers.copy()
    headers.pop("If-None-Match", None)
    headers.pop("If-Modified-Since", None)
    return request.replace(headers=headers, meta=meta, dont_filter=True)


# --------------------------------------------------------------------------- the store stage


class SweepStorePipeline(StorePipeline):
    """The store stage of a sweep: subjects, findings, snapshots, plus page states and unchanged pages."""

    def __init__(self, url: str, stats: Any = None, extra_settings: dict[str, Any] | None = None) -> None:
        super().__init__(url, stats)
        self.extra_settings = extra_settings or {}
        self.crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> SweepStorePipeline:
        s = crawler.settings
        extra = {"incremental": s.getbool("NETSWORD_INCREMENTAL", True),
                 "resumed": s.getbool("NETSWORD_RESUME", False),
                 "autothrottle": s.getbool("AUTOTHROTTLE_ENABLED"),
                 "concurrency_per_domain": s.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
                 "download_delay": s.getfloat("DOWNLOAD_DELAY")}
        pipe = cls(s.get("STORE_URL"), crawler.stats, extra)
        pipe.crawler = crawler
        return pipe

    def open_spider(self, spider: Any = None) -> None:
        # Scrapy 2.19 passes no spider to open_spider/close_spider that default it: use the crawler's
        spider = spider or getattr(self.crawler, "spider", None)
        super().open_spider(spider)
        if spider is not None:  # the sweep record also says how it was crawled
            settings = {"robots_obeyed": bool(spider.crawler.settings.getbool("ROBOTSTXT_OBEY")),
                        **self.extra_settings}
            if getattr(spider, "search_terms", None):
                settings["search"] = spider.search_terms
            self.store.start_sweep(spider.sweep_id, spider.site, utc_now(), settings)

    def close_spider(self, spider: Any = None) -> None:
        super().close_spider(spider or getattr(self.crawler, "spider", None))

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, UnchangedPage):
            return self._unchanged(item)
        item = super().process_item(item, spider)
        if isinstance(item, ListingItem | ShopItem | PageItem) and item.html_sha256 and item.status < 400:
            subject = isinstance(item, ListingItem | ShopItem)
            self.store.put_page_state(PageState(
                url=item.url, sha256=item.html_sha256, path=item.html_path, etag=item.etag,
                last_modified=item.last_modified, fetched_at=item.fetched_at, sweep_id=item.sweep_id,
                page_type=getattr(item, "page_type", "") or item.kind,
                subject_kind=item.kind if subject else "", subject_id=item.subject_id if subject else ""))
        return item

    def _unchanged(self, item: UnchangedPage) -> UnchangedPage:
        store = self.store
        store.record_snapshot(item.html_sha256, item.url, item.html_path, item.fetched_at, item.status,
                              item.sweep_id, item.rendered)
        if item.subject_id and not store.mark_seen(item.subject_kind, item.subject_id, item.sweep_id,
                                                   item.fetched_at):
            logger.warning("unchanged page of an unknown %s %s: %s", item.subject_kind, item.subject_id, item.url)
            self._inc("netsword/unchanged_unknown")
        if item.html_sha256:  # the stored state the page matched (the spider copied it): seen again now.
            # Built from the item, not read back: a read commits the store's open batch, once per page.
            store.put_page_state(PageState(
                url=item.url, sha256=item.html_sha256, path=item.html_path, etag=item.etag,
                last_modified=item.last_modified, fetched_at=item.fetched_at, sweep_id=item.sweep_id,
                page_type=item.page_type, subject_kind=item.subject_kind, subject_id=item.subject_id))
        self._inc("netsword/unchanged")
        if item.subject_kind:
            self._inc(f"netsword/{item.subject_kind}s")
        return item
