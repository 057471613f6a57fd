"""A small shop behind a login, on 127.0.0.1, for the session / wall / identity / Retry-After tests.

* ``/login``            GET: the login form (``form#login-form``); POST user=shopper&pass=secret-pw
                        sets ``sid`` (HttpOnly) and redirects to ``/account`` (which has ``a.logout``).
* ``/``                 the home page: links to ``/item/1`` .. ``/item/N`` and ``/js/1`` (a browser page);
                        without a valid session it *is* the login form (a login wall, answered 200).
* ``/item/<n>``         a listing; without a valid session: 302 to ``/login?next=...`` (an expired session).
* ``/js/<n>``           a listing whose title a script fetches from ``/api/item/<n>`` (XHR: needs the
                        browser context's own cookies).
* ``/api/item/<n>``     JSON, needs the session (401 otherwise).

Knobs (attributes): ``uses`` -- a session id is good for this many pages, then it has expired;
``verify_after`` -- after this many listing pages every page is a verification page
(``div.captcha``); ``min_gap`` -- two pages closer than this (seconds) get 429 with
``Retry-After: retry_after``. ``log`` keeps (monotonic time, path, headers) of every request.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.demo.serving import QuietHandler, ThreadedSite

USER, PASSWORD = "shopper", "secret-pw"

LOGIN_FORM = """<!doctype html><html><head><meta charset="utf-8"><title>登录</title></head><body>
<form id="login-form" method="post" action="/login">
<input name="user"><input name="pass" type="password"><button type="submit">登录</button></form></body></html>"""


def _page(body: str, title: str = "测试商城") -> bytes:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body>{body}</body></html>").encode()


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _sid(self) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "sid":
                return value
        return None

    def _valid(self, count: bool = True) -> bool:
        site = self.server.site
        sid = self._sid()
        with site.lock:
            if sid not in site.sessions:
                return False
            if count:
                site.sessions[sid] += 1
            return site.uses is None or site.sessions[sid] <= site.uses

    def do_POST(self) -> None:
        site = self.server.site
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        if urlsplit(self.path).path == "/login" and form.get("user") == USER and form.get("pass") == PASSWORD:
            sid = secrets.token_hex(16)
            with site.lock:
                site.sessions[sid] = 0
                site.logins += 1
            self._send(302, b"", headers={"Location": "/account", "Set-Cookie": f"sid={sid}; Path=/; HttpOnly"})
            return
        self._send(200, LOGIN_FORM.replace("<form", '<p class="error">用户名或密码错误</p><form').encode())

    def do_GET(self) -> None:
        site = self.server.site
        parts = urlsplit(self.path)
        path = parts.path
        with site.lock:
            site.log.append((time.monotonic(), path, self.headers))  # an HTTPMessage: case-insensitive get()
            last = site.last_page_at
            is_page = path == "/" or path.startswith(("/item/", "/js/"))
            if is_page:
                site.last_page_at = time.monotonic()
                site.pages += 1
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            return
        if path == "/login":
            self._send(200, LOGIN_FORM.encode())
            return
        if path == "/account":
            ok = self._valid(count=False)
            self._send(200, _page('<a class="logout" href="/logout">退出</a>' if ok else "未登录"))
            return
        if is_page and site.min_gap and last is not None and time.monotonic() - last < site.min_gap:
            with site.lock:
                site.limited += 1
                site.limited_at.append(time.monotonic())
            self._send(429, b"too many requests", "text/plain", {"Retry-After": str(site.retry_after)})
            return
        if is_page and site.verify_after is not None and site.pages > site.verify_after:
            self._send(200, _page('<div class="captcha">请完成安全验证 <span id="nc_1_wrapper"></span></div>',
                                  "安全验证"))
            return
        if path.startswith("/api/item/"):
            if not self._valid(count=False):
                self._send(401, b'{"error": "login"}', "application/json")
                return
            n = path.rsplit("/", 1)[1]
            self._send(200, json.dumps({"title": f"脚本商品 {n}"}, ensure_ascii=False).encode(), "application/json")
            return
        if path == "/":
            if not self._valid():
                self._send(200, LOGIN_FORM.encode())
                return
            links = "".join(f'<a class="go" href="/item/{i}">商品 {i}</a>' for i in range(1, site.items + 1))
            links += "".join(f'<a class="go" href="/js/{i}">脚本商品 {i}</a>' for i in range(1, site.js_items + 1))
            self._send(200, _page(links))
            return
        if path.startswith(("/item/", "/js/")):
            if not self._valid():
                self._send(302, b"", headers={"Location": f"/login?next={path}"})
                return
            n = path.rsplit("/", 1)[1]
            if path.startswith("/item/"):
                self._send(200, _page(f'<h1 class="title">商品 {n}</h1><span class="price">¥{n}9.00</span>'))
            else:
                script = (f"fetch('/api/item/{n}').then(r => r.json()).then(d => {{ "
                          "const h = document.createElement('h1'); h.className = 'title'; "
                          "h.textContent = d.title; document.body.appendChild(h); });")
                self._send(200, _page(f'<span class="price">¥{n}9.00</span><script>{script}</script>'))
            return
        self._send(404, b"not found", "text/plain")


class AccessSite(ThreadedSite):
    handler = _Handler

    def __init__(self, items: int = 6, js_items: int = 0) -> None:
        self.items, self.js_items = items, js_items
        self._js_items = js_items
        self.uses: int | None = None
        self.verify_after: int | None = None
        self.min_gap = 0.0
        self.retry_after = 2
        self.lock = threading.Lock()
        self.sessions: dict[str, int] = {}
        self.logins = 0
        self.log: list[tuple[float, str, Any]] = []
        self.pages = 0
        self.limited = 0
        self.limited_at: list[float] = []
        self.last_page_at: float | None = None

    def reset(self, **knobs: Any) -> AccessSite:
        with self.lock:
            self.log.clear()
            self.limited_at.clear()
            self.pages = self.limited = 0
            self.last_page_at = None
            self.uses, self.verify_after, self.min_gap, self.retry_after = None, None, 0.0, 2
            self.js_items = 0  # browser pages only where a test asks for them (reset(js_items=2))
            for k, v in knobs.items():
                setattr(self, k, v)
        return self

    def login(self) -> str:
        """A valid session id, as the login form would give."""
        sid = secrets.token_hex(16)
        with self.lock:
            self.sessions[sid] = 0
        return sid

    def paths(self) -> list[str]:
        with self.lock:
            return [p for _t, p, _h in self.log]
