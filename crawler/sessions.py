"""Logged-in sessions of a site, kept encrypted at rest (``netsword login SITE``).

A session is a Playwright *storage state* (``{"cookies": [...], "origins": [...]}``): what a
browser login leaves behind, what ``--storage-state FILE`` imports, and what a Netscape
``cookies.txt`` (``--cookies FILE``, read with :class:`http.cookiejar.MozillaCookieJar`) becomes.

At rest it is a Fernet token (``cryptography``: AES-128-CBC + HMAC-SHA256, authenticated) in
``<home>/sessions/<site>.session`` (mode 600). The key is ``$NETSWORD_SESSION_KEY`` (a Fernet key:
``python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'``)
or else ``<home>/sessions/session.key``, made on first use with mode 600; a key file readable by
others is refused, as the unit's signing key is. Workers of a distributed sweep on other machines
need the same key (the variable) and the session file.

Used by :class:`crawler.session_middleware.SessionMiddleware` (plain requests: Scrapy's cookie jar)
and the browser pool (Playwright contexts: ``storage_state``).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crawler.browser_steps import Step
from netsword.clock import utc_now
from netsword.config import data_home

KEY_ENV = "NETSWORD_SESSION_KEY"
KEY_FILE = "session.key"


class SessionError(RuntimeError):
    """A session cannot be read, written or imported; the message says what to do."""


def sessions_dir() -> Path:
    return data_home() / "sessions"


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 600 from the start (then rename into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def session_key(folder: Path | None = None, *, create: bool = True) -> bytes:
    """The Fernet key: ``$NETSWORD_SESSION_KEY``, else the key file (made when ``create``)."""
    from cryptography.fernet import Fernet

    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        try:
            Fernet(env.encode())
        except ValueError as exc:
            raise SessionError(f"{KEY_ENV} 不是有效的 Fernet 密钥 / is not a Fernet key (32 url-safe base64 "
                               f"bytes): {exc}") from exc
        return env.encode()
    path = (folder or sessions_dir()) / KEY_FILE
    if path.is_file():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SessionError(f"{path} 的权限过宽（应为 600）/ is readable by others (mode {mode:o}): "
                               f"chmod 600 {path}")
        return path.read_bytes().strip()
    if not create:
        raise SessionError(f"没有会话密钥 {path} / no session key (and {KEY_ENV} is not set)")
    key = Fernet.generate_key()
    _write_private(path, key + b"\n")
    return key


@dataclass
class SessionInfo:
    site: str
    saved_at: str
    source: str  # browser login | storage state FILE | cookies.txt FILE
    cookies: int
    expires: float | None  # the earliest expiry of a cookie that has one (UNIX seconds), None: session cookies
    path: Path

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires < time.time()


class SessionVault:
    """Encrypted storage states, one file per site."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or sessions_dir()

    def path(self, site: str) -> Path:
        return self.folder / f"{site}.session"

    def _fernet(self, create: bool = True) -> Any:
        from cryptography.fernet import Fernet

        return Fernet(session_key(self.folder, create=create))

    def save(self, site: str, state: dict[str, Any], source: str) -> SessionInfo:
        check_state(state)
        record = {"site": site, "saved_at": utc_now(), "source": source, "state": state}
        token = self._fernet().encrypt(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        _write_private(self.path(site), token)
        return self._info(record)

    def _record(self, site: str) -> dict[str, Any] | None:
        from cryptography.fernet import InvalidToken

        path = self.path(site)
        if not path.is_file():
            return None
        try:
            raw = self._fernet(create=False).decrypt(path.read_bytes())
        except InvalidToken as exc:
            raise SessionError(f"{path} 无法用当前密钥解密（密钥已更换或文件被改动）/ cannot be decrypted with "
                               f"this key (the key changed or the file was altered): netsword login {site} "
                               "again") from exc
        return json.loads(raw)

    def load(self, site: str) -> dict[str, Any] | None:
        """The site's storage state, or None when no session was recorded."""
        record = self._record(site)
        return record["state"] if record else None

    def info(self, site: str) -> SessionInfo | None:
        record = self._record(site)
        return self._info(record) if record else None

    def _info(self, record: dict[str, Any]) -> SessionInfo:
        cookies = record["state"].get("cookies", [])
        ends = [float(c["expires"]) for c in cookies if float(c.get("expires", -1) or -1) > 0]
        return SessionInfo(record["site"], record["saved_at"], record["source"], len(cookies),
                           min(ends) if ends else None, self.path(record["site"]))

    def forget(self, site: str) -> bool:
        path = self.path(site)
        if path.is_file():
            path.unlink()
            return True
        return False


# --------------------------------------------------------------------------- imports and conversions


def check_state(state: Any) -> None:
    """A Playwright storage state: a mapping with a list of cookies (name, value, domain, path)."""
    if not isinstance(state, dict) or not isinstance(state.get("cookies", []), list):
        raise SessionError("不是 Playwright 存储状态 / not a Playwright storage state (a JSON object with "
                           "\"cookies\": [...] and \"origins\": [...])")
    for i, c in enumerate(state.get("cookies", [])):
        missing = [k for k in ("name", "value", "domain") if not isinstance(c, dict) or k not in c]
        if missing:
            raise SessionError(f"cookie #{i + 1} lacks {', '.join(missing)}")


def read_storage_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SessionError(f"{path}: {exc}") from exc
    try:
        check_state(state)
    except SessionError as exc:
        raise SessionError(f"{path}: {exc}") from exc
    state.setdefault("origins", [])
    return state


def read_cookies_txt(path: Path) -> dict[str, Any]:
    """A Netscape cookies.txt (what browser extensions and curl write) as a storage state."""
    jar = http.cookiejar.MozillaCookieJar(str(path))
    try:
        jar.load(ignore_discard=True, ignore_expires=True)
    except (OSError, http.cookiejar.LoadError) as exc:
        raise SessionError(f"{path}: 不是 Netscape cookies.txt / not a Netscape cookies.txt: {exc}") from exc
    cookies = [{"name": c.name, "value": c.value or "", "domain": c.domain, "path": c.path or "/",
                "expires": float(c.expires) if c.expires else -1, "httpOnly": bool(c.has_nonstandard_attr("HttpOnly")),
                "secure": bool(c.secure), "sameSite": "Lax"} for c in jar]
    if not cookies:
        raise SessionError(f"{path}: 没有 cookie / holds no cookies")
    return {"cookies": cookies, "origins": []}


def to_cookiejar_cookie(c: dict[str, Any]) -> http.cookiejar.Cookie:
    """One storage-state cookie as a :class:`http.cookiejar.Cookie` (Scrapy's jar holds these)."""
    domain = str(c["domain"])
    expires = c.get("expires", -1)
    return http.cookiejar.Cookie(
        version=0, name=str(c["name"]), value=str(c["value"]), port=None, port_specified=False,
        domain=domain, domain_specified=domain.startswith("."), domain_initial_dot=domain.startswith("."),
        path=str(c.get("path") or "/"), path_specified=True, secure=bool(c.get("secure")),
        expires=int(expires) if expires and float(expires) > 0 else None, discard=not (expires and float(expires) > 0),
        comment=None, comment_url=None, rest={"HttpOnly": ""} if c.get("httpOnly") else {}, rfc2109=False)


# --------------------------------------------------------------------------- the profile's `session:`


class SessionSpec(BaseModel):
    """``session:`` of a profile: where and how ``netsword login SITE`` logs in with a browser."""

    model_config = ConfigDict(extra="forbid")

    login_url: str = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)

    def resolved_login_url(self, base_url: str | None) -> str:
        return self.login_url.replace("{base_url}", (base_url or "").rstrip("/"))


