"""Login and verification walls: the site said "stop" -- pause its sweep, alert, never hammer.

::

    walls:
      login: 'form#login-form'                     # the login page / an expired session
      verification: 'div.captcha, #nc_1_wrapper'   # a verification (captcha, slider) page
      login_url: '/login'                          # optional regex on the URL; default: the path of
                                                   # session.login_url (a redirect there is a login wall)

:class:`WallMiddleware` (downloader) looks at every answer of the site, after redirects: a page
matching ``walls.login`` (or landing on the login URL) or ``walls.verification`` is a wall. Then:

* a redirect to the login URL is the wall too (:class:`LoginRedirectWall`, above the redirect
  middleware: the redirect is kept, the login page not fetched);
* the page is kept as evidence (``evidence/html/...``, content-addressed), not parsed, not stored
  as a listing; its URL stays pending, so ``netsword crawl --site S --resume`` fetches it again;
* the site is paused: no further request to it is sent (those waiting stay pending too), and the
  sweep closes with ``blocked_login`` / ``blocked_verification``; no retry, no second try;
* :class:`WallAlert` (an extension) sends one alert through the alert channels
  (``$NETSWORD_ALERT_URLS``, :mod:`scheduling.alerts`) when the sweep closes, and the command's
  summary and exit status say so (``netsword crawl`` exits 4);
* in the distributed mode the sweep's state in Redis becomes ``blocked`` (with ``blocked_kind``,
  ``blocked_url``): every worker leaves it, the request goes back into the queue, and
  ``netsword runs watch`` raises the alarm once (:mod:`scheduling.health`). After
  ``netsword login S``: ``netsword runs resume SWEEP``.

Stats: ``netsword/wall`` (login | verification), ``netsword/wall/url``, ``netsword/wall/evidence``,
``netsword/wall/held`` (requests held back), ``netsword/wall/alert``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator
from scrapy.exceptions import IgnoreRequest

logger = logging.getLogger(__name__)

#: What the sweep's end, the alert and the summary call each wall (Chinese first).
WALL_LABELS = {"login": "需要重新登录 / login required (the session expired or is missing)",
               "verification": "遇到验证页 / verification page (captcha)"}
WALL_SHORT = {"login": "需要重新登录", "verification": "遇到验证页"}


class Walls(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str | None = None
    verification: str | None = None
    login_url: str | None = None

    @field_validator("login_url")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"bad regex {v!r}: {exc}") from exc
        return v

    def css(self) -> str:
        """Both wall selectors as one CSS selector list (xpath ones left out): browser waits end on a wall."""
        return ", ".join(s for s in (self.login, self.verification) if s and not s.startswith("xpath:"))


class WallMet(IgnoreRequest):
    """The answer was a wall: the page is not parsed and stays pending."""

    def __init__(self, kind: str, url: str) -> None:
        super().__init__(f"{WALL_SHORT.get(kind, kind)}: {url}")
        self.kind, self.url = kind, url


class WallPaused(IgnoreRequest):
    """The site is paused behind a wall: this request was not sent and stays pending."""


def _matches(response: Any, selector: str) -> bool:
    try:
        nodes = response.xpath(selector[6:]) if selector.startswith("xpath:") else response.css(selector)
    except (ValueError, AttributeError):  # not HTML (a JSON answer, say)
        return False
    return bool(nodes)


def wall_kind(response: Any, walls: Walls | None, login_pattern: re.Pattern[str] | None) -> str:
    """"login", "verification" or "" for an answer of the site."""
    if walls is None and login_pattern is None:
        return ""
    if login_pattern is not None:
        parts = urlsplit(response.url)
        if login_pattern.search(parts.path + (f"?{parts.query}" if parts.query else "")):
            return "login"
    from scrapy.http import TextResponse

    if not isinstance(response, TextResponse):  # pictures, files: no page to look at (css() would raise)
        return ""
    if walls is not None:
        if walls.verification and _matches(response, walls.verification):
            return "verification"
        if walls.login and _matches(response, walls.login):
            return "login"
    return ""


def login_pattern(profile: Any, base_url: str | None) -> re.Pattern[str] | None:
    walls = getattr(profile, "walls", None)
    if walls is not None and walls.login_url:
        return re.compile(walls.login_url)
    session = getattr(profile, "session", None)
    if session is not None and session.login_url:
        path = urlsplit(session.resolved_login_url(base_url or profile.base_url)).path
        if path and path != "/":
            return re.compile("^" + re.escape(path) + r"(?:\?.*)?$")  # with any query (?next=...)
    return None


class WallState:
    """The one wall a sweep met (the first), shared by the middleware and the alert extension."""

    def __init__(self) -> None:
        self.kind = ""
        self.url = ""
        self.evidence = ""
        self.held = 0


def wall_state(crawler: Any) -> WallState:
    state = getattr(crawler, "_netsword_wall", None)
    if state is None:
        state = crawler._netsword_wall = WallState()
    return state


class WallMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.state = wall_state(crawler)
        self.walls: Walls | None = None
        self.login: re.Pattern[str] | None = None
        self.site = ""

    @classmethod
    def from_crawler(cls, crawler: Any) -> WallMiddleware:
        from scrapy import signals

        mw = cls(crawler)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider: Any) -> None:
        profile = getattr(spider, "profile", None)
        if profile is None:
            return
        self.site = profile.site
        self.walls = profile.walls
        self.login = login_pattern(profile, getattr(spider, "base_url", None))

    def process_request(self, request: Any, spider: Any = None) -> None:
        if self.state.kind and not request.url.endswith("/robots.txt"):
            raise WallPaused(f"site {self.site} paused ({WALL_SHORT[self.state.kind]})")
        return None

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if request.url.endswith("/robots.txt"):
            return response
        kind = wall_kind(response, self.walls, self.login)
        if not kind:
            return response
        if self.state.kind:  # met already (a page that was in flight): just held back
            self._hold(request)
            raise WallPaused(f"site {self.site} paused ({WALL_SHORT[self.state.kind]})")
        await self._met(kind, request, response)
        raise WallMet(kind, request.url)

    def process_exception(self, request: Any, exception: BaseException, spider: Any = None) -> None:
        if isinstance(exception, WallPaused | WallMet):
            self._hold(request)
        return None

    def _hold(self, request: Any, count: bool = True) -> None:
        """A request not done because of the wall stays pending: in the distributed mode it goes back into the
        sweep's queue (its lease with it); in the embedded mode the frontier keeps it (not in the store)."""
        if count:
            self.state.held += 1
            self.crawler.stats.inc_value("netsword/wall/held")
        from crawler.distributed.scheduler import lease_queue

        queue = lease_queue(self.crawler)
        if queue is not None:
            try:
                queue.push(request)
            except Exception as exc:  # Redis away: the lease runs out and the request comes back all the same
                logger.warning("could not put %s back into the queue: %s", request.url, exc)

    async def _met(self, kind: str, request: Any, response: Any) -> None:
        from crawler.slothold import drain_slot

        state, stats = self.state, self.crawler.stats
        state.kind, state.url = kind, response.url
        # first, before anything awaits: nothing more leaves for the site (the slot's queue is failed; WallGate
        # stops what is still on its way through the middlewares, e.g. waiting for the cluster limiter)
        drained = drain_slot(self.crawler, request, lambda r: WallPaused(f"site {self.site} paused ({kind} wall)"))
        self._hold(request, count=False)  # the walled page itself: pending, fetched again on resume
        self._block_distributed(kind, response.url)
        stats.set_value("netsword/wall", kind)
        stats.set_value("netsword/wall/url", response.url)
        try:
            state.evidence = await asyncio.get_running_loop().run_in_executor(None, self._keep, response.body)
        except Exception as exc:  # the evidence of the wall is worth keeping, never worth failing for
            logger.warning("could not keep the wall page %s: %s", response.url, exc)
        stats.set_value("netsword/wall/evidence", state.evidence)
        requested = request.meta.get("redirect_urls", [request.url])[0]
        logger.error("站点 %s %s：%s（请求 %s）；暂停该站点的扫描，页面保存为证据 %s / site %s paused: %s wall at %s "
                     "(%d waiting requests held back)", self.site, WALL_SHORT[kind], response.url, requested,
                     state.evidence or "—", self.site, kind, response.url, drained)
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(self.crawler.engine.close_spider_async(reason=f"blocked_{kind}"))

    def _keep(self, body: bytes) -> str:
        from pipelines.store.files import EvidenceStore

        folder = self.crawler.settings.get("EVIDENCE_DIR")
        if not folder:
            return ""
        _sha, rel = EvidenceStore(folder).put_html(body)
        return rel

    def _block_distributed(self, kind: str, url: str) -> None:
        sweep = self.crawler.settings.get("NETSWORD_REDIS_SWEEP")
        if not sweep:
            return
        from scrapy_redis.connection import get_redis_from_settings

        from crawler.distributed.sweeps import block_sweep

        try:
            block_sweep(get_redis_from_settings(self.crawler.settings), sweep, kind, url, self.state.evidence)
        except Exception as exc:  # the worker leaves all the same; the others meet the wall too
            logger.warning("could not mark sweep %s blocked in Redis: %s", sweep, exc)


