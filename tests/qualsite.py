"""A small marketplace on 127.0.0.1 whose shops show their licence on a separate 资质/亮照 page
(tests/test_subpages.py, profile tests/sites/qual.yml).

* ``/``                 links to the three shops
* ``/shop/1/``          shop 1: nothing about a licence on its home page; ``/shop/1/license`` shows it
* ``/shop/2/``          shop 2: its ``/shop/2/license`` page says 暂无 (no licence anywhere)
* ``/shop/3/``          shop 3: its qualification page ``/qual?token=...`` carries the shop id in the page
                        (``<body data-shop="3">``), not in the URL
* ``/shop/9/license``, ``/qual?token=lost``  qualification pages linked from ``/`` only, which tell no shop
                        (no shop page linked to the first, the second has no ``data-shop``)

A test changes pages between sweeps by setting ``pages[path]`` (the HTML served for that path).
"""

from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import urlsplit

from crawler.demo.serving import QuietHandler, ThreadedSite

VALID_USCC = "91350100M000100Y43"
INVALID_USCC = "91350100M000100Y44"


def _page(body: str, attrs: str = "") -> str:
    return f'<!doctype html><html><head><meta charset="utf-8"></head><body{attrs}>{body}</body></html>'


def shop_home(n: int, qual_href: str, intro: str = "主营数码配件") -> str:
    return _page(f'<h1 class="shop-name">测试店铺{n}号</h1><div class="intro">{intro}</div>'
                 f'<a class="qual-link" href="{qual_href}">资质</a>', f' data-shop-id="{n}"')


def license_page(company: str, uscc: str, attrs: str = "") -> str:
    return _page(f'<h2>亮照信息</h2><div class="license">营业执照 <span class="company">{company}</span> '
                 f'统一社会信用代码：<span class="uscc">{uscc}</span></div>', attrs)


def default_pages() -> dict[str, str]:
    return {
        "/": _page("".join(f'<a class="shop-link" href="/shop/{n}/">店铺{n}</a>' for n in (1, 2, 3))
                   + '<a class="shop-link" href="/shop/9/license">资质</a><a class="shop-link" href="/qual?token=lost">'
                     '资质</a>'),
        "/shop/1/": shop_home(1, "/shop/1/license"),
        "/shop/1/license": license_page("厦门一号贸易有限公司", VALID_USCC),
        "/shop/2/": shop_home(2, "/shop/2/license", "主营女装"),
        "/shop/2/license": _page("<h2>亮照信息</h2><p>暂无资质信息</p>"),
        "/shop/3/": shop_home(3, "/qual?token=7f3a"),
        "/qual": license_page("厦门三号商行", "92350102MA2Y0R7X1M", ' data-shop="3"'),
        "/shop/9/license": license_page("无主贸易有限公司", VALID_USCC),
        "/qual?token=lost": license_page("无主商行", VALID_USCC),
    }


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        site = self.server.site
        path = urlsplit(self.path).path
        with site.lock:
            site.hits[path] += 1
            html = site.pages.get(self.path, site.pages.get(path))
        body = (html or _page("not found")).encode("utf-8")
        self.send_response(200 if html is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class QualSite(ThreadedSite):
    """The shops with qualification pages; ``pages`` maps a path to the HTML served (a test may change it)."""

    __test__ = False
    handler = _Handler

    def __init__(self) -> None:
        self.pages = default_pages()
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def set(self, path: str, html: str) -> None:
        with self.lock:
            self.pages[path] = html
