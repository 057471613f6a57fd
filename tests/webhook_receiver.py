"""A real webhook receiver on 127.0.0.1 for alert tests: keeps every POSTed JSON body."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            data = {"raw": body.decode("utf-8", "replace")}
        with self.server.lock:
            self.server.received.append({"path": self.path, "json": data})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    received: list[dict[str, Any]]
    lock: threading.Lock


class WebhookReceiver:
    """``with WebhookReceiver() as hook:`` -> ``hook.url("/path")`` is a json:// Apprise URL."""

    def __enter__(self) -> WebhookReceiver:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.received, self.httpd.lock = [], threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    @property
    def received(self) -> list[dict[str, Any]]:
        with self.httpd.lock:
            return list(self.httpd.received)

    def wait_for(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received
