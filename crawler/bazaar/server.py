"""The bazaar's HTTP server: a ThreadingHTTPServer on 127.0.0.1 that behaves like a real platform.

- Login required (everything but the home page, the login page, static files, pictures, robots.txt and the
  sitemap): every page, the JSON API too, answers 302 to ``/login?next=...`` (``api_walls="json"``: the API
  answers 401 ``{"code": "LOGIN_REQUIRED"}`` instead, as REST back ends do).
  ``POST /login`` (form fields ``user``, ``pass``) sets the ``bz_session`` cookie.
- Session expiry: a session ends after ``session_max_requests`` requests or ``session_ttl`` seconds; then it
  is a login wall again, and the login page says the session expired.
- Rate limit: more than ``rate_limit`` requests in ``rate_window`` seconds answer 429 with ``Retry-After``.
- Verification wall: after ``wall_after`` requests every page is the captcha page (``div.captcha``,
  ``#nc_1_wrapper``) and the API redirects to it (``/verify``; ``api_walls="json"``: 403
  ``{"code": "VERIFY_REQUIRED"}``), until :meth:`reset`.

Knobs are constructor arguments, :meth:`BazaarServer.configure` in the tests' process, or
``POST /__admin__/configure`` (JSON body, header ``X-Bazaar-Admin: <admin_token>``) from outside.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import secrets
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from crawler.bazaar import templates as t
from crawler.demo.serving import QuietHandler, ThreadedSite, paginate

HERE = Path(__file__).resolve().parent
CATALOG_PATH = HERE / "catalog.json"
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
COOKIE = "bz_session"
#: the demo account (`netsword login bazaar` with these, or NETSWORD_BAZAAR_USER / _PASSWORD)
DEFAULT_USERS = {"analyst": "bazaar-2026"}
PUBLIC = re.compile(r"^/(?:|login|logout|verify|robots\.txt|sitemap\.xml|static/.*|img/.*|favicon\.ico)$")
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(?::\d{1,5})?$")

Response = tuple[int, dict[str, str], bytes]


@dataclass
class Knobs:
    """How hard the bazaar pushes back (None: never)."""

    login_required: bool = True
    session_max_requests: int | None = None
    session_ttl: float | None = None
    rate_limit: int | None = None
    rate_window: float = 1.0
    retry_after: int = 1
    wall_after: int | None = None
    api_walls: str = "redirect"  # how the API says "log in" / "verify": redirect (302) | json (401 / 403)
    users: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_USERS))


@dataclass
class _Session:
    user: str
    started: float
    requests: int = 0


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 65536)) if length else b""
        bazaar: BazaarServer = self.server.site
        status, headers, payload = bazaar.respond(method, self.path, dict(self.headers.items()), body)
        bazaar._record(method, self.path, status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")


class BazaarServer(ThreadedSite):
    """``with BazaarServer(session_max_requests=50) as bazaar: bazaar.url`` -- see the module doc."""

    handler = _Handler
    thread_name = "bazaar"

    def __init__(self, catalog_path: Path | None = None, *, catalog: dict[str, Any] | None = None,
                 host: str = "127.0.0.1", port: int = 0, **knobs: Any) -> None:
        self.data = catalog if catalog is not None else json.loads(
            Path(catalog_path or CATALOG_PATH).read_text(encoding="utf-8"))
        self.categories: list[dict[str, Any]] = self.data["categories"]
        self.cat_by_slug = {c["slug"]: c for c in self.categories}
        self.shop_by_id = {s["id"]: s for s in self.data["shops"]}
        self.listing_by_id = {x["id"]: x for x in self.data["listings"]}
        self.by_shop: dict[str, list[dict[str, Any]]] = {}
        self.by_cat: dict[str, list[dict[str, Any]]] = {}
        for x in self.data["listings"]:
            self.by_shop.setdefault(x["shop_id"], []).append(x)
            self.by_cat.setdefault(x["category"], []).append(x)
        self.knobs = Knobs(**knobs)
        self.host, self.port = host, port
        self.admin_token = secrets.token_urlsafe(16)
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._recent: deque[float] = deque()
        self._counted = 0  # requests towards the verification wall
        self.wall_up = False
        self.hits: Counter[str] = Counter()  # path -> requests
        self.log: deque[tuple[str, str, int]] = deque(maxlen=20000)  # (method, path, status)
        self.statuses: Counter[int] = Counter()
        self.pushback: Counter[str] = Counter()  # answers that said "stop": login | verification | 429
        self.logins = 0

    # ------------------------------------------------------------------ knobs and state
    def configure(self, **knobs: Any) -> Knobs:
        """Change knobs (unknown names raise TypeError); the counters they use start again."""
        names = {f.name for f in fields(Knobs)}
        if bad := sorted(set(knobs) - names):
            raise TypeError(f"unknown knobs {bad}; known: {sorted(names)}")
        with self._lock:
            self.knobs = replace(self.knobs, **knobs)
            self._recent.clear()
            self._counted = 0
            if "wall_after" in knobs:
                self.wall_up = False
        return self.knobs

    def reset(self, **knobs: Any) -> None:
        """Forget sessions, counters, the wall and the logs; then set ``knobs`` (defaults for the rest)."""
        with self._lock:
            self.knobs = Knobs(**knobs)
            self._sessions.clear()
            self._recent.clear()
            self._counted = 0
            self.wall_up = False
            self.hits.clear()
            self.log.clear()
            self.statuses.clear()
            self.pushback.clear()
            self.logins = 0

    def login(self, user: str = "analyst", password: str | None = None) -> str:
        """A new session's cookie value, as ``POST /login`` would give (for tests that fetch with urllib)."""
        password = DEFAULT_USERS.get(user, "") if password is None else password
        token = self._login(user, password)
        if token is None:
            raise ValueError("wrong user or password")
        return token

    def _login(self, user: str, password: str) -> str | None:
        if not user or not secrets.compare_digest(self.knobs.users.get(user, "\0" * 8), password):
            return None
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[token] = _Session(user, time.monotonic())
            self.logins += 1
        return token

    def session_requests(self, token: str) -> int | None:
        """Requests a live session has made so far (None: no such session, or it ended)."""
        with self._lock:
            s = self._sessions.get(token)
            return None if s is None else s.requests

    @property
    def sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _push(self, kind: str) -> None:
        with self._lock:
            self.pushback[kind] += 1

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.hits[urlsplit(path).path] += 1
            self.log.append((method, path, status))
            self.statuses[status] += 1

    # ------------------------------------------------------------------ the gatekeepers
    def _rate_limited(self, now: float) -> bool:
        k = self.knobs
        if k.rate_limit is None:
            return False
        with self._lock:
            while self._recent and self._recent[0] <= now - k.rate_window:
                self._recent.popleft()
            if len(self._recent) >= k.rate_limit:
                return True
            self._recent.append(now)
            return False

    def _walled(self) -> bool:
        with self._lock:
            if self.knobs.wall_after is None:
                return False
            self._counted += 1
            if self._counted > self.knobs.wall_after:
                self.wall_up = True
            return self.wall_up

    def _session(self, token: str | None, now: float) -> tuple[str | None, bool]:
        """(user or None, expired): counts the request against the session."""
        if not token:
            return None, False
        with self._lock:
            s = self._sessions.get(token)
            if s is None:
                return None, False
            k = self.knobs
            s.requests += 1
            if (k.session_max_requests is not None and s.requests > k.session_max_requests) or (
                    k.session_ttl is not None and now - s.started > k.session_ttl):
                del self._sessions[token]
                return None, True
            return s.user, False

    # ------------------------------------------------------------------ routing
    def respond(self, method: str, raw_path: str, headers: dict[str, str], body: bytes = b"") -> Response:
        headers = {k.lower(): v for k, v in headers.items()}
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        if path.startswith("/__admin__/"):
            return self._admin(method, path, headers, body)
        is_api = path.startswith("/api/")
        static = path.startswith(("/static/", "/img/")) or path in ("/robots.txt", "/favicon.ico")
        now = time.monotonic()
        if not static and self._rate_limited(now):
            self._push("429")
            wait = self.knobs.retry_after
            if is_api:
                return _json(429, {"code": "TOO_MANY_REQUESTS", "msg": "请求过于频繁"}, {"Retry-After": str(wait)})
            return _html(429, t.render_too_many(wait), {"Retry-After": str(wait)})
        if not static and path != "/verify" and self._walled():
            self._push("verification")
            if is_api and self.knobs.api_walls == "json":
                return _json(403, {"code": "VERIFY_REQUIRED", "msg": "请完成安全验证", "verify_url": "/verify"})
            if is_api:
                return 302, {"Location": "/verify", "Content-Type": HTML}, b""
            return _html(200, t.render_verify())
        token = _cookie(headers.get("cookie", ""), COOKIE)
        user, expired = (None, False) if static else self._session(token, now)
        if path == "/login":
            return self._login_page(method, query, body, expired)
        if path == "/logout":
            if token:
                with self._lock:
                    self._sessions.pop(token, None)
            return 302, {"Location": "/", "Set-Cookie": f"{COOKIE}=; Path=/; Max-Age=0"}, b""
        if self.knobs.login_required and user is None and not PUBLIC.match(path):
            self._push("login")
            if is_api and self.knobs.api_walls == "json":
                return _json(401, {"code": "LOGIN_REQUIRED", "msg": "登录已过期，请重新登录" if expired else "请先登录",
                                   "login_url": "/login"})
            target = f"/login?next={quote(raw_path, safe='')}" + ("&expired=1" if expired else "")
            return 302, {"Location": target, "Content-Type": HTML}, b""
        return self._route(path, query, user, headers.get("host", ""))

    def _login_page(self, method: str, query: dict[str, list[str]], body: bytes, expired: bool) -> Response:
        next_url = _safe_next((query.get("next") or ["/"])[0])
        if method == "POST":
            form = parse_qs(body.decode("utf-8", "replace"))
            next_url = _safe_next((form.get("next") or [next_url])[0])
            token = self._login((form.get("user") or [""])[0], (form.get("pass") or [""])[0])
            if token is None:
                return _html(200, t.render_login(next_url, "账号或密码错误"))
            return 303, {"Location": next_url,
                         "Set-Cookie": f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"}, b""
        expired = expired or (query.get("expired") or [""])[0] == "1"
        return _html(200, t.render_login(next_url, "登录已过期，请重新登录" if expired else ""))

    def _route(self, path: str, query: dict[str, list[str]], user: str | None, host: str) -> Response:
        cats = self.categories
        if path == "/":
            return _html(200, t.render_home(cats, user))
        if path == "/verify":
            return _html(200, t.render_verify("请完成安全验证后继续访问。"))
        if m := re.fullmatch(r"/c/([a-z]+)", path):
            cat = self.cat_by_slug.get(m.group(1))
            return _html(200, t.render_category(cat, user, cats)) if cat else self._not_found()
        if m := re.fullmatch(r"/item/(\d+)", path):
            if m.group(1) not in self.listing_by_id:
                return self._not_found()
            return _html(200, t.render_item_shell(m.group(1), user, cats))
        if m := re.fullmatch(r"/shop/(\d+)", path):
            shop = self.shop_by_id.get(m.group(1))
            if shop is None:
                return self._not_found()
            return _html(200, t.render_shop(shop, self.by_shop.get(shop["id"], []), user, cats))
        if m := re.fullmatch(r"/shop/(\d+)/license", path):
            shop = self.shop_by_id.get(m.group(1))
            return _html(200, t.render_license(shop, user)) if shop else self._not_found()
        if path == "/search":
            q = (query.get("q") or [""])[0].strip()
            found = [x for x in self.data["listings"] if q and q.casefold() in x["title"].casefold()]
            page_no, pages, chunk = paginate(found, query, t.PAGE_SIZE)
            if page_no is None:
                return self._not_found()
            rows = "".join(t.goods_row(x, self.shop_by_id[x["shop_id"]]) for x in chunk)
            return _html(200, t.render_search(q, rows, page_no, pages, len(found), user, cats))
        if path == "/api/items":
            return self._api_items(query)
        if m := re.fullmatch(r"/api/item/(\d+)", path):
            x = self.listing_by_id.get(m.group(1))
            if x is None:
                return _json(404, {"code": "NOT_FOUND", "msg": "商品不存在"})
            return _json(200, {"code": 0, "data": self._item_json(x)})
        if path == "/static/bazaar.js":
            return 200, {"Content-Type": "application/javascript; charset=utf-8"}, t.BAZAAR_JS.encode()
        if m := re.fullmatch(r"/img/([a-z0-9-]+)\.png", path):
            spec = self.data["pictures"].get(m.group(1))
            if spec is None:
                return self._not_found()
            return 200, {"Content-Type": "image/png"}, _picture(m.group(1), self.data["pictures"])
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, t.robots_txt(self._base(host)).encode()
        if path == "/sitemap.xml":
            xml = t.sitemap_xml(self._base(host), self.data["shops"], self.data["listings"])
            return 200, {"Content-Type": "application/xml; charset=utf-8"}, xml.encode()
        return self._not_found()

    def _api_items(self, query: dict[str, list[str]]) -> Response:
        """One page of listings (of a category with ``cat=``, of a search with ``q=``); past the end: no items."""
        items = self.data["listings"]
        if cat := (query.get("cat") or [""])[0]:
            items = self.by_cat.get(cat, [])
        if q := (query.get("q") or [""])[0].strip():
            items = [x for x in items if q.casefold() in x["title"].casefold()]
        raw = (query.get("page") or ["1"])[0]
        if not raw.isdigit() or int(raw) < 1:
            return _json(400, {"code": "BAD_PAGE", "msg": "page 必须是正整数"})
        n = int(raw)
        pages = max(1, math.ceil(len(items) / t.PAGE_SIZE))
        chunk = items[(n - 1) * t.PAGE_SIZE:n * t.PAGE_SIZE]
        return _json(200, {"code": 0, "data": {"page": n, "pages": pages, "total": len(items),
                                               "items": [self._card_json(x) for x in chunk]}})

    def _card_json(self, x: dict[str, Any]) -> dict[str, Any]:
        shop = self.shop_by_id[x["shop_id"]]
        return {"id": x["id"], "title": x["title"], "price": t.price_text(x["price"]),
                "detail_url": f"/item/{x['id']}", "api_url": f"/api/item/{x['id']}",
                "shop": {"id": shop["id"], "name": shop["name"], "url": f"/shop/{shop['id']}"}}

    def _item_json(self, x: dict[str, Any]) -> dict[str, Any]:
        shop = self.shop_by_id[x["shop_id"]]
        cat = self.cat_by_slug[x["category"]]
        return {"id": x["id"], "title": x["title"], "price": t.price_text(x["price"]), "price_value": x["price"],
                "original_price": t.price_text(x["original_price"]), "desc": x["description"],
                "promo": x["promo"] or "", "service": x["service"], "sold": x["sold"],
                "category": {"slug": cat["slug"], "label": cat["label"]},
                "attrs": [{"name": k, "value": v} for k, v in x["attributes"].items()],
                "shop": {"id": shop["id"], "name": shop["name"], "url": f"/shop/{shop['id']}"}}

    def _admin(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if not secrets.compare_digest(headers.get("x-bazaar-admin", ""), self.admin_token):
            return _json(403, {"code": "FORBIDDEN"})
        if method != "POST":
            return _json(405, {"code": "METHOD"})
        try:
            knobs = json.loads(body or b"{}")
            if path == "/__admin__/configure":
                self.configure(**knobs)
            elif path == "/__admin__/reset":
                self.reset(**knobs)
            else:
                return _json(404, {"code": "NOT_FOUND"})
        except (TypeError, ValueError) as exc:
            return _json(400, {"code": "BAD_KNOBS", "msg": str(exc)})
        return _json(200, {"code": 0, "knobs": asdict(self.knobs) | {"users": sorted(self.knobs.users)}})

    def _not_found(self) -> Response:
        return _html(404, t.page("页面不存在", "<h1>页面不存在</h1>", user=None))

    def _base(self, host: str) -> str:
        return f"http://{host}" if host and _HOST_RE.match(host) else self.url


def _html(status: int, text: str, extra: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": HTML, "Cache-Control": "no-store", **(extra or {})}, text.encode("utf-8")


def _json(status: int, data: Any, extra: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": JSON, "Cache-Control": "no-store", **(extra or {})}, \
        json.dumps(data, ensure_ascii=False).encode("utf-8")


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name and v:
            return v
    return None


def _safe_next(url: str) -> str:
    """Only a path on this site (no //host, no scheme) may be the target after login."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/"


_PICTURES: dict[str, bytes] = {}
_PICTURES_LOCK = threading.Lock()


def _picture(pid: str, specs: dict[str, dict[str, Any]]) -> bytes:
    """A licence picture, drawn once (Pillow + the CJK font; the demo's drawing code)."""
    with _PICTURES_LOCK:
        if pid not in _PICTURES:
            from crawler.demo import pictures

            _PICTURES[pid] = pictures.render(specs[pid], specs)
        return _PICTURES[pid]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crawler.bazaar", description="Serve the bazaar (仿真集市).")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free port)")
    ap.add_argument("--session-max-requests", type=int, default=None, help="a session expires after N requests")
    ap.add_argument("--session-ttl", type=float, default=None, help="a session expires after S seconds")
    ap.add_argument("--rate-limit", type=int, default=None, help="429 past N requests per --rate-window seconds")
    ap.add_argument("--rate-window", type=float, default=1.0)
    ap.add_argument("--retry-after", type=int, default=1, help="the Retry-After of a 429, in seconds")
    ap.add_argument("--wall-after", type=int, default=None, help="the verification wall after N requests")
    ap.add_argument("--no-login", action="store_true", help="serve every page without a login")
    args = ap.parse_args(argv)
    server = BazaarServer(port=args.port, login_required=not args.no_login,
                          session_max_requests=args.session_max_requests, session_ttl=args.session_ttl,
                          rate_limit=args.rate_limit, rate_window=args.rate_window, retry_after=args.retry_after,
                          wall_after=args.wall_after).start()
    user, password = next(iter(DEFAULT_USERS.items()))
    print(f"仿真集市 at {server.url}  (login: {user} / {password}; admin token: {server.admin_token})", flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    sys.exit(main())
