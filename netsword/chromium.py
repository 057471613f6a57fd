"""Where the Chromium binary is: the one lookup for the crawl, the evidence captures and the PDF documents.

Order: ``$NETSWORD_CHROMIUM``, Debian's chromium (the real binary first: /usr/bin/chromium is a wrapper
script that prints a warning), a chromium on PATH, then Playwright's downloaded browser (where a user
has internet). None when there is none.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
)


def playwright_chromium() -> str | None:
    """Playwright's own downloaded Chromium, if any."""
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache" / "ms-playwright"))
    for exe in sorted(cache.glob("chromium*/chrome-linux*/chrome"), reverse=True):
        if os.access(exe, os.X_OK):
            return str(exe)
    return None


def find_chromium() -> str | None:
    """Path of a usable Chromium, or None."""
    env = os.environ.get("NETSWORD_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for path in CANDIDATES:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    which = shutil.which("chromium") or shutil.which("chromium-browser")
    if which:
        return which
    return playwright_chromium()
