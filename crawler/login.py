"""``netsword login SITE``: record a logged-in session of a site (kept encrypted: :mod:`crawler.sessions`).

Three ways in:

* a **browser login**: the profile's ``session.login_url`` opened in headless Chromium, its
  ``session.steps`` run (``fill`` / ``click`` / ``press`` / ``wait_for`` / ``wait``), then the
  context's storage state (cookies and local storage) is kept. ``{username}`` and ``{password}`` in
  a ``fill`` come from ``$NETSWORD_LOGIN_<SITE>_USER`` / ``_PASSWORD`` (the site upper case, ``-`` as
  ``_``), else ``$NETSWORD_LOGIN_USER`` / ``$NETSWORD_LOGIN_PASSWORD``, else a prompt (the password
  hidden). They are used for the login only and never stored;
* ``--storage-state FILE``: a Playwright storage state (JSON) made elsewhere;
* ``--cookies FILE``: a Netscape ``cookies.txt`` (browser extensions, ``curl -c``).

``--status`` says whether a session is kept and how old it is; ``--forget`` deletes it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from crawler.sessions import SessionError, SessionInfo, SessionVault, read_cookies_txt, read_storage_state


class LoginFailed(RuntimeError):
    """The browser login did not get through; the message says which step."""


def credentials(site: str, prompt: Callable[..., str] | None = None) -> dict[str, str]:
    """``{"username": ..., "password": ...}`` from the environment, else ``prompt``."""
    key = re.sub(r"[^A-Z0-9]", "_", site.upper())
    out: dict[str, str] = {}
    for name, var in (("username", "USER"), ("password", "PASSWORD")):
        value = os.environ.get(f"NETSWORD_LOGIN_{key}_{var}") or os.environ.get(f"NETSWORD_LOGIN_{var}")
        if not value:
            if prompt is None:
                raise LoginFailed(f"no {name}: set NETSWORD_LOGIN_{key}_{var} (or NETSWORD_LOGIN_{var})")
            value = prompt("用户名 / username" if name == "username" else "密码 / password",
                           hide_input=name == "password")
        out[name] = value
    return out


def _fill_value(template: str, creds: dict[str, str]) -> str:
    return template.replace("{username}", creds.get("username", "")).replace("{password}", creds.get("password", ""))


def browser_login(profile: Any, base_url: str | None, creds: dict[str, str], *, timeout_ms: int = 30_000,
                  proxy: str | None = None) -> dict[str, Any]:
    """Log in with the profile's ``session`` steps in headless Chromium; the storage state afterwards."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from crawler.browser import launch_options
    from crawler.browser_pool import CONTEXT_KWARGS

    session = profile.session
    if session is None:
        raise LoginFailed(f"the profile of {profile.site} has no `session:` (login_url, steps); import a session "
                          "with --storage-state FILE or --cookies FILE instead")
    url = session.resolved_login_url(base_url or profile.base_url)
    kwargs: dict[str, Any] = dict(CONTEXT_KWARGS)
    ident = profile.identity
    if ident is not None:
        if ident.user_agent:
            kwargs["user_agent"] = ident.user_agent
        if ident.headers:
            kwargs["extra_http_headers"] = dict(ident.headers)
        proxy = proxy or (ident.pool[0] if ident.pool else None)
    if proxy:
        from crawler.browser_pool import context_kwargs

        kwargs["proxy"] = context_kwargs(None, proxy).get("proxy") or _proxy_option(proxy)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        try:
            context = browser.new_context(**kwargs)
            page = context.new_page()
            try:
                page.goto(url, timeout=timeout_ms)
            except PlaywrightError as exc:
                raise LoginFailed(f"登录页打不开 / the login page {url} did not open: {_first_line(exc)}") from exc
            for i, step in enumerate(session.steps, 1):
                try:
                    _run_step(page, step, creds)
                except PlaywrightError as exc:
                    what = step.action + (f" {step.selector()!r}" if step.selector() else "")
                    raise LoginFailed(f"登录第 {i} 步失败 / login step {i} ({what}) failed at {page.url}: "
                                      f"{_first_line(exc)}") from exc
            return context.storage_state()
        finally:
            browser.close()


