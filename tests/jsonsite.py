"""A small shop on 127.0.0.1 that serves its data as JSON, sitemaps and schema.org markup (tests of
crawler.jsonapi, crawler.capture, crawler.seeds, the structured-data fallback, keyword seeds).

* ``/api/items?page=N``        a JSON list, page numbers 1..3 (4 records each), page 4 empty:
                               ``{"data": {"items": [{"id", "title", "price", "detail_url"}], "page": N}}``
* ``/api/item/<id>``           one record as JSON: ``{"data": {"title", "price", "shop": {"id", "name"}}}``
* ``/api/cursor?cursor=C``     a JSON list paged by cursor (three pages, then ``"next": null``);
                               its records carry their listing fields
* ``/app/feed``                a browser page whose cards come from ``fetch('/api/feed')`` (the listing
                               data arrives only by that call)
* ``/api/feed``                the feed's JSON
* ``/sitemap.xml``             a sitemap index -> ``/sitemap-items.xml.gz`` (gzip urlset) and
                               ``/sitemap-pages.xml`` (urlset: schema.org pages, and URLs no page type wants)
* ``/robots.txt``              names ``/sitemap-robots.xml`` (a urlset with one more page)
* ``/ld/<id>.html``, ``/md/<id>.html``, ``/rdfa/<id>.html``  listing pages whose title and price are only
                               in JSON-LD / microdata / RDFa (the visible markup has no classes to select)
* ``/search?q=TERM``           search results: links to ``/ld/<term-code>.html``
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from crawler.demo.serving import QuietHandler, ThreadedSite

PAGE_SIZE, PAGES = 4, 3
CURSORS = {"": ("c2", 0), "c2": ("c3", 1), "c3": (None, 2)}  # cursor -> (next cursor, page index)
#: the names of the listings, by id (the schema.org pages and the JSON records)
TITLES = {f"P{n}": f"高仿运动鞋 第{n}款" for n in range(1, PAGE_SIZE * PAGES + 1)}


def _record(n: int) -> dict[str, Any]:
    return {"id": f"P{n}", "title": TITLES[f"P{n}"], "price": 100.0 + n, "detail_url": f"/api/item/P{n}"}


def items_page(page: int) -> dict[str, Any]:
    recs = [_record(n) for n in range((page - 1) * PAGE_SIZE + 1, page * PAGE_SIZE + 1)] if 1 <= page <= PAGES else []
    return {"data": {"items": recs, "page": page}}


def cursor_page(cursor: str) -> dict[str, Any]:
    nxt, index = CURSORS[cursor]
    recs = [{"sku": f"C{index}{k}", "name": f"精仿原单包 C{index}{k}", "price": {"value": 50 + k, "currency": "CNY"},
             "shop": {"id": "S9"}} for k in range(3)]
    return {"items": recs, "next": nxt}


FEED = {"items": [{"id": f"F{k}", "title": f"顶级复刻手表 F{k}", "price": f"¥{300 + k}"} for k in range(5)]}

FEED_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>feed</title></head>
<body><div id="cards"></div><script>
fetch('/api/feed').then(function (r) { return r.json(); }).then(function (d) {
  d.items.forEach(function (it) {
    var c = document.createElement('div'); c.className = 'card'; c.textContent = it.title;
    document.getElementById('cards').appendChild(c); }); });
</script></body></html>"""


def ld_html(item_id: str, title: str) -> str:
    data = {"@context": "https://schema.org", "@type": "Product", "name": title, "sku": item_id,
            "description": f"{title}，专柜品质", "brand": {"@type": "Brand", "name": "耐克"},
            "offers": {"@type": "Offer", "price": "199.00", "priceCurrency": "CNY"}}
    return (f'<!doctype html><html><head><meta charset="utf-8"><script type="application/ld+json">'
            f'{json.dumps(data, ensure_ascii=False)}</script></head><body><div><div>{title}</div>'
            f'<div>¥199</div></div></body></html>')


