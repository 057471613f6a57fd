"""Live captures of flagged listings: the page as the browser loads it from the site, pictures included.

A listing that gets a finding is opened again, live, in headless Chromium (the crawl's browser and
launch options; its own context: scripts and network on as for any visitor, service workers
blocked, viewport 1280x900, zh-CN), and screenshot once its load event fired (the pictures are
in). The server's address (``Response.server_addr``) is kept. A caption bar
(:mod:`pipelines.evidence.caption`) is burned in above the picture.

This runs on the render thread's own event loop (:class:`~pipelines.evidence.render.RenderThread`),
never on the reactor: the sweep goes on while the picture is taken. When the live page cannot be
loaded (the site is down, the listing gone, a timeout), the caller falls back to the offline
re-render of the stored HTML, captioned as such.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

CONTEXT_KWARGS: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN",
                                  "service_workers": "block", "ignore_https_errors": True}


class LiveCaptureError(RuntimeError):
    """The live page could not be captured (the message says why)."""


@dataclass
class LiveShot:
    png: bytes
    server_ip: str
    status: int
    final_url: str


class LiveCapturer:
    """One Chromium (launched on first use), one context, at most ``concurrency`` pages at once."""

    def __init__(self, launch_options: dict[str, Any] | None = None, concurrency: int = 2,
                 timeout_ms: int = 20_000) -> None:
        self.launch_options = dict(launch_options or {})
        self.timeout_ms = timeout_ms
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._lock = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._idle: list[Any] = []
        self._sessions: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._context is None or self._browser is None or not self._browser.is_connected():
                from playwright.async_api import async_playwright

                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(**self.launch_options)
                self._context = await self._browser.new_context(**CONTEXT_KWARGS)
                self._idle.clear()
            return self._context

    async def capture(self, url: str) -> LiveShot:
        """A full-page PNG of ``url`` as loaded now; LiveCaptureError when it cannot be loaded."""
        from crawler.browser import full_page_png

        context = await self._ensure()
        async with self._sem:
            page = self._idle.pop() if self._idle else await context.new_page()
            keep = False
            try:
                try:
                    response = await page.goto(url, wait_until="load", timeout=self.timeout_ms)
                except Exception as exc:  # refused, reset, timeout: say which
                    raise LiveCaptureError(str(exc).splitlines()[0][:200]) from exc
                if response is None:
                    raise LiveCaptureError("no response")
                if response.status >= 400:
                    raise LiveCaptureError(f"HTTP {response.status}")
                addr = await response.server_addr()
                png = await full_page_png(page, timeout=self.timeout_ms / 1000, sessions=self._sessions)
                keep = True
                return LiveShot(png, (addr or {}).get("ipAddress", "") or "", response.status, page.url)
            finally:
                if keep and len(self._idle) < 4:
                    self._idle.append(page)
                else:
                    self._sessions.pop(page, None)
                    try:
                        await page.close()
                    except Exception as exc:  # a crashed page
                        logger.debug("closing live page: %s", exc)

    async def close(self) -> None:
        try:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()
        except Exception as exc:  # closing after a crash: nothing left to do
            logger.debug("closing live capturer: %s", exc)
        finally:
            self._browser = self._context = self._playwright = None
            self._idle.clear()
