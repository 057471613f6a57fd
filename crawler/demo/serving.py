"""One local site's lifecycle: a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0 = a free port) in a daemon thread.

The demo marketplace, the bazaar and the tests' small sites subclass :class:`ThreadedSite` and give only their
request handler (``handler``, a :class:`QuietHandler`) and their state; the handler reaches the site as
``self.server.site``.

>>> class Shop(ThreadedSite):        # doctest: +SKIP
...     handler = ShopHandler
>>> with Shop() as shop:
...     urllib.request.urlopen(shop.url + "/")
"""

from __future__ import annotations

import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


class SiteServer(ThreadingHTTPServer):
    """The HTTP server of one :class:`ThreadedSite` (``site``); a thread per request, none left at exit."""

    daemon_threads = True
    site: Any


class QuietHandler(BaseHTTPRequestHandler):
    """A site's request handler: no request log on stderr; ``self.server.site`` is the site."""

    server: SiteServer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ThreadedSite:
    """start/stop (or ``with``), ``url``; subclasses set ``handler`` (and ``server_class`` to change the server)."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]
    server_class: ClassVar[type[SiteServer]] = SiteServer
    thread_name: ClassVar[str] = "site"
    host: str = "127.0.0.1"
    port: int = 0
    _httpd: SiteServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = self.server_class((self.host, self.port), self.handler)
        httpd.site = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, name=f"{self.thread_name}-{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_until_interrupted(self) -> None:
        """Keep serving in the foreground (the command-line servers) until Ctrl-C; then stop."""
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


def paginate(items: list[Any], query: dict[str, list[str]], page_size: int) -> tuple[int | None, int, list[Any]]:
    """(page number or None if ``?page=`` is invalid, page count, items on that page) of a listing page."""
    pages = max(1, math.ceil(len(items) / page_size))
    raw = (query.get("page") or ["1"])[0]
    if not raw.isdigit() or not 1 <= int(raw) <= pages:
        return None, pages, []
    n = int(raw)
    return n, pages, items[(n - 1) * page_size:n * page_size]
