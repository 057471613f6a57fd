"""Launching Chromium for Playwright on machines that cannot download one (the binary: netsword.chromium)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from netsword.chromium import find_chromium  # re-exported: the crawl's browser lookup

#: Flags that keep a headless Chromium quiet on a machine with a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch_options() -> dict:
    """PLAYWRIGHT_LAUNCH_OPTIONS for scrapy-playwright (and for our own Playwright uses)."""
    opts: dict = {"headless": True, "args": list(CHROMIUM_ARGS)}
    exe = find_chromium()
    if exe:
        opts["executable_path"] = exe
    return opts


#: Chromium's old headless mode as its own binary (Debian: chromium-headless-shell).
_SHELL_CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium-headless-shell",
)


def find_headless_shell() -> str | None:
    """Path of ``chromium-headless-shell`` (Debian's, or Playwright's download), or None."""
    for path in _SHELL_CANDIDATES:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache" / "ms-playwright"))
    for exe in sorted(cache.glob("chromium_headless_shell*/chrome-*/*headless_shell"), reverse=True):
        if os.access(exe, os.X_OK):
            return str(exe)
    return None


def snapshot_launch_options(base: dict | None = None, executable: str = "") -> dict:
    """Launch options for rendering stored snapshots (:mod:`pipelines.evidence.render`): ``base``
    (the crawl's PLAYWRIGHT_LAUNCH_OPTIONS) with ``executable``, else ``chromium-headless-shell``
    when installed (lighter; a snapshot needs no scripts, no network, no stealth), else the
    crawl's own browser."""
    opts = dict(base or launch_options())
    exe = executable or find_headless_shell()
    if exe:
        opts["executable_path"] = exe
        opts.pop("channel", None)
    return opts


#: Tallest screenshot taken (Chromium cannot capture much beyond 16384 px in one image).
SCREENSHOT_MAX_HEIGHT = 16_000


async def full_page_png(page: Any, timeout: float = 30.0, max_height: int = SCREENSHOT_MAX_HEIGHT,
                        sessions: MutableMapping[Any, Any] | None = None) -> bytes:
    """A full-page PNG of a Playwright page, through Chromium's own capture (about twice as fast as
    ``page.screenshot(full_page=True)``: no viewport resizing, fast PNG encoding; still lossless).
    Falls back to Playwright's screenshot on other browsers.

    ``sessions`` (page -> CDP session, e.g. a ``weakref.WeakKeyDictionary``) keeps the page's CDP
    session open for its next screenshot (a reused page saves two round trips to the browser);
    without it the session is detached after the capture. A kept session that fails is dropped and
    the capture tried once more with a new one."""
    cached = sessions.pop(page, None) if sessions is not None else None
    if cached is not None:
        try:
            png = await _capture(cached, timeout, max_height)
        except Exception:  # a session of a page that went away or navigated out of process: a new one
            with contextlib.suppress(Exception):
                await cached.detach()
        else:
            sessions[page] = cached  # type: ignore[index]
            return png
    try:
        cdp = await page.context.new_cdp_session(page)
    except Exception:  # not Chromium
        return await page.screenshot(full_page=True, type="png", timeout=timeout * 1000)
    try:
        png = await _capture(cdp, timeout, max_height)
    except BaseException:
        with contextlib.suppress(Exception):
            await cdp.detach()
        raise
    if sessions is not None:
        sessions[page] = cdp
    else:
        with contextlib.suppress(Exception):
            await cdp.detach()
    return png


async def _capture(cdp: Any, timeout: float, max_height: int) -> bytes:
    metrics = await asyncio.wait_for(cdp.send("Page.getLayoutMetrics"), timeout)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    clip = {"x": 0, "y": 0, "width": math.ceil(size["width"]),
            "height": min(math.ceil(size["height"]), max_height), "scale": 1}
    shot = await asyncio.wait_for(cdp.send("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "optimizeForSpeed": True, "clip": clip}), timeout)
    return base64.b64decode(shot["data"])
