"""scrapy-playwright's download handler with pages reused across requests (a bounded page pool).

A new browser page costs a renderer process (start-up CPU and tens of MB); reusing open pages
makes browser pages about 1.7x faster. The pool hands out pages at download time -- inside the
handler, when the downloader has a slot for the request -- so a request waiting in a queue never
holds a page that a downloading request needs:

* :meth:`PooledPlaywrightHandler._create_page` takes an idle page of the request's context, or
  opens one while the context has fewer than ``NETSWORD_BROWSER_PAGES_PER_CONTEXT`` pages, or
  waits for one to come back or close;
* :class:`~crawler.browser_pool.BrowserPoolMiddleware` puts a page back when its request is done
  (closes it if the request failed or the context is being retired).

``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT`` stays as scrapy-playwright's own (higher) safety limit.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from scrapy_playwright.handler import DEFAULT_CONTEXT_NAME, ScrapyPlaywrightDownloadHandler


class PagePool:
    """Open pages per context: idle ones waiting for a request, and how many are open in all."""

    def __init__(self, max_pages: int = 4) -> None:
        self.max_pages = max(1, max_pages)
        self._idle: dict[str, list[Any]] = defaultdict(list)
        self._open: dict[str, int] = defaultdict(int)
        self._waiters: list[asyncio.Future[None]] = []

    def take(self, name: str) -> Any:
        idle = self._idle.get(name)
        while idle:
            page = idle.pop()
            if not page.is_closed():
                return page
        return None

    def reserve(self, name: str) -> bool:
        """Count a page about to be opened in ``name``; False when the context is full."""
        if self._open[name] >= self.max_pages:
            return False
        self._open[name] += 1
        return True

    def unreserve(self, name: str) -> None:
        self._open[name] = max(0, self._open[name] - 1)
        self._notify()

    def put(self, name: str, page: Any) -> None:
        if not page.is_closed():
            self._idle[name].append(page)
            self._notify()

    def forget(self, name: str) -> None:
        """A context is closing (its pages with it)."""
        self._idle.pop(name, None)

    async def wait(self, timeout: float = 1.0) -> None:
        """Until a page is put back or closed (or ``timeout`` seconds)."""
        fut: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


def pool_for(crawler: Any) -> PagePool:
    """The crawler's page pool (shared by the handler and the pool middleware)."""
    pool = getattr(crawler, "_netsword_page_pool", None)
    if pool is None:
        pool = PagePool(crawler.settings.getint("NETSWORD_BROWSER_PAGES_PER_CONTEXT", 4))
        crawler._netsword_page_pool = pool
    return pool


class PooledPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.page_pool = pool_for(crawler)

    async def _create_page(self, request: Any, spider: Any) -> Any:
        name = request.meta.setdefault("playwright_context", DEFAULT_CONTEXT_NAME)
        pool = self.page_pool
        while True:
            page = pool.take(name)
            if page is not None:
                self.stats.inc_value("netsword/browser/pages_reused")
                return page
            if pool.reserve(name):
                try:
                    page = await super()._create_page(request, spider)
                except BaseException:
                    pool.unreserve(name)
                    raise
                page.on("close", lambda *_: pool.unreserve(name))
                return page
            await pool.wait()

    async def _download_request_with_page(self, request: Any, page: Any, spider: Any) -> Any:
        """The page's own XHR/fetch answers are recorded while it loads when its page type says
        ``capture:`` (:mod:`crawler.capture`)."""
        from crawler.capture import CAPTURE, recording

        if not request.meta.get(CAPTURE):
            return await super()._download_request_with_page(request, page, spider)
        async with recording(page, request, self.stats):
            return await super()._download_request_with_page(request, page, spider)