class WallGate:
    """The last downloader middleware before the slot queue: a request that passed :class:`WallMiddleware`
    before the wall was met (and waited since, e.g. for the cluster limiter) is not sent either."""

    def __init__(self, crawler: Any) -> None:
        self.state = wall_state(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> WallGate:
        return cls(crawler)

    def process_request(self, request: Any, spider: Any = None) -> None:
        if self.state.kind and not request.url.endswith("/robots.txt"):
            raise WallPaused(f"paused ({WALL_SHORT[self.state.kind]})")
        return None


class LoginRedirectWall(WallMiddleware):
    """The same wall check on redirects, above Scrapy's redirect middleware: a ``302`` to the login URL is the
    wall itself (the login page is not fetched, and the pages queued behind it are not sent with an expired
    session while the redirect waits its turn)."""

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        location = response.headers.get("Location") if 300 <= response.status < 400 else None
        if not location or self.login is None:
            return response
        target = _join(request.url, location.decode("latin-1"))
        parts = urlsplit(target)
        if not self.login.search(parts.path + (f"?{parts.query}" if parts.query else "")):
            return response
        if self.state.kind:
            self._hold(request)
            raise WallPaused(f"site {self.site} paused ({WALL_SHORT[self.state.kind]})")
        record = response.replace(url=target, body=(f"<!-- HTTP {response.status} {request.url} -> Location: "
                                                    f"{target} -->\n").encode() + response.body)
        await self._met("login", request, record)
        raise WallMet("login", target)


def _join(base: str, location: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, location)


class WallAlert:
    """Extension: one alert when an embedded sweep closes behind a wall (distributed: scheduling.health)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> WallAlert:
        from scrapy import signals

        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    async def spider_closed(self, spider: Any, reason: str = "") -> None:
        state = wall_state(self.crawler)
        if not state.kind or self.crawler.settings.get("NETSWORD_REDIS_SWEEP"):
            return
        status = await asyncio.get_running_loop().run_in_executor(
            None, send_wall_alert, spider.site, getattr(spider, "sweep_id", ""), state.kind, state.url,
            state.evidence)
        self.crawler.stats.set_value("netsword/wall/alert", status)
        logger.warning("wall alert for %s: %s", spider.site, status)


def wall_message(site: str, sweep_id: str, kind: str, url: str, evidence: str = "",
                 resume: str = "") -> tuple[str, str]:
    """(title, body) of the alert."""
    title = f"【网剑行动】{WALL_SHORT[kind]}：{site}（扫描 {sweep_id}）已暂停"
    fix = (f"请重新登录（netsword login {site}），然后继续扫描" if kind == "login"
           else "请在浏览器中手动通过验证、降低速度或更换代理后继续扫描")
    body = "\n".join([
        f"站点 {site} 的扫描 {sweep_id} 遇到{'登录页（会话已过期或缺失）' if kind == 'login' else '验证页（验证码）'}，"
        "已暂停该站点，未再发送请求。",
        f"页面：{url}",
        *([f"证据：{evidence}"] if evidence else []),
        f"{fix}：{resume or f'netsword crawl --site {site} --resume'}",
    ])
    return title, body


def send_wall_alert(site: str, sweep_id: str, kind: str, url: str, evidence: str = "") -> str:
    """Send the wall alert through the alert channels; the status for the log and the stats."""
    from scheduling.alerts import AlertConfig, Digest, send

    targets = AlertConfig().targets()
    if not targets:
        return "no alert target (NETSWORD_ALERT_URLS)"
    title, body = wall_message(site, sweep_id, kind, url, evidence)
    try:
        ok, status = send(targets, Digest(title, body, 0, 0))
    except Exception as exc:  # an alert that cannot go out is logged, never fatal
        return f"failed: {type(exc).__name__}: {exc}"[:300]
    return ("sent: " if ok else "failed: ") + status


def wall_summary(site: str, stats: dict[str, Any]) -> str:
    """The sweep summary's line for a sweep stopped at a wall (what happened, where the evidence is, what to do)."""
    kind = str(stats.get("netsword/wall") or str(stats.get("finish_reason", "")).removeprefix("blocked_"))
    fix = (f"先重新登录：netsword login {site}，再继续：netsword crawl --site {site} --resume" if kind == "login"
           else f"通过验证或降低速度、更换代理后继续：netsword crawl --site {site} --resume")
    alert = stats.get("netsword/wall/alert", "")
    return (f"站点 {site} 已暂停：{WALL_LABELS.get(kind, kind)}，页面 {stats.get('netsword/wall/url', '')}"
            f"（证据 {stats.get('netsword/wall/evidence') or '—'}）；"
            f"未抓取的 {stats.get('netsword/wall/held', 0)} 个请求保留待续。{fix}"
            + (f"；告警：{alert}" if alert else ""))
