"""The shop of tests/sites/polite.yml: 60 listings behind one page, served on a free 127.0.0.1 port; it counts
the requests it serves at once and refuses (503) more than its limit (the distributed politeness test), and
answers as slowly as asked (a sweep that lasts while the console test stops and resumes it)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CountingShop(ThreadingHTTPServer):
    """60 listings; counts the requests it serves at once and refuses (503) more than ``limit``."""

    daemon_threads = True

    def __init__(self, limit: int, pause: float = 0.03) -> None:
        super().__init__(("127.0.0.1", 0), _CountingHandler)
        self.limit, self.active, self.max_active, self.refused, self.robots = limit, 0, 0, 0, 0
        self.pause = pause  # seconds each answer takes
        self.starts: list[float] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CountingHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        srv: CountingShop = self.server  # type: ignore[assignment]
        with srv.lock:
            srv.active += 1
            srv.max_active = max(srv.max_active, srv.active)
            over = srv.active > srv.limit
            srv.refused += over
            srv.starts.append(time.monotonic())
            srv.robots += self.path == "/robots.txt"
        try:
            if over:
                self.send_response(503)
                self.end_headers()
                return
            time.sleep(srv.pause)
            if self.path == "/robots.txt":
                body = b"User-agent: *\nDisallow: /private/\n"
                ctype = "text/plain"
            elif self.path == "/":
                links = "".join(f'<a class="item" href="/item/{i}.html">{i}</a>' for i in range(60))
                body = f"<html><body>{links}<a class='item' href='/private/x.html'>x</a></body></html>".encode()
                ctype = "text/html; charset=utf-8"
            else:
                body = f"<html><body><h1>测试商品 {self.path}</h1><span class=price>¥9.90</span></body></html>".encode()
                ctype = "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with srv.lock:
                srv.active -= 1


class Serving:
    """``with Serving(CountingShop(...)) as shop:`` serves it on a thread, and stops it at the end."""

    def __init__(self, shop: CountingShop) -> None:
        self.shop = shop
        self.thread = threading.Thread(target=shop.serve_forever, daemon=True)

    def __enter__(self) -> CountingShop:
        self.thread.start()
        return self.shop

    def __exit__(self, *exc: object) -> None:
        self.shop.shutdown()
        self.shop.server_close()
