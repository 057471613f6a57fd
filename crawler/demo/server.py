"""The demo marketplace server: ``DemoServer`` (tests, ``netsword demo``) and ``python -m crawler.demo.server``.

A ``ThreadingHTTPServer`` on 127.0.0.1 (port 0 = a free port) in a daemon thread. Pages follow the
URL and selector contract in ``crawler/demo/README.md``. Every response carries an ``ETag`` (hash
of the body) and ``Last-Modified``; ``If-None-Match`` / ``If-Modified-Since`` give 304.
``price_factor`` scales every shown price and can be changed between sweeps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import threading
import time
from collections import Counter, deque
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from crawler.demo import templates as t
from crawler.demo.serving import QuietHandler, SiteServer, ThreadedSite, paginate

CATALOG_PATH = Path(__file__).resolve().with_name("catalog.json")
HTML = "text/html; charset=utf-8"
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

Response = tuple[int, dict[str, str], bytes]


class Catalog:
    """The catalog, indexed for the pages."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.categories: list[dict[str, Any]] = data["categories"]
        self.cat_by_slug = {c["slug"]: c for c in self.categories}
        self.shops: list[dict[str, Any]] = sorted(data["shops"], key=lambda s: s["id"])
        self.shop_by_id = {s["id"]: s for s in self.shops}
        self.listings: list[dict[str, Any]] = sorted(data["listings"], key=lambda x: x["id"])
        self.listing_by_id = {x["id"]: x for x in self.listings}
        self.by_category: dict[str, list[dict[str, Any]]] = {c["slug"]: [] for c in self.categories}
        self.by_shop: dict[str, list[dict[str, Any]]] = {s["id"]: [] for s in self.shops}
        for x in self.listings:
            self.by_category.setdefault(x["category"], []).append(x)
            self.by_shop.setdefault(x["shop_id"], []).append(x)
        updated = data.get("updated")
        self.updated = datetime.fromisoformat(updated.replace("Z", "+00:00")).timestamp() if updated else time.time()

    @classmethod
    def load(cls, path: Path = CATALOG_PATH) -> Catalog:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


class _Handler(QuietHandler):
    server_version = "NetswordDemo/1.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        demo = self.server.site
        status, headers, body = demo.respond(self.path, dict(self.headers.items()))
        demo._count(self.command, self.path, status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)


class _HTTPServer(SiteServer):
    site: DemoServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.site.errors.append(repr(exc))


