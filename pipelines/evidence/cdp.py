"""Rendering stored snapshots in a Chromium driven over its DevTools pipe, without Playwright.

A snapshot render is five DevTools commands (set the document, wait for its load event, measure,
capture). Through Playwright each goes through its Node.js driver and its Python object model,
which cost as much CPU as a third of the render itself, plus a driver to start per sweep.
:class:`CdpRenderer` speaks the DevTools protocol to the browser directly, over the pipe Chromium
opens with ``--remote-debugging-pipe`` (file descriptors 3 and 4, messages ended by a NUL byte;
no port is opened). Same page as :class:`~pipelines.evidence.render.SnapshotRenderer`: its own
browser context, network off (``Network.emulateNetworkConditions``), scripts off, a 1280x900
viewport, locale zh-CN, Playwright's launch flags (so the pictures are the same), pages reused.

Used by :class:`~pipelines.evidence.render.RenderThread`, which falls back to Playwright when
this browser cannot be started.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The flags Playwright launches Chromium with (those that change what a page looks like or what
#: the browser does in the background), so a picture is the same whichever way it was taken.
PLAYWRIGHT_FLAGS = [
    "--disable-field-trial-config", "--disable-background-networking", "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows", "--disable-back-forward-cache", "--disable-breakpad",
    "--disable-component-extensions-with-background-pages", "--disable-component-update",
    "--no-default-browser-check", "--disable-default-apps", "--disable-dev-shm-usage", "--disable-extensions",
    "--disable-features=PaintHolding,ThirdPartyStoragePartitioning,MediaRouter,OptimizationHints",
    "--enable-features=CDPScreenshotNewSurface", "--allow-pre-commit-input", "--disable-hang-monitor",
    "--disable-ipc-flooding-protection", "--disable-popup-blocking", "--disable-prompt-on-repost",
    "--disable-renderer-backgrounding", "--force-color-profile=srgb", "--metrics-recording-only",
    "--no-first-run", "--password-store=basic", "--use-mock-keychain", "--no-service-autorun",
    "--disable-search-engine-choice-screen", "--disable-sync", "--headless", "--hide-scrollbars", "--mute-audio",
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4",
]
VIEWPORT = {"width": 1280, "height": 900}
LOCALE = "zh-CN"
SCREENSHOT_MAX_HEIGHT = 16_000
#: Profile folders are ``<tmp>/netsword-render-<pid>-<random>``: a later renderer removes those of dead processes.
PROFILE_PREFIX = "netsword-render-"


class CdpError(RuntimeError):
    """A DevTools command failed, timed out, or the browser went away."""


class _Reader(asyncio.Protocol):
    def __init__(self, pipe: CdpPipe) -> None:
        self.pipe, self.buffer = pipe, bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\0")) >= 0:
            message, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 1:]
            self.pipe.dispatch(json.loads(message))

    def connection_lost(self, exc: Exception | None) -> None:
        self.pipe.lost(exc)


class _Writer(asyncio.Protocol):
    def __init__(self, pipe: CdpPipe) -> None:
        self.pipe = pipe

    def connection_lost(self, exc: Exception | None) -> None:  # the browser died: writing failed
        self.pipe.lost(exc)


class CdpPipe:
    """One Chromium process and the DevTools protocol over its pipe."""

    def __init__(self, executable: str, args: list[str]) -> None:
        self.executable, self.args = executable, args
        self.pid = 0
        self.profile = ""
        self._next = 0
        self._calls: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[tuple[str, str], list[asyncio.Future[dict[str, Any]]]] = {}
        self._writer: asyncio.WriteTransport | None = None
        self.closed = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _remove_stale_profiles)
        self.profile = tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-")
        to_browser, from_browser = os.pipe(), os.pipe()  # (read, write) each
        null = os.open(os.devnull, os.O_RDWR)
        argv = [self.executable, *PLAYWRIGHT_FLAGS, *self.args, f"--user-data-dir={self.profile}",
                "--remote-debugging-pipe", "--no-startup-window"]
        try:
            # in the crawl's process group (a kill of the sweep takes it along); it also quits when
            # the pipe closes
            self.pid = os.posix_spawn(self.executable, argv, dict(os.environ), file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2),
                (os.POSIX_SPAWN_DUP2, to_browser[0], 3), (os.POSIX_SPAWN_DUP2, from_browser[1], 4)])
        except BaseException:
            os.close(to_browser[1])
            os.close(from_browser[0])
            raise
        finally:
            for fd in (null, to_browser[0], from_browser[1]):
                os.close(fd)
        self._writer, _ = await loop.connect_write_pipe(lambda: _Writer(self), os.fdopen(to_browser[1], "wb", 0))
        await loop.connect_read_pipe(lambda: _Reader(self), os.fdopen(from_browser[0], "rb", 0))

    def dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            future = self._calls.pop(message["id"], None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(CdpError(f"{message['error'].get('message')} ({message['error']})"))
                else:
                    future.set_result(message.get("result") or {})
            return
        waiting = self._events.pop((message.get("sessionId", ""), message.get("method", "")), [])
        for future in waiting:
            if not future.done():
                future.set_result(message.get("params") or {})

    def lost(self, exc: Exception | None) -> None:
        self.closed = True
        error = CdpError(f"the browser went away ({exc or 'pipe closed'})")
        for future in [*self._calls.values(), *(f for fs in self._events.values() for f in fs)]:
            if not future.done():
                future.set_exception(error)
        self._calls.clear()
        self._events.clear()

    def event(self, method: str, session: str = "") -> asyncio.Future[dict[str, Any]]:
        """A future for the next ``method`` event of ``session`` (ask before the command that causes it)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._events.setdefault((session, method), []).append(future)
        return future

    async def send(self, method: str, params: dict[str, Any] | None = None, session: str = "",
                   timeout: float = 30.0) -> dict[str, Any]:
        if self.closed or self._writer is None or self._writer.is_closing():
            raise CdpError("the browser went away")
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._calls[self._next] = future
        self._writer.write(json.dumps(message).encode() + b"\0")
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._calls.pop(message["id"], None)
            raise CdpError(f"{method}: no answer in {timeout:.0f} s") from None

    async def close(self) -> None:
        if self.pid:
            with contextlib.suppress(CdpError, OSError):
                await self.send("Browser.close", timeout=5.0)
            if not await asyncio.get_running_loop().run_in_executor(None, _reap, self.pid, 10.0):
                with contextlib.suppress(OSError):
                    os.kill(self.pid, signal.SIGKILL)
                await asyncio.get_running_loop().run_in_executor(None, _reap, self.pid, 5.0)
            self.pid = 0
        if self._writer is not None:
            self._writer.close()
        self.closed = True
        if self.profile:
            await asyncio.get_running_loop().run_in_executor(None, _remove, self.profile)
            self.profile = ""


