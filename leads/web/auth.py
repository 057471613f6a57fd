"""Logging in and out, the login guard on every other route, CSRF tokens and the Origin check.

Sessions live in a signed cookie (Starlette's SessionMiddleware, itsdangerous): it holds the
user name, the user's session epoch when the session began and a CSRF token, nothing else.
Every request looks the user up again: a disabled user is out at once, and a session whose
epoch is no longer the user's (after logout, a password reset or disabling, see
:mod:`leads.users`) is over, copied cookies included.

Logins are throttled per account name and per client address (:mod:`leads.web.throttle`): growing
delays, then a temporary lockout (429, "登录失败次数过多，请 N 分钟后再试"); every failed login is
logged (name and address, never the password). The answers are the same whether the name exists.

Every POST (any unsafe method) that says where it comes from (``Origin``, else ``Referer``) must
come from this site, else 403; and it must carry the session's CSRF token in ``csrf_token`` (or
``X-CSRF-Token``), else 403. Requests without Origin and Referer (command-line tools) pass on the
token alone. The cookie is also SameSite=Strict.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from leads.users import authenticate
from leads.web.throttle import LoginThrottle, Refusal
from pipelines.store.base import User

logger = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class LoginRequired(Exception):
    """Raised by ``current_user`` for anonymous requests; answered with a redirect (GET) or 401."""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL or origin; None for anything else ("null", garbage)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        return scheme, parts.hostname.lower(), parts.port or DEFAULT_PORTS[scheme]
    except ValueError:  # a bad port
        return None


def trusted_origins(request: Request) -> set[tuple[str, str, int]]:
    """This site as the request reached it (its scheme and Host header; https too behind a TLS proxy when
    cookies are secure-only), plus the origins configured (``ConsoleConfig.trusted_origins``)."""
    config = request.app.state.config
    host = request.headers.get("host", "")
    schemes = {request.url.scheme, *(("https",) if config.secure_cookies else ())}
    found = {_origin(f"{scheme}://{host}") for scheme in schemes} | {_origin(o) for o in config.trusted_origins}
    return {o for o in found if o is not None}


def from_elsewhere(request: Request) -> bool:
    """True when the request says it comes from another site (``Origin``, else ``Referer``, not ours;
    ``Origin: null`` included). False when it comes from here or does not say."""
    sent = request.headers.get("origin")
    if sent is None:
        sent = request.headers.get("referer")
        if not sent:
            return False
    return _origin(sent) not in trusted_origins(request)


async def csrf_protect(request: Request) -> None:
    """Router dependency: a POST (any unsafe method) must not come from another site and must carry
    the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    if from_elsewhere(request):
        logger.warning("cross-origin %s %s refused (Origin %r, Referer %r, from %s)", request.method,
                       request.url.path, request.headers.get("origin", "")[:200],
                       request.headers.get("referer", "")[:200], client_address(request))
        raise HTTPException(403, "请求来自其他网站，已拒绝 / cross-origin request refused")
    expected = request.session.get("csrf") or ""
    sent = ""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = str((await request.form()).get("csrf_token") or "")
    sent = sent or request.headers.get("x-csrf-token", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "CSRF 校验失败，请刷新页面后重试 / CSRF token missing or wrong")


def current_user(request: Request) -> User:
    """Router dependency for every page but the login page: the session's user, while enabled and
    while the session's epoch is still the user's."""
    name = request.session.get("user")
    user = request.app.state.store.get_user(name) if name else None
    if user is None or user.disabled or request.session.get("epoch") != user.session_epoch:
        request.session.clear()  # an ended session: its cookie is dropped too
        raise LoginRequired()
    request.state.user = user
    return user


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy: the proxy's)."""
    return request.client.host if request.client is not None else "unknown"


def require_admin(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != "admin":
        raise HTTPException(403, "仅管理员可用 / admins only")
    return user


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path on this site (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    if request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return Response("需要登录 / login required", status_code=401, media_type="text/plain; charset=utf-8")


router = APIRouter(dependencies=[Depends(csrf_protect)])


def _login_form(request: Request, next: str, *, failed: bool = False, error: str = "",
                status_code: int = 200, headers: dict[str, str] | None = None) -> Any:
    return request.app.state.templates.TemplateResponse(
        request, "login.html", {"csrf_token": csrf_token(request), "next": safe_next(next), "failed": failed,
                                "error": error, "user": None, "flashes": []},
        status_code=status_code, headers=headers)


@router.get("/login")
def login_page(request: Request, next: str = "/", failed: int = 0) -> Any:
    return _login_form(request, next, failed=bool(failed))


def _refused(request: Request, refusal: Refusal, name: str, address: str, next: str) -> Any:
    logger.info("console login of %r from %s refused: %s, %.0f s left", name, address,
                "locked out" if refusal.locked else "too soon after a failure", refusal.retry_after)
    return _login_form(request, next, error=refusal.message, status_code=429,
                       headers={"Retry-After": refusal.retry_after_header})


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""),
          next: str = Form("/"), otp: str = Form("")) -> Any:
    throttle: LoginThrottle = request.app.state.throttle
    state = request.app.state.console_state
    name, address = username.strip()[:64], client_address(request)
    refusal = throttle.begin(name, address)
    if refusal is not None:
        state.log_login(name, address, "refused")
        return _refused(request, refusal, name, address, next)
    user = authenticate(request.app.state.store, name, password[:1024])
    result = "ok" if user is not None else "bad_password"
    if user is not None:
        from leads.web.state import totp_ok

        secret = state.totp_secret(user.username)
        if secret is not None and not totp_ok(secret, otp[:20]):
            user, result = None, "bad_totp"  # a failure like a wrong password: throttled the same
    state.log_login(name, address, result)
    if user is None:
        locked = throttle.locked(name, address)
        logger.warning("failed console login of %r from %s (%d failed in a row)%s", name, address,
                       throttle.failures(name), f"; locked out: {', '.join(locked)}" if locked else "")
        return RedirectResponse(f"/login?failed=1&next={quote(safe_next(next), safe='')}", status_code=303)
    throttle.succeeded(name, address)
    request.session.clear()  # a new session on login: no fixation
    request.session["user"] = user.username
    request.session["epoch"] = user.session_epoch
    csrf_token(request)
    return RedirectResponse(safe_next(next), status_code=303)
