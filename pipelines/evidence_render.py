"""Screenshots of stored snapshots: what a flagged listing's kept HTML looks like.

A listing fetched over plain HTTP that gets a finding is screenshot by rendering **its stored
snapshot** (the exact bytes whose SHA-256 the evidence records) in headless Chromium with
JavaScript off and the network off (an offline context): nothing but the snapshot is loaded,
images, CSS and scripts from elsewhere are not fetched. The picture therefore shows exactly the
hashed HTML, never a later version of the live page, and the render cannot call out. Because
it is a function of the stored HTML alone, it can be redone any time (a resumed sweep, a
re-scan with new rules). Pages fetched in the browser already have a screenshot of the live page
and are not rendered again.

One Chromium (launched on first use, closed with the sweep), one context, at most
``concurrency`` pages at once, pages reused (a new page costs a renderer process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)


class SnapshotRenderer:
    def __init__(self, launch_options: dict[str, Any] | None = None, concurrency: int = 2,
                 timeout_ms: int = 15_000, reuse_pages: int = 100) -> None:
        self.launch_options = launch_options or {}
        self.timeout_ms = timeout_ms
        self.concurrency = max(1, concurrency)
        self.reuse_pages = reuse_pages
        self._sem = asyncio.Semaphore(self.concurrency)
        self._lock = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._idle: list[Any] = []  # open pages waiting for the next snapshot (a new page costs a renderer)
        self._uses: dict[int, int] = {}

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._context is None or self._browser is None or not self._browser.is_connected():
                from playwright.async_api import async_playwright

                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(**self.launch_options)
                self._context = await self._browser.new_context(
                    java_script_enabled=False, offline=True, viewport={"width": 1280, "height": 900},
                    locale="zh-CN", service_workers="block")
                self._idle.clear()
            return self._context

    async def _page(self) -> Any:
        context = await self._ensure()
        while self._idle:
            page = self._idle.pop()
            if not page.is_closed():
                return page
        return await context.new_page()

    async def screenshot(self, html: bytes, url: str = "", content_type: str = "") -> bytes:
        """A full-page PNG of ``html`` (decoded as a browser would: BOM, <meta charset>, header)."""
        from w3lib.encoding import html_to_unicode

        from crawler.browser import full_page_png

        _encoding, text = html_to_unicode(content_type or None, html)
        async with self._sem:
            page = await self._page()
            keep = False
            try:
                t0 = time.monotonic()
                await page.set_content(text, wait_until="load", timeout=self.timeout_ms)
                t1 = time.monotonic()
                png = await full_page_png(page, timeout=self.timeout_ms / 1000)
                logger.debug("snapshot rendered in %.3f s, screenshot in %.3f s (%d bytes)", t1 - t0,
                             time.monotonic() - t1, len(png))
                self._uses[id(page)] = self._uses.get(id(page), 0) + 1
                keep = self._uses[id(page)] < self.reuse_pages
                return png
            finally:
                if keep:
                    self._idle.append(page)
                else:
                    self._uses.pop(id(page), None)
                    try:
                        await page.close()
                    except Exception as exc:  # a crashed page
                        logger.debug("closing snapshot page: %s", exc)

    async def close(self) -> None:
        try:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()
        except Exception as exc:  # closing after a crash: nothing left to do
            logger.debug("closing snapshot renderer: %s", exc)
        finally:
            self._browser = self._context = self._playwright = None
            self._idle.clear()
