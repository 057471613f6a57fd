"""Accounts beyond passwords: units and regions, API tokens, the login log (admins), and one's own second
factor (TOTP, pyotp). The state is ``leads.web.state.ConsoleState``."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from leads.users import ROLES
from leads.web.auth import csrf_protect, current_user
from leads.web.state import ConsoleState, totp_ok
from leads.web.views import Admin, CurrentUser, _store, back, flash, render

router = APIRouter(dependencies=[Depends(current_user), Depends(csrf_protect)])
LOGIN_RESULTS = {"ok": "成功", "bad_password": "密码错误或用户不存在", "bad_totp": "动态验证码错误",
                 "refused": "尝试过于频繁，已拒绝"}


def _state(request: Request) -> ConsoleState:
    return request.app.state.console_state


def users_context(request: Request, new_token: str = "") -> dict[str, object]:
    state = _state(request)
    users = _store(request).users()
    return {"users": users, "roles": ROLES, "units": state.units(), "tokens": state.tokens(),
            "totp": {u.username: state.totp_secret(u.username) is not None for u in users}, "new_token": new_token}


@router.post("/users/unit")
def users_unit(request: Request, admin: Admin, username: str = Form(...), unit: str = Form(""),
               regions: str = Form("")) -> Response:
    from leads.dashboard import PROVINCES, UNKNOWN_REGION

    names = [r for r in re.split(r"[,，、;；\s]+", regions) if r]
    bad = [r for r in names if r not in PROVINCES and r != UNKNOWN_REGION]
    if bad:
        flash(request, f"未知的辖区：{'、'.join(bad)}（请写省级名称，如 广东、浙江）")
        return back("/users")
    if _store(request).get_user(username) is None:
        flash(request, f"没有这个用户：{username}")
        return back("/users")
    _state(request).set_unit(username, unit, names)
    flash(request, f"已保存 {username} 的单位与辖区")
    return back("/users")


@router.post("/users/totp-reset")
def users_totp_reset(request: Request, admin: Admin, username: str = Form(...)) -> Response:
    _state(request).disable_totp(username)
    flash(request, f"已重置 {username} 的两步验证")
    return back("/users")


@router.get("/users/logins")
def logins_page(request: Request, admin: Admin) -> Response:
    return render(request, "logins.html", logins=_state(request).logins(), results=LOGIN_RESULTS)


@router.post("/tokens")
def tokens_create(request: Request, admin: Admin, name: str = Form(""), username: str = Form("")) -> Response:
    target = _store(request).get_user(username)
    if target is None or target.disabled:
        flash(request, "请选择一个正常的用户 / choose an enabled user")
        return back("/users")
    try:
        _, token = _state(request).create_token(name, username, admin.username)
    except ValueError as exc:
        flash(request, str(exc))
        return back("/users")
    # shown once, on this response only (never put in the session or a redirect)
    return render(request, "users.html", **users_context(request, token))


@router.post("/tokens/revoke")
def tokens_revoke(request: Request, admin: Admin, token_id: str = Form("")) -> Response:
    if _state(request).revoke_token(token_id):
        flash(request, "令牌已吊销")
    return back("/users")


@router.get("/account")
def account_page(request: Request, user: CurrentUser) -> Response:
    import pyotp

    state = _state(request)
    enabled = state.totp_secret(user.username) is not None
    secret = "" if enabled else state.start_totp(user.username)
    uri = "" if enabled else pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="netsword")
    return render(request, "account.html", enabled=enabled, secret=secret, uri=uri)


@router.post("/account/totp")
def account_totp(request: Request, user: CurrentUser, code: str = Form("")) -> Response:
    if _state(request).enable_totp(user.username, code[:20]):
        flash(request, "两步验证已启用：下次登录需要动态验证码")
    else:
        flash(request, "动态码不对，请按应用当前显示的 6 位数字重试")
    return back("/account")


@router.post("/account/totp/disable")
def account_totp_disable(request: Request, user: CurrentUser, code: str = Form("")) -> Response:
    secret = _state(request).totp_secret(user.username)
    if secret is None or not totp_ok(secret, code[:20]):
        flash(request, "动态码不对，两步验证仍然有效")
        return back("/account")
    _state(request).disable_totp(user.username)
    flash(request, "两步验证已停用")
    return back("/account")