def md_html(item_id: str, title: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"></head><body>'
            f'<div itemscope itemtype="https://schema.org/Product"><span itemprop="name">{title}</span>'
            f'<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
            f'<meta itemprop="priceCurrency" content="CNY"><span itemprop="price" content="288.00">¥288</span>'
            f'</div></div></body></html>')


def rdfa_html(item_id: str, title: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"></head><body vocab="https://schema.org/">'
            f'<div typeof="Product"><span property="name">{title}</span>'
            f'<div property="offers" typeof="Offer"><span property="price" content="377.00">¥377</span>'
            f'<meta property="priceCurrency" content="CNY"></div></div></body></html>')


def _urlset(base: str, paths: list[str]) -> str:
    urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        site = self.server.site
        parts = urlsplit(self.path)
        path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        with site.lock:
            site.hits[path + (f"?{parts.query}" if parts.query else "")] += 1
        base = site.url
        ctype, body, status = "text/html; charset=utf-8", b"", 200
        item_id = unquote(path.rsplit("/", 1)[-1].removesuffix(".html"))
        title = TITLES.get(item_id, f"{item_id} 商品")
        if path == "/api/items":
            ctype, body = "application/json", json.dumps(items_page(int(query.get("page", "1")))).encode()
        elif path.startswith("/api/item/"):
            rec = _record(int(item_id[1:]))
            ctype = "application/json; charset=utf-8"
            body = json.dumps({"data": {"title": rec["title"], "price": rec["price"],
                                        "shop": {"id": "S1", "name": "运动专营店"}}}, ensure_ascii=False).encode()
        elif path == "/api/cursor" and query.get("cursor", "") in CURSORS:
            ctype = "application/json"
            body = json.dumps(cursor_page(query.get("cursor", "")), ensure_ascii=False).encode()
        elif path == "/api/feed":
            ctype, body = "application/json", json.dumps(FEED, ensure_ascii=False).encode()
        elif path == "/app/feed":
            body = FEED_HTML.encode()
        elif path == "/sitemap.xml":
            ctype = "application/xml"
            body = (f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                    f'sitemap/0.9"><sitemap><loc>{base}/sitemap-items.xml.gz</loc></sitemap>'
                    f'<sitemap><loc>{base}/sitemap-pages.xml</loc></sitemap></sitemapindex>').encode()
        elif path == "/sitemap-items.xml.gz":
            ctype = "application/gzip"
            body = gzip.compress(_urlset(base, ["/ld/P1.html", "/ld/P2.html", "/md/P3.html"]).encode())
        elif path == "/sitemap-pages.xml":
            ctype = "application/xml"
            body = _urlset(base, ["/rdfa/P4.html", "/about.html", "/help/faq.html"]).encode()
        elif path == "/sitemap-robots.xml":
            ctype, body = "application/xml", _urlset(base, ["/ld/P5.html"]).encode()
        elif path == "/robots.txt":
            ctype, body = "text/plain", f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap-robots.xml\n".encode()
        elif path.startswith("/ld/"):
            body = ld_html(item_id, title).encode()
        elif path.startswith("/md/"):
            body = md_html(item_id, title).encode()
        elif path.startswith("/rdfa/"):
            body = rdfa_html(item_id, title).encode()
        elif path == "/search":
            term = query.get("q", "")
            code = "Q" + "".join(f"{ord(ch):x}" for ch in term)
            site.searched.append(term)
            body = (f'<!doctype html><html><head><meta charset="utf-8"></head><body><h1>{term}</h1>'
                    f'<a class="result" href="/ld/{quote(code)}.html">{term}</a></body></html>').encode()
        else:
            status, body = 404, b"<html><body>not found</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


class JsonSite(ThreadedSite):
    """The JSON shop; ``hits`` counts requests by path and query, ``searched`` lists the search terms asked."""

    __test__ = False
    handler = _Handler

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.searched: list[str] = []
        self.lock = threading.Lock()
