"""A small misbehaving shop on 127.0.0.1 for crawler tests: named bad resources, script-heavy pages.

Resources (``n`` = how many times to misbehave before answering normally, per path):

* ``/``                      links to everything below that a test profile follows
* ``/item/<id>.html``         a plain listing page (title, price)
* ``/flaky/<code>/<id>.html?n=2``  answers ``code`` (429 with ``Retry-After: 1``, 503 ...) n times, then the listing
* ``/dead/<id>.html``         always 500
* ``/slow/<id>.html?s=3``      waits s seconds, then the listing
* ``/hang/<id>.html?n=1``      a page whose script never stops (n times), then the listing
* ``/crash/<id>.html?n=1``     a page that exhausts the renderer's memory (crashes the tab when the
                              browser runs with a small ``--max-old-space-size``), then the listing
* ``/scroll/``                 infinite scroll: 10 more cards each time the page is scrolled to the end (50)
* ``/loadmore/``               a "load more" button adding 10 cards per click (40)
* ``/private/<id>.html``      disallowed by robots.txt
* ``/robots.txt``             ``Disallow: /private/``
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from crawler.demo.serving import QuietHandler, ThreadedSite


def listing_html(item_id: str, note: str = "") -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>商品 {item_id}</title></head>
<body data-listing-id="{item_id}"><h1 class="title">测试商品 {item_id}{note}</h1>
<span class="price">¥{100 + sum(map(ord, item_id)) % 900}.00</span><div class="desc">描述 {item_id}</div>
<a class="shop-link" href="/">测试店铺</a></body></html>"""


HANG_HTML = """<!doctype html><html><head><meta charset="utf-8"></head><body><h1 class="title">hang</h1>
<script>setTimeout(function () { while (true) {} }, 30);</script></body></html>"""

CRASH_HTML = """<!doctype html><html><head><meta charset="utf-8"></head><body><h1 class="title">crash</h1>
<script>const a = []; while (true) { a.push(new Array(1e6).fill(Math.random())); }</script></body></html>"""

SCROLL_HTML = """<!doctype html><html><head><meta charset="utf-8"><style>.card{height:300px}</style></head>
<body><div id="cards"></div><script>
var n = 0;
function more() { for (var i = 0; i < 10 && n < 50; i++, n++) {
  var d = document.createElement('div'); d.className = 'card';
  var a = document.createElement('a'); a.className = 'item-link'; a.href = '/item/S' + n + '.html';
  a.textContent = 'item ' + n; d.appendChild(a); document.getElementById('cards').appendChild(d); } }
more();
window.addEventListener('scroll', function () {
  if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 5) { setTimeout(more, 50); } });
</script></body></html>"""

LOADMORE_HTML = """<!doctype html><html><head><meta charset="utf-8"></head>
<body><div id="cards"></div><button class="load-more">加载更多</button><script>
var n = 0;
function more() { for (var i = 0; i < 10 && n < 40; i++, n++) {
  var d = document.createElement('div'); d.className = 'card';
  var a = document.createElement('a'); a.className = 'item-link'; a.href = '/item/M' + n + '.html';
  a.textContent = 'item ' + n; d.appendChild(a); document.getElementById('cards').appendChild(d); }
  if (n >= 40) { document.querySelector('.load-more').style.display = 'none'; } }
more();
document.querySelector('.load-more').addEventListener('click', function () { setTimeout(more, 30); });
</script></body></html>"""

ROBOTS = "User-agent: *\nDisallow: /private/\n"


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        site = self.server.site
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with site.lock:
            site.hits[path] += 1
            hit = site.hits[path]
        n = int((query.get("n") or ["1"])[0])
        status, body, headers = 200, "", {}
        item_id = path.rsplit("/", 1)[-1].removesuffix(".html")
        if path == "/":
            body = site.home
        elif path == "/robots.txt":
            body, headers = ROBOTS, {"Content-Type": "text/plain"}
        elif path.startswith(("/item/", "/private/")):
            body = listing_html(item_id)
        elif path.startswith("/flaky/"):
            code = int(path.split("/")[2])
            if hit <= n:
                status, body = code, f"<html><body>error {code}</body></html>"
                if code == 429:
                    headers["Retry-After"] = "1"
            else:
                body = listing_html(item_id, f" (after {n} × {code})")
        elif path.startswith("/dead/"):
            status, body = 500, "<html><body>broken</body></html>"
        elif path.startswith("/slow/"):
            time.sleep(float((query.get("s") or ["3"])[0]))
            body = listing_html(item_id)
        elif path.startswith("/hang/"):
            body = HANG_HTML if hit <= n else listing_html(item_id)
        elif path.startswith("/crash/"):
            body = CRASH_HTML if hit <= n else listing_html(item_id)
        elif path == "/scroll/":
            body = SCROLL_HTML
        elif path == "/loadmore/":
            body = LOADMORE_HTML
        else:
            status, body = 404, "<html><body>not found</body></html>"
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "text/html; charset=utf-8"))
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)


class TestSite(ThreadedSite):
    """The misbehaving shop; ``home`` is the HTML of ``/`` (a test sets the links it wants)."""

    __test__ = False  # not a pytest class
    handler = _Handler

    def __init__(self, home_links: list[str] | None = None) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        links = "".join(f'<a class="go" href="{h}">{h}</a>\n' for h in home_links or [])
        self.home = f'<!doctype html><html><head><meta charset="utf-8"></head><body>{links}</body></html>'
