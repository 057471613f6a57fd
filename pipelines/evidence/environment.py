"""The capture environment of a sweep, as the extraction record (电子数据提取笔录) states it.

Written into each sweep manifest's seal (so it is signed with it): netsword's version, the
operating system, Python, Scrapy, the browser that fetched the browser pages (its own version
string), the exit IP when configured (``exit_ip``: the address the sites see, behind a proxy or
NAT; netsword cannot know it by itself) and the host name. The clock source is the seal's own
``time_source`` (a TSA, or the machine's clock).
"""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
from importlib import metadata
from typing import Any


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


@functools.lru_cache(maxsize=8)
def browser_version(executable: str | None) -> str:
    """``chromium --version`` of that executable ("" when it cannot be run)."""
    if not executable:
        return ""
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""


def capture_environment(browser_executable: str | None = None, exit_ip: str = "") -> dict[str, Any]:
    """What the record names as the capture environment (English keys, plain values)."""
    return {"netsword": _version("netsword"), "os": platform.platform(), "python": platform.python_version(),
            "scrapy": _version("scrapy"), "playwright": _version("playwright"),
            "browser": browser_version(browser_executable), "exit_ip": exit_ip, "host": socket.gethostname()}
