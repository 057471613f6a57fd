"""A hostile shop on 127.0.0.1 for crawler hardening tests (like Scrapy's tests/mockserver): one
real HTTP server on a free port, named misbehaving pages. The profile is tests/sites/hostile.yml.

Every page below is linked (``a.go``) from ``/``:

* ``/a/1.html``, ``/b/1.html``     two listings whose URLs end alike (ids from the whole path)
* ``/item.htm?id=7``, ``?id=8``     two listings told apart only by their query
* ``/dup/1.html?from=home``, ``?from=search``  one listing under two URLs (a tracking parameter)
* ``/gbk/1.html``                  a GBK listing, charset only in ``<meta http-equiv>`` (no header charset)
* ``/nocharset/1.html``            a UTF-8 listing with no charset anywhere
* ``/slowloris/1.html``            sends its headers, then one byte every half second (for a minute)
* ``/loop/a.html``                 302 -> ``/loop/b.html`` -> 302 -> ``/loop/a.html``
* ``/calendar/2026-01/``           a calendar: links to the previous and the next month, without end
* ``/huge/1.html``                 a 20 MB listing page (Content-Length set)
* ``/refresh/1.html``              a listing with ``<meta http-equiv=refresh content="60;url=/refresh/2.html">``
* ``/binary/1.html``               random bytes served as ``text/html``
* ``/fakegzip/1.html``             ``Content-Encoding: gzip`` on a body that is not gzip
* ``/alt/1.html``                  500 on every other request (1st, 3rd, ...), the listing otherwise
* ``/hostile/1.html``              a listing whose title has markup, a direction override, zero-width
                                   and control characters, entities, and 5,000 characters more
* ``/shop/s1/?page=1..3``          one shop's home over three pages (one shop, three shop pages)
* ``/slow/<id>.html?s=N``          (not linked) waits N seconds, then the listing
* ``/robots.txt``                  allows everything
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from crawler.demo.serving import QuietHandler, ThreadedSite

#: The pages ``/`` links to, by name (tests refer to them by these names).
PAGES: dict[str, str] = {
    "a1": "/a/1.html", "b1": "/b/1.html", "q7": "/item.htm?id=7", "q8": "/item.htm?id=8",
    "gbk": "/gbk/1.html", "nocharset": "/nocharset/1.html", "slowloris": "/slowloris/1.html",
    "loop": "/loop/a.html", "calendar": "/calendar/2026-01/", "huge": "/huge/1.html",
    "refresh": "/refresh/1.html", "binary": "/binary/1.html", "fakegzip": "/fakegzip/1.html",
    "alt": "/alt/1.html", "hostile": "/hostile/1.html", "shop": "/shop/s1/?page=1",
    "dup-home": "/dup/1.html?from=home", "dup-search": "/dup/1.html?from=search",
}
HUGE_BYTES = 20 * 1024 * 1024
#: The title of /hostile/1.html as served (after entity decoding).
HOSTILE_TITLE = ("<script>alert(1)</script> 高\u200b仿\u202e耐克\u202c \x07包邮 & \"引号\" " + "长" * 5000)


def listing_html(title: str, price: str = "¥199.00", head: str = "", charset: str = "utf-8",
                 extra: str = "") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return (f"<!doctype html><html><head>{meta}{head}<title>{title[:50]}</title></head><body>"
            f'<h1 class="title">{title}</h1><span class="price">{price}</span>'
            f'<div class="desc">描述</div><a class="shop-link" href="/shop/s1/?page=1">店铺</a>{extra}</body></html>')


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _calendar(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    prev = f"{year - (mon == 1)}-{12 if mon == 1 else mon - 1:02d}"
    nxt = f"{year + (mon == 12)}-{1 if mon == 12 else mon + 1:02d}"
    return (f'<!doctype html><html><head><meta charset="utf-8"></head><body><h2>{month}</h2>'
            f'<a class="cal" href="/calendar/{prev}/">上月</a> <a class="cal" href="/calendar/{nxt}/">下月</a>'
            "</body></html>")


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        site = self.server.site
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with site.lock:
            site.hits[self.path] += 1
            hit = site.hits[self.path]
        status, body, ctype, headers = 200, b"", "text/html; charset=utf-8", {}
        if path == "/":
            links = "".join(f'<a class="go" href="{u}">{n}</a>\n' for n, u in PAGES.items())
            body = f'<!doctype html><html><head><meta charset="utf-8"></head><body>{links}</body></html>'.encode()
        elif path == "/robots.txt":
            body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
        elif path in ("/a/1.html", "/b/1.html", "/dup/1.html"):
            body = listing_html(f"商品 {path[1]}").encode()
        elif path == "/item.htm":
            body = listing_html(f"商品 q{(query.get('id') or ['?'])[0]}").encode()
        elif path == "/gbk/1.html":
            head = '<meta http-equiv="Content-Type" content="text/html; charset=gbk">'
            body, ctype = listing_html("国标编码商品", price="199元", head=head, charset="").encode("gbk"), "text/html"
        elif path == "/nocharset/1.html":
            body, ctype = listing_html("无字符集商品", charset="").encode("utf-8"), "text/html"
        elif path == "/slowloris/1.html":
            self._slowloris()
            return
        elif path == "/loop/a.html":
            status, headers = 302, {"Location": "/loop/b.html"}
        elif path == "/loop/b.html":
            status, headers = 302, {"Location": "/loop/a.html"}
        elif path.startswith("/calendar/"):
            body = _calendar(path.strip("/").split("/")[1]).encode()
        elif path == "/huge/1.html":
            body = site.huge()
        elif path.startswith("/refresh/"):
            n = path.rsplit("/", 1)[-1].removesuffix(".html")
            head = '<meta http-equiv="refresh" content="60;url=/refresh/2.html">' if n == "1" else ""
            body = listing_html(f"自动刷新商品 {n}", head=head).encode()
        elif path == "/binary/1.html":
            body, ctype = random.Random(7).randbytes(4096), "text/html"
        elif path == "/fakegzip/1.html":
            body, headers = listing_html("假压缩商品").encode(), {"Content-Encoding": "gzip"}
        elif path == "/alt/1.html":
            if hit % 2:
                status, body = 500, b"<html><body>error</body></html>"
            else:
                body = listing_html("隔次出错商品").encode()
        elif path == "/hostile/1.html":
            body = listing_html(_escape(HOSTILE_TITLE)).encode()
        elif path == "/shop/s1/":
            page = int((query.get("page") or ["1"])[0])
            nxt = f'<a class="next" href="/shop/s1/?page={page + 1}">下一页</a>' if page < 3 else ""
            body = (f'<!doctype html><html><head><meta charset="utf-8"></head><body data-shop-id="s1">'
                    f'<h1 class="shop-name">敌意测试店</h1>{nxt}</body></html>').encode()
        elif path.startswith("/slow/"):
            time.sleep(float((query.get("s") or ["3"])[0]))
            body = listing_html("慢商品").encode()
        else:
            status, body = 404, b"<html><body>not found</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def _slowloris(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
            for _ in range(120):
                if self.server.site.stopping.is_set():
                    break
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.5)


class HostileSite(ThreadedSite):
    """The hostile shop; ``hits`` counts requests per path and query (``/item.htm?id=7``)."""

    __test__ = False
    handler = _Handler

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._huge: bytes | None = None

    def huge(self) -> bytes:
        with self.lock:
            if self._huge is None:
                filler = "<p>" + "大" * 1000 + "</p>\n"
                n = HUGE_BYTES // len(filler.encode()) + 1
                self._huge = listing_html("巨大商品", extra=filler * n).encode()
            return self._huge

    def stop(self) -> None:
        self.stopping.set()  # pages that stall on purpose end now
        super().stop()
