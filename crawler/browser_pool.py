"""Browser pages at scale: a bounded pool of recycled contexts, screenshots, a watchdog.

:class:`BrowserPoolMiddleware` (a downloader middleware next to the download handler) owns the
life of every browser page scrapy-playwright opens for a ``render: browser`` request:

* **Bounded and recycled.** Requests go round-robin to ``NETSWORD_BROWSER_CONTEXTS`` context
  slots; a slot's context is replaced by a fresh one after ``NETSWORD_BROWSER_RECYCLE_PAGES``
  pages and closed once its last page is done, so cookies, caches and leaked DOM memory of a
  long sweep never pile up. Pages are reused within a context (at most
  ``NETSWORD_BROWSER_PAGES_PER_CONTEXT``; :mod:`crawler.browser_handler`),
  ``PLAYWRIGHT_MAX_CONTEXTS`` bounds contexts (old + new during a swap).
* **Evidence.** Each page gets a full-page PNG screenshot (``EVIDENCE_SCREENSHOTS``), kept
  content-addressed next to the HTML snapshots; ``meta["netsword_screenshot"]`` = (sha256, path).
* **Never fatal.** A page that hangs (scripts that never stop) is closed by a watchdog after
  ``NETSWORD_BROWSER_PAGE_TIMEOUT`` seconds; a crashed or closed page raises, and the retry
  middleware tries the URL again (``RETRY_EXCEPTIONS`` includes Playwright's errors). The page
  is always closed here, in ``finally``.

Stats: ``netsword/browser/pages``, ``.../screenshots``, ``.../contexts_recycled``, ``.../hung``,
``.../failed``, and ``netsword/browser/rss_mb/<n>`` (this process) and
``netsword/browser/chromium_pss_mb/<n>`` (the browser's processes) after n browser pages for each
n in ``NETSWORD_BROWSER_MEMORY_AT``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import weakref
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from scrapy.http import Request, Response

from crawler.browser import full_page_png

logger = logging.getLogger(__name__)

#: Context options for every pooled context (Chinese marketplaces, desktop layout).
CONTEXT_KWARGS: dict[str, Any] = {
    "viewport": {"width": 1280, "height": 900},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "service_workers": "block",
}


def context_kwargs(crawler: Any, proxy: str | None = None) -> dict[str, Any]:
    """The options of a new context: :data:`CONTEXT_KWARGS`, the site's session (``storage_state``,
    :mod:`crawler.sessions`), its identity (user agent, headers) and ``proxy`` (:mod:`crawler.identity`)."""
    kwargs = dict(CONTEXT_KWARGS)
    if crawler is None:
        return kwargs
    from crawler.sessions import session_state

    state = session_state(crawler)
    if state:
        kwargs["storage_state"] = state
    identity = getattr(getattr(getattr(crawler, "spider", None), "profile", None), "identity", None)
    if identity is not None:
        if identity.user_agent:
            kwargs["user_agent"] = identity.user_agent
        if identity.headers:
            kwargs["extra_http_headers"] = dict(identity.headers)
    if proxy:
        from urllib.parse import urlsplit

        parts = urlsplit(proxy)
        server = f"{'socks5' if parts.scheme.startswith('socks') else parts.scheme}://{parts.hostname}:{parts.port}"
        kwargs["proxy"] = {"server": server, "bypass": "<-loopback>"}  # loopback too: Chromium skips it otherwise
        if parts.username:
            kwargs["proxy"].update(username=parts.username, password=parts.password or "")
    return kwargs


class BrowserPoolMiddleware:
    def __init__(self, *, contexts: int = 2, recycle_pages: int = 200, page_timeout: float = 60.0,
                 screenshots: bool = True, evidence_dir: str | Path | None = None, stats: Any = None,
                 memory_at: list[int] | None = None) -> None:
        self.contexts = max(1, contexts)
        self.recycle_pages = max(1, recycle_pages)
        self.page_timeout = page_timeout
        self.screenshots = screenshots and evidence_dir is not None
        self.evidence_dir = evidence_dir
        self.stats = stats
        self.memory_at = sorted(memory_at or [])
        self._generation = [0] * self.contexts
        self._next_slot = 0
        self._issued: Counter[str] = Counter()  # context name -> requests sent to it
        self._done: Counter[str] = Counter()  # context name -> requests finished (any way)
        self._retired: set[str] = set()
        self._contexts: dict[str, Any] = {}  # context name -> BrowserContext (seen through its pages)
        self._watchdogs: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self.pool: Any = None  # crawler.browser_handler.PagePool (pages reused across requests)
        self.crawler: Any = None
        self._pages_done = 0
        # page -> its CDP session, kept for the page's next screenshot (pages are reused)
        self._sessions: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Any) -> BrowserPoolMiddleware:
        s = crawler.settings
        mw = cls(contexts=s.getint("NETSWORD_BROWSER_CONTEXTS", 2),
                   recycle_pages=s.getint("NETSWORD_BROWSER_RECYCLE_PAGES", 200),
                   page_timeout=s.getfloat("NETSWORD_BROWSER_PAGE_TIMEOUT", 60.0),
                   screenshots=s.getbool("EVIDENCE_SCREENSHOTS", True),
                   evidence_dir=s.get("EVIDENCE_DIR"), stats=crawler.stats,
                   memory_at=[int(n) for n in s.getlist("NETSWORD_BROWSER_MEMORY_AT")])
        from crawler.browser_handler import pool_for

        mw.pool = pool_for(crawler)
        mw.crawler = crawler
        return mw

    # -- requests ---------------------------------------------------------------------
    def process_request(self, request: Request, spider: Any = None) -> None:
        if not request.meta.get("playwright"):
            return None
        slot = self._next_slot
        self._next_slot = (slot + 1) % self.contexts
        name = f"netsword-{slot}-{self._generation[slot]}"
        self._issued[name] += 1
        if self._issued[name] >= self.recycle_pages:  # the next request of this slot gets a fresh context
            self._generation[slot] += 1
            self._retired.add(name)
        proxy = request.meta.get("netsword_context_proxy")
        if proxy:  # a context per proxy (crawler.identity): Playwright sets proxies per context
            name += f"-p{zlib.crc32(proxy.encode()) % 10_000}"
        request.meta["playwright_context"] = name
        request.meta["playwright_context_kwargs"] = context_kwargs(self.crawler, proxy)
        request.meta["playwright_include_page"] = True
        request.meta["playwright_page_init_callback"] = self._page_started  # arms the watchdog
        return None

    async def _page_started(self, page: Any, request: Request) -> None:
        """Called by the download handler when a page starts on ``request`` (again after it retried
        a closed page): the watchdog counts from here, not from the wait for a free page."""
        self._disarm(request)
        self._contexts.setdefault(request.meta.get("playwright_context", ""), page.context)
        self._watchdogs[id(request)] = asyncio.get_event_loop().call_later(self.page_timeout, self._hung, request)

    def _disarm(self, request: Request) -> None:
        handle = self._watchdogs.pop(id(request), None)
        if handle is not None:
            handle.cancel()

    def _hung(self, request: Request) -> None:
        """The page took too long (a script that never ends, a renderer that stopped answering):
        close it. The download handler may open another page for the same request (it retries
        closed targets itself), so the watchdog stays armed until the request is finished."""
        page = request.meta.get("playwright_page")
        self._inc("netsword/browser/hung")
        logger.warning("browser page hung, closing it: %s (after %.0f s)", request.url, self.page_timeout)
        if page is not None and not page.is_closed():
            task = asyncio.ensure_future(_close_quietly(page))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        loop = asyncio.get_event_loop()
        self._watchdogs[id(request)] = loop.call_later(self.page_timeout, self._hung, request)

    async def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if not request.meta.get("playwright"):
            return response
        page = request.meta.pop("playwright_page", None)
        self._disarm(request)  # the page answered; the screenshot has its own timeout
        healthy = False
        try:
            if page is not None and self.screenshots and not page.is_closed():
                shot = await self._screenshot(page, request.url, hashlib.sha256(response.body).hexdigest())
                if shot is not None:
                    request.meta["netsword_screenshot"] = shot
            healthy = page is not None and not page.is_closed()
        finally:
            await self._finish(request, page, reuse=healthy)
        self._inc("netsword/browser/pages")
        self._pages_done += 1
        if self.memory_at and self._pages_done in self.memory_at:
            self._record_memory(self._pages_done)
        return response

    async def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        if not request.meta.get("playwright"):
            return None
        page = request.meta.pop("playwright_page", None)
        self._inc("netsword/browser/failed")
        logger.info("browser page failed: %s (%s: %s)", request.url, type(exception).__name__,
                    str(exception).splitlines()[0][:200] if str(exception) else "")
        await self._finish(request, page)
        return None  # the retry middleware decides what happens next

    # -- pages and contexts -------------------------------------------------------------
    async def _screenshot(self, page: Any, url: str, html_sha256: str) -> tuple[str, str] | None:
        from pipelines.store.files import EvidenceStore

        try:
            png = await full_page_png(page, timeout=30.0, sessions=self._sessions)
        except Exception as exc:  # a screenshot failing must not lose the page itself
            logger.warning("screenshot failed: %s (%s)", url, str(exc).splitlines()[0][:200] if str(exc) else exc)
            self._inc("netsword/browser/screenshot_failed")
            return None
        self._inc("netsword/browser/screenshots")
        assert self.evidence_dir is not None
        store = EvidenceStore(self.evidence_dir)  # hashed and written off the reactor thread
        return await asyncio.get_running_loop().run_in_executor(None, store.put_screenshot, png, html_sha256)

    async def _finish(self, request: Request, page: Any, reuse: bool = False) -> None:
        """The request is done with its page: back to the pool (``reuse``: it answered and its context
        stays), else closed."""
        request.meta.pop("playwright_page_init_callback", None)  # a retry of the request is queued (pickled)
        self._disarm(request)
        name = request.meta.get("playwright_context", "")
        if page is not None:
            self._contexts.setdefault(name, page.context)
            if reuse and self.pool is not None and name not in self._retired and not page.is_closed():
                self.pool.put(name, page)
            else:
                await _close_quietly(page)
        self._done[name] += 1
        if name in self._retired and self._done[name] >= self._issued[name]:
            await self._close_context(name)

    async def _close_context(self, name: str) -> None:
        self._retired.discard(name)
        self._issued.pop(name, None)
        self._done.pop(name, None)
        if self.pool is not None:
            self.pool.forget(name)  # its idle pages close with it
        context = self._contexts.pop(name, None)
        if context is not None:
            try:
                await asyncio.wait_for(context.close(), 20.0)
            except Exception as exc:  # already gone with a crashed browser
                logger.debug("closing context %s: %s", name, exc)
            self._inc("netsword/browser/contexts_recycled")

    def _record_memory(self, n: int) -> None:
        rss = process_rss_mb(os.getpid())
        chromium = tree_pss_mb(os.getpid(), exclude_self=True)
        if self.stats is not None:
            self.stats.set_value(f"netsword/browser/rss_mb/{n}", round(rss, 1))
            self.stats.set_value(f"netsword/browser/chromium_pss_mb/{n}", round(chromium, 1))
        logger.info("after %d browser pages: crawler RSS %.0f MB, browser processes %.0f MB", n, rss, chromium)

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)


async def _close_quietly(page: Any, timeout: float = 10.0) -> None:
    try:
        if not page.is_closed():
            await asyncio.wait_for(page.close(), timeout)
    except Exception as exc:  # a crashed page, a closed browser, a renderer that does not answer
        logger.debug("closing page: %s", exc)


# --------------------------------------------------------------------------- memory (Linux /proc)


def process_rss_mb(pid: int) -> float:
    """Resident set size of one process in MB (0 if unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return process_rss_mb(pid)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def tree_pss_mb(pid: int, exclude_self: bool = False) -> float:
    """Proportional set size (shared pages split fairly) of a process tree in MB."""
    pids = descendants(pid) + ([] if exclude_self else [pid])
    return sum(_pss_mb(p) for p in pids)
