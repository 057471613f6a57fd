"""Logging in and out, the login guard on every other route, and CSRF tokens.

Sessions live in a signed cookie (Starlette's SessionMiddleware, itsdangerous): it holds the
user name, the user's session epoch when the session began and a CSRF token, nothing else.
Every request looks the user up again: a disabled user is out at once, and a session whose
epoch is no longer the user's (after logout, a password reset or disabling, see
:mod:`leads.users`) is over, copied cookies included. Each form carries the session's token in ``csrf_token``;
every POST without the right token gets 403 (the cookie is also SameSite=Strict).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from leads.users import authenticate
from pipelines.store.base import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """Raised by ``current_user`` for anonymous requests; answered with a redirect (GET) or 401."""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def csrf_protect(request: Request) -> None:
    """Router dependency: a POST (any unsafe method) must carry the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
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
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return Response("需要登录 / login required", status_code=401, media_type="text/plain; charset=utf-8")


router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/login")
def login_page(request: Request, next: str = "/", failed: int = 0) -> Any:
    return request.app.state.templates.TemplateResponse(
        request, "login.html", {"csrf_token": csrf_token(request), "next": safe_next(next), "failed": bool(failed),
                                "user": None, "flashes": []})


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""),
          next: str = Form("/")) -> Any:
    user = authenticate(request.app.state.store, username[:64], password[:1024])
    if user is None:
        from urllib.parse import quote

        return RedirectResponse(f"/login?failed=1&next={quote(safe_next(next), safe='')}", status_code=303)
    request.session.clear()  # a new session on login: no fixation
    request.session["user"] = user.username
    request.session["epoch"] = user.session_epoch
    csrf_token(request)
    return RedirectResponse(safe_next(next), status_code=303)