class DemoServer(ThreadedSite):
    """The demo marketplace on 127.0.0.1, served from a background thread.

    >>> with DemoServer() as server:       # doctest: +SKIP
    ...     urllib.request.urlopen(server.url + "/")
    """

    handler = _Handler
    server_class = _HTTPServer
    thread_name = "demo-server"

    def __init__(self, catalog_path: Path | str | None = None, *, catalog: dict[str, Any] | None = None,
                 host: str = "127.0.0.1", port: int = 0, price_factor: float = 1.0) -> None:
        self.catalog = Catalog(catalog) if catalog is not None else Catalog.load(Path(catalog_path or CATALOG_PATH))
        self.host, self.port = host, port
        self._price_factor = float(price_factor)
        self._modified = self.catalog.updated if price_factor == 1.0 else float(int(time.time()))
        self._lock = threading.Lock()
        self._requests = 0
        self.hits: Counter[str] = Counter()  # path (without query) -> requests
        self.log: deque[tuple[str, str, int]] = deque(maxlen=20000)  # (method, path, status), newest last
        self.errors: list[str] = []

    # ------------------------------------------------------------------ state
    @property
    def requests(self) -> int:
        """Requests served so far (every status, 304 and 404 included)."""
        with self._lock:
            return self._requests

    def reset_stats(self) -> None:
        with self._lock:
            self._requests = 0
            self.hits.clear()
            self.log.clear()

    def _count(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests += 1
            self.hits[urlsplit(path).path] += 1
            self.log.append((method, path, status))

    @property
    def price_factor(self) -> float:
        return self._price_factor

    @price_factor.setter
    def price_factor(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value) or value <= 0:
            raise ValueError("price_factor must be a positive number")
        with self._lock:
            if value != self._price_factor:
                self._price_factor = value
                # strictly later than before, so If-Modified-Since never hides the change
                self._modified = max(float(int(time.time())), self._modified + 1)

    # ------------------------------------------------------------------ routing
    def respond(self, raw_path: str, headers: dict[str, str] | None = None) -> Response:
        """Status, headers and body for a GET of ``raw_path`` (also usable without a socket)."""
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        try:
            status, ctype, body = self._route(path, query, headers.get("host", ""))
        except _Redirect as r:
            return 301, {"Location": r.location, "Content-Type": HTML}, b""
        if status != 200:
            return status, {"Content-Type": ctype, "Cache-Control": "no-cache"}, body
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        out = {"Content-Type": ctype, "ETag": etag, "Last-Modified": formatdate(self._modified, usegmt=True),
               "Cache-Control": "no-cache"}
        if _etag_matches(headers.get("if-none-match"), etag) or (
                "if-none-match" not in headers and _not_modified_since(headers.get("if-modified-since"),
                                                                       self._modified)):
            return 304, out, b""
        return 200, out, body

    def _route(self, path: str, query: dict[str, list[str]], host: str) -> tuple[int, str, bytes]:
        c, f = self.catalog, self._price_factor
        if path == "/":
            return self._html(t.render_home(c.categories, c.shops, len(c.listings)))
        if m := re.fullmatch(r"/category/([a-z0-9_-]+)(/?)", path):
            cat = c.cat_by_slug.get(m.group(1))
            if cat is None:
                return self._not_found(path)
            if not m.group(2):
                raise _Redirect(f"/category/{cat['slug']}/")
            items = c.by_category.get(cat["slug"], [])
            page_no, pages, chunk = paginate(items, query, t.PAGE_SIZE)
            if page_no is None:
                return self._not_found(path)
            cards = "" if cat.get("js") else "".join(t.card(x, c.shop_by_id[x["shop_id"]], f) for x in chunk)
            return self._html(t.render_category(c.categories, cat, cards, page_no, pages, len(items)))
        if m := re.fullmatch(r"/api/category/([a-z0-9_-]+)", path):
            cat = c.cat_by_slug.get(m.group(1))
            items = c.by_category.get(cat["slug"], []) if cat else []
            page_no, pages, chunk = paginate(items, query, t.PAGE_SIZE)
            if cat is None or page_no is None:
                return 404, "application/json; charset=utf-8", b'{"error": "not found"}'
            base = f"/category/{cat['slug']}/"
            has_next = page_no < pages
            data = {"category": cat["slug"], "label": cat["label"], "page": page_no, "pages": pages,
                    "total": len(items), "cards": [t.card_json(x, c.shop_by_id[x["shop_id"]], f) for x in chunk],
                    "next": f"{base}?page={page_no + 1}" if has_next else None,
                    "next_api": f"/api/category/{cat['slug']}?page={page_no + 1}" if has_next else None}
            return 200, "application/json; charset=utf-8", json.dumps(data, ensure_ascii=False).encode()
        if path == "/search":
            q = (query.get("q") or [""])[0].strip()
            items = [x for x in c.listings if q and q.casefold() in x["title"].casefold()]
            page_no, pages, chunk = paginate(items, query, t.PAGE_SIZE)
            if page_no is None:
                return self._not_found(path)
            cards = "".join(t.card(x, c.shop_by_id[x["shop_id"]], f) for x in chunk)
            return self._html(t.render_search(c.categories, q, cards, page_no, pages, len(items)))
        if m := re.fullmatch(r"/shop/([A-Za-z0-9_-]+)(/?)", path):
            shop = c.shop_by_id.get(m.group(1))
            if shop is None:
                return self._not_found(path)
            if not m.group(2):
                raise _Redirect(f"/shop/{shop['id']}/")
            return self._html(t.render_shop(c.categories, shop, c.by_shop.get(shop["id"], []), f))
        if m := re.fullmatch(r"/item/([A-Za-z0-9_-]+)\.html", path):
            listing = c.listing_by_id.get(m.group(1))
            if listing is None:
                return self._not_found(path)
            return self._html(t.render_listing(c.categories, listing, c.shop_by_id[listing["shop_id"]], f))
        if m := re.fullmatch(r"/static/license/([A-Za-z0-9_-]+)\.svg", path):
            shop = c.shop_by_id.get(m.group(1))
            if shop is None or not (shop.get("license") or {}).get("image"):
                return self._not_found(path)
            return 200, "image/svg+xml; charset=utf-8", t.render_license_svg(shop).encode()
        if m := re.fullmatch(r"/img/([A-Za-z0-9_-]+)\.(?:png|jpg)", path):
            spec = (c.data.get("pictures") or {}).get(m.group(1))
            if spec is None:
                return self._not_found(path)
            from crawler.demo import pictures

            return 200, pictures.media_type(spec), _picture(m.group(1), c)
        if m := re.fullmatch(r"/static/item/([A-Za-z0-9_-]+)\.svg", path):
            listing = c.listing_by_id.get(m.group(1))
            if listing is None:
                return self._not_found(path)
            return 200, "image/svg+xml; charset=utf-8", t.render_photo_svg(listing).encode()
        if path == "/static/catalog.js":
            return 200, "application/javascript; charset=utf-8", t.CATALOG_JS.encode()
        if path == "/robots.txt":
            return 200, "text/plain; charset=utf-8", t.robots_txt(self._base(host)).encode()
        if path == "/sitemap.xml":
            lastmod = datetime.fromtimestamp(self._modified, tz=UTC).date().isoformat()
            return 200, "application/xml; charset=utf-8", t.sitemap_xml(self._base(host), c.shops, lastmod).encode()
        if path == "/cart":
            return self._html(t.render_simple(c.categories, "购物车", "购物车是空的。"))
        return self._not_found(path)

    def _html(self, text: str) -> tuple[int, str, bytes]:
        return 200, HTML, text.encode("utf-8")

    def _not_found(self, path: str) -> tuple[int, str, bytes]:
        return 404, HTML, t.render_simple(self.catalog.categories, "页面不存在", f"没有找到页面：{path}").encode()

    def _base(self, host: str) -> str:
        return f"http://{host}" if host and _HOST_RE.match(host) else self.url


_PICTURES: dict[tuple[int, str], bytes] = {}


def _picture(pid: str, catalog: Catalog) -> bytes:
    """A demo picture's bytes, drawn once per catalog (the same bytes each time)."""
    key = (id(catalog), pid)
    body = _PICTURES.get(key)
    if body is None:
        from crawler.demo import pictures

        specs = catalog.data.get("pictures") or {}
        body = _PICTURES[key] = pictures.render(specs[pid], specs)
    return body


class _Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [x.strip() for x in header.split(",")]
    return "*" in tags or any(x.removeprefix("W/") == etag for x in tags)


def _not_modified_since(header: str | None, modified: float) -> bool:
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return False
    return int(modified) <= since


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crawler.demo.server", description="Serve the demo marketplace.")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free port)")
    ap.add_argument("--price-factor", type=float, default=1.0, help="scale every shown price")
    args = ap.parse_args(argv)
    server = DemoServer(port=args.port, price_factor=args.price_factor).start()
    print(server.url, flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    sys.exit(main())
