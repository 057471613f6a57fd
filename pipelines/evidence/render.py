"""Screenshots of stored snapshots: what a flagged listing's kept HTML looks like.

A listing fetched over plain HTTP that gets a finding is screenshot by rendering **its stored
snapshot** (the exact bytes whose SHA-256 the evidence records) in headless Chromium with
JavaScript off and the network off (an offline context): nothing but the snapshot is loaded,
images, CSS and scripts from elsewhere are not fetched. The picture therefore shows exactly the
hashed HTML, never a later version of the live page, and the render cannot call out. Because
it is a function of the stored HTML alone, it can be redone any time (a resumed sweep, a
re-scan with new rules). Pages fetched in the browser already have a screenshot of the live page
and are not rendered again.

:class:`SnapshotRenderer`: one Chromium (launched on first use, closed with the sweep), one
context, at most ``concurrency`` pages at once, pages and their CDP sessions reused (a new page
costs a renderer process).

:class:`RenderThread` renders on a thread of its own, with its own event loop: during a sweep the
crawl's event loop is busy parsing, and every round trip of a render (set the content, measure,
capture) would wait for it, so renders fell behind the crawl and were finished after it. On
their own loop they keep pace beside the crawl. There it drives the browser over its DevTools
pipe (:mod:`pipelines.evidence.cdp`: no Playwright driver, about a quarter less CPU per picture,
the same pictures), and falls back to a :class:`SnapshotRenderer` (Playwright) when that browser
does not start or cannot render a probe page.

The snapshot's bytes are decoded as the crawler decoded them (:func:`decode_html`, Scrapy's order: a
BOM, the Content-Type charset when known, ``<meta charset>``, then detection), and the browser gets
that text: a GBK page without any declared charset is pictured in Chinese, not in mojibake.

The browser is ``chromium-headless-shell`` when installed (:func:`crawler.browser.find_headless_shell`;
Debian package ``chromium-headless-shell``): the old headless mode, about a quarter less CPU per
picture and half the start-up of the full browser. The snapshot needs nothing else (no scripts,
no network, no bot checks); live browser pages keep the full Chromium.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

from pipelines.evidence.charset import decode_html

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The snapshot context: nothing but the snapshot is loaded, nothing runs.
CONTEXT_KWARGS: dict[str, Any] = {"java_script_enabled": False, "offline": True,
                                  "viewport": {"width": 1280, "height": 900}, "locale": "zh-CN",
                                  "service_workers": "block"}


class SnapshotRenderer:
    """``fallback_options``: launch options to use when ``launch_options`` cannot start a browser
    (a headless shell that does not match the installed Playwright, say)."""

    def __init__(self, launch_options: dict[str, Any] | None = None, concurrency: int = 2,
                 timeout_ms: int = 15_000, reuse_pages: int = 100,
                 fallback_options: dict[str, Any] | None = None) -> None:
        self.launch_options = launch_options or {}
        self.fallback_options = fallback_options
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
        self._sessions: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # page -> CDP session

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._context is None or self._browser is None or not self._browser.is_connected():
                from playwright.async_api import async_playwright

                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._launch()
                self._context = await self._browser.new_context(**CONTEXT_KWARGS)
                self._idle.clear()
                self._sessions.clear()
            return self._context

    async def _launch(self) -> Any:
        try:
            return await self._playwright.chromium.launch(**self.launch_options)
        except Exception as exc:
            if not self.fallback_options or self.fallback_options == self.launch_options:
                raise
            logger.warning("snapshot browser %s did not start (%s); using %s",
                           self.launch_options.get("executable_path"), str(exc).splitlines()[0][:200],
                           self.fallback_options.get("executable_path") or "Playwright's Chromium")
            self.launch_options = self.fallback_options
            return await self._playwright.chromium.launch(**self.launch_options)

    async def _page(self) -> Any:
        context = await self._ensure()
        while self._idle:
            page = self._idle.pop()
            if not page.is_closed():
                return page
        return await context.new_page()

    async def screenshot(self, html: bytes, url: str = "", content_type: str = "") -> bytes:
        """A full-page PNG of ``html`` (decoded as the crawler decoded it, :func:`decode_html`)."""
        from crawler.browser import full_page_png

        _encoding, text = decode_html(html, content_type)
        async with self._sem:
            page = await self._page()
            keep = False
            try:
                t0 = time.monotonic()
                await page.set_content(text, wait_until="load", timeout=self.timeout_ms)
                t1 = time.monotonic()
                png = await full_page_png(page, timeout=self.timeout_ms / 1000, sessions=self._sessions)
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
                    self._sessions.pop(page, None)
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
            self._sessions.clear()


class RenderThread:
    """Snapshot renders on their own thread and event loop; ``screenshot`` and ``close`` are awaited
    from the caller's loop. The thread starts with the object and ends with ``close``.

    ``cdp``: render with :class:`~pipelines.evidence.cdp.CdpRenderer` (``launch_options``' browser
    and flags) as long as its browser starts; else, or when it does not, with a
    :class:`SnapshotRenderer` (Playwright; ``fallback_options`` if ``launch_options`` fail)."""

    def __init__(self, launch_options: dict[str, Any] | None = None, concurrency: int = 2,
                 timeout_ms: int = 15_000, reuse_pages: int = 100,
                 fallback_options: dict[str, Any] | None = None, cdp: bool = True,
                 live_options: dict[str, Any] | None = None) -> None:
        self._live_options = live_options if live_options is not None else (fallback_options or launch_options or {})
        self._concurrency = concurrency
        self._live: Any = None  # LiveCapturer, made on the first live capture (on this thread's loop)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netsword-render", daemon=True)
        self._thread.start()
        # built on its loop: their semaphores and locks belong there
        self._renderer: _PreferCdp = asyncio.run_coroutine_threadsafe(
            _build(launch_options or {}, concurrency, timeout_ms, reuse_pages, fallback_options, cdp),
            self._loop).result()

    @property
    def engine(self) -> str:
        """"cdp" or "playwright": what renders (known after the first render)."""
        return "cdp" if self._renderer.cdp is not None else "playwright"

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def screenshot(self, html: bytes, url: str = "", content_type: str = "") -> bytes:
        return await self._on_loop(self._renderer.screenshot(html, url, content_type))

    async def live(self, url: str, caption: Any) -> tuple[bytes, str]:
        """(captioned PNG, server IP) of ``url`` loaded live now (:mod:`pipelines.evidence.live`);
        LiveCaptureError when it cannot be loaded."""
        return await self._on_loop(self._live_captioned(url, caption))

    async def _live_captioned(self, url: str, caption: Any) -> tuple[bytes, str]:
        from netsword.clock import utc_now
        from pipelines.evidence.caption import burn_caption
        from pipelines.evidence.live import LiveCapturer

        if self._live is None:
            self._live = LiveCapturer(self._live_options, self._concurrency)
        shot = await self._live.capture(url)
        caption.captured_at = utc_now()
        caption.server_ip = caption.server_ip or shot.server_ip
        png = await asyncio.get_running_loop().run_in_executor(None, burn_caption, shot.png, caption)
        return png, shot.server_ip

    async def offline(self, html: bytes, url: str, caption: Any, content_type: str = "") -> bytes:
        """The offline re-render of ``html`` with ``caption`` (labelled offline) burned in."""
        return await self._on_loop(self._offline_captioned(html, url, caption, content_type))

    async def _offline_captioned(self, html: bytes, url: str, caption: Any, content_type: str) -> bytes:
        from netsword.clock import utc_now
        from pipelines.evidence.caption import burn_caption

        png = await self._renderer.screenshot(html, url, content_type)
        caption.captured_at = utc_now()
        return await asyncio.get_running_loop().run_in_executor(None, burn_caption, png, caption)

    async def _close_all(self) -> None:
        if self._live is not None:
            await self._live.close()
            self._live = None
        await self._renderer.close()

    async def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            await self._on_loop(self._close_all())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 30.0)
            if not self._thread.is_alive():
                self._loop.close()


#: Rendered once when the DevTools-pipe renderer starts: a browser that cannot, is not used.
PROBE = b"<!DOCTYPE html><html><body><p>netsword</p></body></html>"


class _PreferCdp:
    """The DevTools-pipe renderer when its browser starts and renders a probe page, else Playwright's."""

    def __init__(self, cdp: Any, playwright: SnapshotRenderer) -> None:
        self.cdp, self.playwright = cdp, playwright
        self._chosen = cdp is None
        self._lock = asyncio.Lock()

    async def _choose(self) -> None:
        from pipelines.evidence.cdp import CdpError

        async with self._lock:
            if self._chosen:
                return
            try:
                await self.cdp.start()
                await self.cdp.screenshot(PROBE)
            except (CdpError, OSError) as exc:  # not a Chromium that renders over a pipe: Playwright renders
                logger.warning("snapshot browser %s not usable over its DevTools pipe (%s); rendering with "
                               "Playwright", self.cdp.executable, str(exc).splitlines()[0][:200] if str(exc) else exc)
                await self.cdp.close()
                self.cdp = None
            self._chosen = True

    async def screenshot(self, html: bytes, url: str = "", content_type: str = "") -> bytes:
        if not self._chosen:
            await self._choose()
        if self.cdp is not None:
            return await self.cdp.screenshot(html, url, content_type)
        return await self.playwright.screenshot(html, url, content_type)

    async def close(self) -> None:
        if self.cdp is not None:
            await self.cdp.close()
        await self.playwright.close()


async def _build(launch_options: dict[str, Any], concurrency: int, timeout_ms: int, reuse_pages: int,
                 fallback_options: dict[str, Any] | None, cdp: bool) -> _PreferCdp:
    playwright = SnapshotRenderer(launch_options, concurrency, timeout_ms, reuse_pages, fallback_options)
    exe = launch_options.get("executable_path")
    if not (cdp and exe):  # Playwright's own download of the browser: let Playwright drive it
        return _PreferCdp(None, playwright)
    from pipelines.evidence.cdp import CdpRenderer, flags_from

    return _PreferCdp(CdpRenderer(exe, list(flags_from(launch_options)), concurrency, timeout_ms, reuse_pages),
                      playwright)