def _reap(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to exit (True) for up to ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def _remove_stale_profiles() -> None:
    """Profile folders of renderers whose process is gone (a sweep killed with SIGKILL)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PROFILE_PREFIX}*-*"):
        pid = folder.name[len(PROFILE_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # alive, someone else's
            continue


def _remove(folder: str, attempts: int = 50) -> None:
    """Remove the browser's profile folder; its last helper processes may still be writing into it
    for a moment after the browser process itself exited."""
    import time

    for _ in range(attempts):
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.exists(folder):
            return
        time.sleep(0.1)
    logger.debug("snapshot browser profile %s left behind", folder)


class CdpPage:
    """A page of the renderer's browser context, set up like the Playwright snapshot context."""

    def __init__(self, pipe: CdpPipe, target: str, session: str, frame: str) -> None:
        self.pipe, self.target, self.session, self.frame = pipe, target, session, frame
        self.uses = 0

    @classmethod
    async def open(cls, pipe: CdpPipe, context: str) -> CdpPage:
        # a window each: the new headless mode captures only a window's visible tab
        target = await pipe.send("Target.createTarget", {"url": "about:blank", "browserContextId": context,
                                                         "newWindow": True})
        session = (await pipe.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}))
        sid = session["sessionId"]
        for method, params in (
                ("Page.enable", {}), ("Network.enable", {}),
                ("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1,
                                                      "uploadThroughput": -1}),
                ("Emulation.setScriptExecutionDisabled", {"value": True}),
                ("Emulation.setDeviceMetricsOverride", {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False,
                                                        "screenWidth": VIEWPORT["width"],
                                                        "screenHeight": VIEWPORT["height"]}),
                ("Emulation.setLocaleOverride", {"locale": LOCALE})):
            await pipe.send(method, params, sid)
        tree = await pipe.send("Page.getFrameTree", session=sid)
        return cls(pipe, target["targetId"], sid, tree["frameTree"]["frame"]["id"])

    async def render(self, html: str, timeout: float) -> bytes:
        """The document replaced by ``html``; its full-page PNG once loaded."""
        loaded = self.pipe.event("Page.loadEventFired", self.session)
        try:
            await self.pipe.send("Page.setDocumentContent", {"frameId": self.frame, "html": html}, self.session,
                                 timeout)
            await asyncio.wait_for(loaded, timeout)
        except TimeoutError:
            raise CdpError(f"the snapshot did not load in {timeout:.0f} s") from None
        finally:
            loaded.cancel()  # no-op once it fired; else nobody waits for it any more
        metrics = await self.pipe.send("Page.getLayoutMetrics", session=self.session, timeout=timeout)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": math.ceil(size["width"]),
                "height": min(math.ceil(size["height"]), SCREENSHOT_MAX_HEIGHT), "scale": 1}
        shot = await self.pipe.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "optimizeForSpeed": True, "clip": clip},
            self.session, timeout)
        self.uses += 1
        return base64.b64decode(shot["data"])

    async def close(self) -> None:
        with contextlib.suppress(CdpError):
            await self.pipe.send("Target.closeTarget", {"targetId": self.target}, timeout=5.0)


