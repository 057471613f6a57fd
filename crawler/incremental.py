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

:class:`pipelines.store.pipeline.StorePipeline` (the store stage) writes the page states and
the unchanged pages.

Every answer's body (after decompression, as the evidence keeps it) is hashed here, once:
``request.meta["netsword_body_sha256"]``, which the spider puts on the item as ``html_sha256``.

While the store cannot be read (Elasticsearch down: ``StoreUnavailable``) no request fails for
it: the state comes from the job folder's copy (:class:`~pipelines.store.pagecache.LocalPageStates`,
written by the store stage as pages are stored), and a URL it does not know is fetched in full
(correct, only slower). Said once per outage in the log, counted per request.

Settings: ``NETSWORD_INCREMENTAL`` (True; ``netsword crawl --full`` turns it off), ``JOBDIR``.
Stats: ``netsword/incremental/conditional``, ``.../not_modified``, ``.../same_hash``,
``.../snapshot_missing``, ``.../local_state`` (states read from the job folder's copy),
``.../state_unknown`` (the store unreadable and no copy: fetched in full).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scrapy.http import HtmlResponse, Request, Response

from crawler.spiders.listing import BODY_SHA256, UNCHANGED
from netsword.digests import sha256_bytes
from pipelines.store import StoreUnavailable, open_store
from pipelines.store.base import PageState
from pipelines.store.pagecache import LocalPageStates

logger = logging.getLogger(__name__)


class IncrementalMiddleware:
    def __init__(self, store_url: str, evidence_dir: str | Path, enabled: bool = True, stats: Any = None,
                 job_dir: str | Path | None = None) -> None:
        self.store_url, self.evidence_dir, self.enabled, self.stats = store_url, Path(evidence_dir), enabled, stats
        self._store: Any = None
        self.local = LocalPageStates(job_dir, store_url) if job_dir else None
        self._down = False  # the store is unreadable: said once per outage

    @classmethod
    def from_crawler(cls, crawler: Any) -> IncrementalMiddleware:
        from scrapy import signals

        s = crawler.settings
        mw = cls(s.get("STORE_URL"), s.get("EVIDENCE_DIR"), s.getbool("NETSWORD_INCREMENTAL", True), crawler.stats,
                 s.get("JOBDIR") or None)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_closed(self, spider: Any = None) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self.local is not None:
            self.local.close()

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = open_store(self.store_url)  # read-only use: the store stage writes
        return self._store

    def process_request(self, request: Request, spider: Any = None) -> None:
        if not self.enabled or request.meta.get("netsword_full") or "netsword_prev" in request.meta:
            return None
        state = self._page_state(request.url)
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
        if response.status != 304:  # the body as the evidence keeps it (after decompression): hashed once, here
            request.meta[BODY_SHA256] = sha256_bytes(response.body)
        if not prev:
            return response
        if response.status == 304:
            try:
                from pipelines.store.files import EvidenceStore

                body = EvidenceStore(self.evidence_dir).read_html(prev["path"])
            except OSError as exc:  # the snapshot went missing: ask again, unconditionally
                logger.warning("stored snapshot of %s unreadable (%s): fetching it again", request.url, exc)
                self._inc("netsword/incremental/snapshot_missing")
                return _unconditional(request)
            self._inc("netsword/incremental/not_modified")
            return HtmlResponse(url=response.url, status=304, headers=response.headers, body=body,
                                flags=[*response.flags, UNCHANGED], request=request)
        if response.status == 200 and request.meta[BODY_SHA256] == prev["sha256"]:
            self._inc("netsword/incremental/same_hash")
            return response.replace(flags=[*response.flags, UNCHANGED])
        return response

    def _page_state(self, url: str) -> PageState | None:
        """The store's state of ``url``; the job folder's copy while the store cannot be read."""
        try:
            state = self.store.page_state(url)
        except StoreUnavailable as exc:
            if not self._down:
                logger.warning("page states unreadable (%s): until the store is back they come from %s, and pages "
                               "it does not know are fetched in full", exc,
                               self.local.path if self.local is not None else "nowhere (no job folder)")
                self._down = True
            state = self.local.get(url) if self.local is not None else None
            self._inc("netsword/incremental/local_state" if state is not None else "netsword/incremental/state_unknown")
            return state
        if self._down:
            logger.warning("page states readable again")
            self._down = False
        return state

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
