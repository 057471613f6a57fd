"""A real webhook receiver on 127.0.0.1 for alert tests: keeps every POSTed JSON body."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from crawler.demo.serving import QuietHandler, ThreadedSite


class _Handler(QuietHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            data = {"raw": body.decode("utf-8", "replace")}
        hook = self.server.site
        with hook.lock:
            hook._received.append({"path": self.path, "json": data})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class WebhookReceiver(ThreadedSite):
    """``with WebhookReceiver() as hook:`` -> ``hook.url("/path")`` is a json:// Apprise URL."""

    handler = _Handler

    def __init__(self) -> None:
        self._received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def url(self, path: str = "/hook") -> str:  # type: ignore[override]  # an Apprise URL, not the site's
        return f"json://127.0.0.1:{self.port}{path}"

    @property
    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._received)

    def wait_for(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received