class CdpRenderer:
    """``screenshot(html)`` / ``close()`` like :class:`~pipelines.evidence.render.SnapshotRenderer`:
    one browser (started on first use, again after a crash), one context, at most ``concurrency``
    pages at once, each reused for ``reuse_pages`` snapshots."""

    def __init__(self, executable: str, args: list[str] | None = None, concurrency: int = 2,
                 timeout_ms: int = 15_000, reuse_pages: int = 100) -> None:
        self.executable, self.args = executable, list(args or [])
        self.timeout = timeout_ms / 1000
        self.reuse_pages = reuse_pages
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._lock = asyncio.Lock()
        self._pipe: CdpPipe | None = None
        self._context = ""
        self._idle: list[CdpPage] = []

    async def start(self) -> None:
        """Start the browser (raises :class:`CdpError` or ``OSError`` when it cannot)."""
        async with self._lock:
            if self._pipe is not None and not self._pipe.closed:
                return
            if self._pipe is not None:
                await self._pipe.close()
            self._idle.clear()
            pipe = CdpPipe(self.executable, self.args)
            try:
                await pipe.start()
                self._context = (await pipe.send("Target.createBrowserContext", {"disposeOnDetach": True},
                                                 timeout=self.timeout))["browserContextId"]
            except BaseException:
                await pipe.close()
                raise
            self._pipe = pipe

    async def screenshot(self, html: bytes, url: str = "", content_type: str = "") -> bytes:
        """A full-page PNG of ``html`` (decoded as the crawler decoded it, :func:`~.charset.decode_html`)."""
        from pipelines.evidence.charset import decode_html

        _encoding, text = decode_html(html, content_type)
        async with self._sem:
            await self.start()
            page = await self._page()
            keep = False
            try:
                png = await page.render(text, self.timeout)
                keep = page.uses < self.reuse_pages
                return png
            finally:
                if keep:
                    self._idle.append(page)
                else:
                    await page.close()

    async def _page(self) -> CdpPage:
        while self._idle:
            page = self._idle.pop()
            if page.pipe is self._pipe:
                return page
        assert self._pipe is not None
        return await CdpPage.open(self._pipe, self._context)

    async def close(self) -> None:
        self._idle.clear()
        if self._pipe is not None:
            await self._pipe.close()
            self._pipe = None


def flags_from(launch_options: dict[str, Any]) -> Iterator[str]:
    """The command-line flags of Playwright launch options (``args``; ``headless`` is always on)."""
    yield from (a for a in launch_options.get("args") or () if a not in PLAYWRIGHT_FLAGS)