def _proxy_option(proxy: str) -> dict[str, str]:
    from urllib.parse import urlsplit

    parts = urlsplit(proxy)
    return {"server": f"{parts.scheme}://{parts.hostname}:{parts.port}", "bypass": "<-loopback>"}


def _run_step(page: Any, step: Any, creds: dict[str, str]) -> None:
    from crawler.browser_steps import _css

    action, timeout = step.action, step.timeout
    if action == "fill":
        page.fill(_css(step.fill.selector), _fill_value(step.fill.value, creds), timeout=timeout)
    elif action == "press":
        page.press(_css(step.press.selector), step.press.key, timeout=timeout)
    elif action == "click":
        for _ in range(step.times):
            page.click(_css(step.click), timeout=timeout)
    elif action == "wait_for":
        page.wait_for_selector(_css(step.wait_for), state="attached", timeout=timeout)
    elif action == "wait":
        page.wait_for_timeout(step.wait)
    elif action == "scroll_to_end":
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def describe(info: SessionInfo | None, site: str) -> str:
    if info is None:
        return f"站点 {site} 没有保存的会话 / no session kept for {site} (netsword login {site})"
    from datetime import UTC, datetime

    ends = (datetime.fromtimestamp(info.expires, UTC).strftime("%Y-%m-%d %H:%M UTC") if info.expires
            else "浏览器会话 / session cookies (no expiry date)")
    state = "已过期 / EXPIRED" if info.expired else "有效期至 / valid until"
    return (f"站点 {site}：会话保存于 {info.saved_at}（{info.source}），{info.cookies} 个 cookie，{state} {ends}；"
            f"加密保存在 {info.path}")


@click.command()
@click.argument("site")
@click.option("--storage-state", "storage_state", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="import a Playwright storage state (JSON) instead of logging in")
@click.option("--cookies", "cookies_txt", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="import a Netscape cookies.txt instead of logging in")
@click.option("--base-url", default=None, help="override the profile's base_url")
@click.option("--status", is_flag=True, help="show the kept session (age, cookies, expiry) and exit")
@click.option("--forget", is_flag=True, help="delete the kept session")
def login(site: str, storage_state: Path | None, cookies_txt: Path | None, base_url: str | None, status: bool,
          forget: bool) -> None:
    """登录 / record a logged-in session of SITE for its sweeps (kept encrypted).

    With the profile's `session:` (login_url, steps) it logs in with the browser; the user name and
    password come from $NETSWORD_LOGIN_<SITE>_USER / _PASSWORD (or $NETSWORD_LOGIN_USER / _PASSWORD) or a
    prompt. After a sweep stopped at a login wall: log in again, then `netsword crawl --site SITE --resume`."""
    from crawler.profiles import find_profile

    vault = SessionVault()
    try:
        if status:
            click.echo(describe(vault.info(site), site))
            return
        if forget:
            click.echo(f"已删除站点 {site} 的会话 / session forgotten" if vault.forget(site)
                       else f"站点 {site} 没有保存的会话 / no session kept")
            return
        if storage_state and cookies_txt:
            raise click.UsageError("--storage-state or --cookies, not both")
        if storage_state:
            state, source = read_storage_state(storage_state), f"storage state {storage_state.name}"
        elif cookies_txt:
            state, source = read_cookies_txt(cookies_txt), f"cookies.txt {cookies_txt.name}"
        else:
            profile = find_profile(site)
            creds = credentials(site, prompt=click.prompt)
            state = browser_login(profile, base_url, creds)
            source = "browser login"
        info = vault.save(site, state, source)
    except (SessionError, LoginFailed) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(describe(info, site))
