"""The console application: ``create_app(ConsoleConfig) -> FastAPI`` (run it with `netsword serve`).

Security headers on every response: a strict Content-Security-Policy (no scripts at all,
the stylesheet allowed by hash, frames only from this site), no framing by others, no
MIME sniffing, no referrer to the scraped sites (``Referrer-Policy: same-origin``: the console's
own forms still send their ``Origin``, which ``no-referrer`` would blank to ``null``), and no
caching of pages.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.middleware.sessions import SessionMiddleware

from leads.handover import set_notice_generator
from leads.records.handover import notice_document
from leads.web.admin_views import router as admin_router
from leads.web.api import make_api
from leads.web.auth import LoginRequired, login_redirect
from leads.web.auth import router as auth_router
from leads.web.documents import router as documents_router
from leads.web.pictures import router as pictures_router
from leads.web.render import CSS_HASH, make_templates
from leads.web.runs_views import router as runs_router
from leads.web.scope import visible_for
from leads.web.state import ConsoleState
from leads.web.throttle import LoginPolicy, LoginThrottle
from leads.web.triage_views import router as triage_router
from leads.web.views import render
from leads.web.views import router as views_router
from pipelines.store.base import Store, StoreBusy

#: For every page of the console. Scripts: none at all.
PAGE_CSP = (f"default-src 'none'; style-src '{CSS_HASH}'; img-src 'self'; frame-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")
SESSION_HOURS = 10
STORE_BUSY_MESSAGE = ("数据库正忙（可能有扫描正在写入），本次修改没有保存，请返回后重试。/ "
                      "The store is busy (a sweep may be writing): this change was NOT saved. Go back and try again.")


@dataclass
class ConsoleConfig:
    store_url: str
    evidence_dir: str
    secret: str = field(repr=False, default="")
    secure_cookies: bool = False
    session_hours: int = SESSION_HOURS
    login_policy: LoginPolicy = field(default_factory=LoginPolicy)
    #: Origins besides the one a request reached (e.g. "https://netsword.example.gov.cn" behind a proxy
    #: that changes the Host header) from which POSTs are accepted.
    trusted_origins: tuple[str, ...] = ()
    #: the console's own state (saved searches, API tokens, login log); default: the evidence folder's parent
    home: str = ""
    #: Redis of the distributed sweeps (NETSWORD_REDIS_URL): the runs page shows them live and starts sweeps there;
    #: "" = none, a sweep started from the console runs on this machine
    redis_url: str = ""

    @classmethod
    def from_env(cls, *, secure_cookies: bool = False) -> ConsoleConfig:
        """From $NETSWORD_STORE / $EVIDENCE_DIR / $NETSWORD_SECRET / $NETSWORD_CONSOLE_ORIGINS (comma-separated) /
        $NETSWORD_REDIS_URL, else under $NETSWORD_HOME."""
        from netsword.config import current

        cfg = current()

        secret = os.environ.get("NETSWORD_SECRET") or load_or_create_secret(cfg.home / "console-secret")
        origins = tuple(o.strip() for o in os.environ.get("NETSWORD_CONSOLE_ORIGINS", "").split(",") if o.strip())
        return cls(cfg.store_url, str(cfg.evidence_dir), secret, secure_cookies, trusted_origins=origins,
                   home=str(cfg.home), redis_url=os.environ.get("NETSWORD_REDIS_URL", ""))


def load_or_create_secret(path: Path) -> str:
    """The session-signing secret kept in ``path`` (mode 600), created on first use."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        if len(text) >= 32:
            return text
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    return secret


def create_app(config: ConsoleConfig, *, store: Store | None = None) -> FastAPI:
    """The console over ``store`` (default: opened from ``config.store_url``; the caller closes a passed store).

    The store is made interactive: an analyst's write is committed at once and goes before a running
    sweep's batches; if it still cannot start in time, the analyst gets 503 saying nothing was saved.
    """
    if not config.secret or len(config.secret) < 32:
        raise ValueError("the console needs a session secret of at least 32 characters (NETSWORD_SECRET)")
    if store is None:
        from pipelines.store import open_store

        store = open_store(config.store_url)
    store.make_interactive()
    if not config.home:
        config.home = str(Path(config.evidence_dir).parent)
    app = FastAPI(title="netsword console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.config = config
    app.state.templates = make_templates()
    app.state.throttle = LoginThrottle(config.login_policy)
    set_notice_generator(notice_document)  # the 交办函 button: leads/records/handover.py writes the DOCX
    app.include_router(auth_router)
    app.include_router(views_router)
    app.include_router(pictures_router)
    app.include_router(documents_router)
    app.include_router(triage_router)
    app.include_router(admin_router)
    app.include_router(runs_router)
    app.mount("/api", make_api(app))  # token-authenticated JSON, its own OpenAPI: /api/openapi.json
    app.state.console_state = ConsoleState(config.home)
    app.state.visible = lambda request: visible_for(request)  # which leads the request's user may see
    app.add_exception_handler(LoginRequired, login_redirect)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]
    app.add_exception_handler(StoreBusy, _store_busy)  # type: ignore[arg-type]
    app.middleware("http")(_security_headers)
    app.add_middleware(SessionMiddleware, secret_key=config.secret, session_cookie="netsword_session",
                       max_age=config.session_hours * 3600, same_site="strict", https_only=config.secure_cookies)
    return app


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD left out (included routers flattened)."""
    out: set[tuple[str, str]] = set()

    def walk(routes: list, prefix: str = "") -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)  # FastAPI >= 0.160 keeps included routers whole
            if inner is not None:
                walk(inner.routes, prefix + getattr(inner, "prefix", ""))
            else:
                out.update((m, prefix + route.path) for m in getattr(route, "methods", None) or () if m != "HEAD")

    walk(app.routes)
    return sorted(out)


async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", PAGE_CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers.setdefault("Cache-Control", "no-store")
    return response


def _error_page(request: Request, status: int, message: str) -> Response:
    user = getattr(request.state, "user", None)
    if user is None:
        return Response(message, status_code=status, media_type="text/plain; charset=utf-8")
    return render(request, "error.html", status_code=status, status=status, message=message)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return _error_page(request, exc.status_code, str(exc.detail))


async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
    fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
    return _error_page(request, 400, f"请求参数有误 / bad request: {fields}")


async def _store_busy(request: Request, exc: StoreBusy) -> Response:
    """A write that could not start in time: nothing was saved, and the analyst is told so."""
    response = _error_page(request, 503, STORE_BUSY_MESSAGE)
    response.headers["Retry-After"] = "5"
    return response


__all__ = ["PAGE_CSP", "ConsoleConfig", "create_app", "load_or_create_secret", "route_table"]
