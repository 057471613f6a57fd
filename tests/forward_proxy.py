"""A small real HTTP forward proxy on 127.0.0.1 (plain http, no CONNECT): what a site sees through a
proxy in the identity tests. It forwards ``GET http://host:port/path`` to the host and adds
``Via: 1.1 <name>``, so the site can tell which proxy a request came through. ``refuse=True``: it
answers 429 itself, as a proxy whose address the site has blocked."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self.send_error(400, "absolute http:// URL expected")
            return
        with self.server.lock:
            self.server.count += 1
        if self.server.refuse:  # a proxy the site has blocked: what such a proxy passes on
            body = b"too many requests from this address"
            self.send_response(429)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Via"] = f"1.1 {self.server.name}"
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        try:
            conn.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            self.send_error(502, str(exc))
            return
        finally:
            conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    name: str
    refuse: bool
    count: int
    lock: threading.Lock


class ForwardProxy:
    def __init__(self, name: str, refuse: bool = False) -> None:
        self.name, self.refuse = name, refuse

    def __enter__(self) -> ForwardProxy:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.name, self.httpd.refuse = self.name, self.refuse
        self.httpd.count, self.httpd.lock = 0, threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def count(self) -> int:
        return self.httpd.count
