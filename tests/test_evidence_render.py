"""Screenshots of stored snapshots on the render thread: a real Chromium (the headless shell when
installed), its own event loop, a fallback when the preferred browser does not start."""

from __future__ import annotations

import asyncio
import threading

import pytest

from crawler.browser import find_chromium, find_headless_shell, launch_options, snapshot_launch_options
from pipelines.evidence.render import RenderThread

pytestmark = pytest.mark.skipif(not find_chromium(), reason="no Chromium")

PAGE = "<html lang='zh-CN'><head><meta charset='utf-8'></head><body><h1>高仿耐克运动鞋</h1>" \
       "<img src='https://example.com/a.png'></body></html>".encode()


def _render(renderer_options: dict, fallback: dict | None = None, cdp: bool = True) -> tuple[list[bytes], list[str]]:
    async def main() -> tuple[list[bytes], list[str]]:
        caller = threading.current_thread().name
        renderer = RenderThread(renderer_options, fallback_options=fallback, cdp=cdp)
        try:
            pngs = list(await asyncio.gather(*(renderer.screenshot(PAGE, "http://shop.test/1") for _ in range(3))))
        finally:
            await renderer.close()
        return pngs, [caller, renderer._thread.name, str(renderer._thread.is_alive()), renderer.engine]

    return asyncio.run(main())


def test_render_thread_screenshots_snapshots_off_the_callers_loop():
    pngs, (caller, thread, alive, engine) = _render(snapshot_launch_options(launch_options()))
    assert all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert len(set(pngs)) == 1  # the same HTML, the same picture
    assert thread == "netsword-render" != caller and alive == "False"  # closed with the renderer
    assert engine == "cdp"


def test_the_devtools_pipe_and_playwright_take_the_same_picture():
    options = snapshot_launch_options(launch_options())
    over_pipe, _ = _render(options, cdp=True)
    through_playwright, info = _render(options, cdp=False)
    assert info[-1] == "playwright"
    assert over_pipe[0] == through_playwright[0]


def test_a_browser_that_does_not_start_falls_back_to_the_crawls():
    broken = {**launch_options(), "executable_path": "/nonexistent/chromium-headless-shell"}
    pngs, info = _render(broken, fallback=launch_options())
    assert all(p[:4] == b"\x89PNG" for p in pngs)
    assert info[-1] == "playwright"  # the pipe could not start it; Playwright fell back to the crawl's browser


def test_snapshot_browser_is_the_headless_shell_when_installed_unless_configured():
    base = {"headless": True, "args": ["--no-sandbox"], "executable_path": "/usr/bin/chromium"}
    assert snapshot_launch_options(base, "/opt/chrome")["executable_path"] == "/opt/chrome"
    want = find_headless_shell() or "/usr/bin/chromium"
    opts = snapshot_launch_options(base)
    assert opts["executable_path"] == want and opts["args"] == ["--no-sandbox"]
    assert base["executable_path"] == "/usr/bin/chromium"  # the crawl's own options are left alone


def test_a_crashed_snapshot_browser_is_started_again():
    import contextlib
    import os
    import signal

    from pipelines.evidence.cdp import CdpError, CdpRenderer, flags_from

    options = snapshot_launch_options(launch_options())

    async def main() -> tuple[bytes, bytes]:
        renderer = CdpRenderer(options["executable_path"], list(flags_from(options)))
        try:
            first = await renderer.screenshot(PAGE)
            os.kill(renderer._pipe.pid, signal.SIGKILL)
            # the render that meets the dead browser may fail (its finding keeps the pending mark) ...
            with contextlib.suppress(CdpError):
                await renderer.screenshot(PAGE)
            return first, await renderer.screenshot(PAGE)  # ... the next one starts a new browser
        finally:
            await renderer.close()

    first, again = asyncio.run(main())
    assert first == again


def test_profiles_left_by_killed_sweeps_are_removed():
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from pipelines.evidence.cdp import PROFILE_PREFIX, _remove_stale_profiles

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    gone = Path(tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{dead}-"))
    (gone / "Default").mkdir()
    mine = Path(tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-"))
    try:
        _remove_stale_profiles()
        assert not gone.exists() and mine.is_dir()
    finally:
        mine.rmdir()