# --------------------------------------------------------------------------- the sweep's side


def session_state(crawler: Any) -> dict[str, Any] | None:
    """The storage state the crawl uses (loaded by :class:`SessionMiddleware` when the spider opened)."""
    return getattr(crawler, "_netsword_session_state", None)


class SessionMiddleware:
    """Downloader middleware (before Scrapy's CookiesMiddleware): the site's recorded session goes into
    Scrapy's cookie jar once, at the first request, so plain requests carry it and Set-Cookie answers
    update it the usual way; browser pages get it as their context's ``storage_state``
    (:mod:`crawler.browser_pool`). The decrypted state lives in memory only: never in a request's meta
    (which Scrapy's disk queue would write out)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.state: dict[str, Any] | None = None
        self._seeded = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> SessionMiddleware:
        from scrapy import signals

        mw = cls(crawler)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider: Any) -> None:
        import logging

        log = logging.getLogger(__name__)
        profile = getattr(spider, "profile", None)
        if profile is None:
            return
        vault = SessionVault()
        try:
            info = vault.info(profile.site)
        except SessionError as exc:
            log.error("站点 %s 的会话无法读取 / the session of %s cannot be read: %s", profile.site, profile.site, exc)
            return
        if info is None:
            if getattr(profile, "session", None) is not None:
                log.warning("站点 %s 还没有登录会话（netsword login %s）/ no session recorded for %s: pages behind "
                            "its login will meet the login wall", profile.site, profile.site, profile.site)
            return
        self.state = vault.load(profile.site)
        self.crawler._netsword_session_state = self.state
        self.crawler.stats.set_value("netsword/session/cookies", info.cookies)
        log.info("site %s: session of %s (%s, %d cookies)%s", profile.site, info.saved_at, info.source, info.cookies,
                 "; its cookies have expired" if info.expired else "")

    def process_request(self, request: Any, spider: Any = None) -> None:
        if self.state and not self._seeded:
            self._seeded = True
            self._seed()
        return None

    def _seed(self) -> None:
        import logging

        from scrapy.downloadermiddlewares.cookies import CookiesMiddleware

        downloader = self.crawler.engine.downloader
        cookies_mw = next((m for m in downloader.middleware.middlewares if isinstance(m, CookiesMiddleware)), None)
        if cookies_mw is None:
            logging.getLogger(__name__).warning("COOKIES_ENABLED is off: the session's cookies are not sent")
            return
        jar = cookies_mw.jars[None].jar
        for c in (self.state or {}).get("cookies", []):
            jar.set_cookie(to_cookiejar_cookie(c))
