"""Who a sweep says it is: user agent, headers and proxies per site profile (``identity:``).

::

    identity:
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) ... netsword'   # default: netsword's own (USER_AGENT)
      headers: {Accept-Language: 'zh-CN,zh;q=0.9'}
      proxy: 'http://10.0.0.5:3128'        # or socks5://host:1080
      # or a pool:
      proxies: ['http://10.0.0.5:3128', 'http://10.0.0.6:3128']
      rotate: on_block                     # per_request: the next proxy for each request;
                                           # on_block: the same one until a site blocks it (429, 403,
                                           # a verification page), then the next

Plain requests: :class:`IdentityMiddleware` sets the headers and ``meta["proxy"]``, which Scrapy's
``HttpProxyMiddleware`` carries out (http and https proxies, ``user:pass@`` credentials included).
Scrapy has no SOCKS client: for a ``socks5://`` proxy netsword runs a local HTTP-to-SOCKS bridge
(pproxy, on the crawl's own asyncio loop, 127.0.0.1 only) and points Scrapy at it. Browser pages:
the Playwright context gets ``user_agent``, ``extra_http_headers`` and ``proxy={"server": ...}``
(Chromium speaks SOCKS5 itself), see :mod:`crawler.browser_pool`.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

logger = logging.getLogger(__name__)

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def _check_proxy(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname or not parts.port:
        raise ValueError(f"bad proxy {url!r}: write scheme://host:port with scheme one of {', '.join(PROXY_SCHEMES)}")
    return url


class Identity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_agent: str | None = Field(None, min_length=1, max_length=500)
    headers: dict[str, str] = Field(default_factory=dict)
    proxy: str | None = None
    proxies: list[str] = Field(default_factory=list)
    rotate: Literal["per_request", "on_block"] = "on_block"

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, v: str | None) -> str | None:
        return _check_proxy(v) if v else v

    @field_validator("proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        return [_check_proxy(p) for p in v]

    @model_validator(mode="after")
    def _one_of(self) -> Identity:
        if self.proxy and self.proxies:
            raise ValueError("write `proxy:` (one) or `proxies:` (a pool), not both")
        return self

    @property
    def pool(self) -> list[str]:
        return [self.proxy] if self.proxy else list(self.proxies)


#: Answers that mean "this proxy is blocked here" for ``rotate: on_block``.
BLOCK_STATUSES = (403, 407, 429)


class ProxyRotation:
    """The proxy for each request of one sweep."""

    def __init__(self, proxies: list[str], rotate: str = "on_block") -> None:
        self.proxies = list(proxies)
        self.rotate = rotate
        self._cycle = itertools.cycle(range(len(self.proxies))) if self.proxies else None
        self.current = 0

    def pick(self) -> str | None:
        if not self.proxies:
            return None
        if self.rotate == "per_request":
            assert self._cycle is not None
            self.current = next(self._cycle)
        return self.proxies[self.current]

    def blocked(self, proxy: str | None) -> str | None:
        """``proxy`` was blocked: with ``on_block`` the next one takes over; returns it (None: no change)."""
        if self.rotate != "on_block" or len(self.proxies) < 2 or proxy != self.proxies[self.current]:
            return None
        self.current = (self.current + 1) % len(self.proxies)
        return self.proxies[self.current]


def is_socks(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme.startswith("socks")


class SocksBridges:
    """Local HTTP proxies (pproxy) that forward to SOCKS5 proxies, one per SOCKS proxy, on 127.0.0.1."""

    def __init__(self) -> None:
        self._bridges: dict[str, tuple[str, Any]] = {}

    async def http_for(self, socks_url: str) -> str:
        if socks_url in self._bridges:
            return self._bridges[socks_url][0]
        import pproxy

        parts = urlsplit(socks_url)
        remote = f"socks5://{parts.hostname}:{parts.port}"
        if parts.username:
            remote += f"#{parts.username}:{parts.password or ''}"
        server = pproxy.Server("http://127.0.0.1:0")
        handler = await server.start_server({"rserver": [pproxy.Connection(remote)], "verbose": lambda *_: None})
        port = handler.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        self._bridges[socks_url] = (url, handler)
        logger.info("SOCKS proxy %s:%s reached through the local bridge %s", parts.hostname, parts.port, url)
        return url

    def close(self) -> None:
        for _url, handler in self._bridges.values():
            handler.close()
        self._bridges.clear()


class IdentityMiddleware:
    """Downloader middleware: the profile's headers, user agent and proxy on every request."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.identity: Identity | None = None
        self.rotation = ProxyRotation([])
        self.bridges = SocksBridges()

    @classmethod
    def from_crawler(cls, crawler: Any) -> IdentityMiddleware:
        from scrapy import signals

        mw = cls(crawler)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_opened(self, spider: Any) -> None:
        self.identity = getattr(getattr(spider, "profile", None), "identity", None)
        if self.identity is not None:
            self.rotation = ProxyRotation(self.identity.pool, self.identity.rotate)
            if self.identity.pool:
                logger.info("site %s goes through %d prox%s (%s)", spider.profile.site, len(self.identity.pool),
                            "y" if len(self.identity.pool) == 1 else "ies", self.identity.rotate)

    def spider_closed(self, spider: Any) -> None:
        self.bridges.close()

    async def process_request(self, request: Any, spider: Any = None) -> None:
        ident = self.identity
        if ident is None:
            return None
        for name, value in ident.headers.items():  # over Scrapy's DEFAULT_REQUEST_HEADERS (Accept-Language: en)
            request.headers[name] = value
        if ident.user_agent:
            request.headers[b"User-Agent"] = ident.user_agent
        if ("proxy" in request.meta and "netsword_proxy" not in request.meta) or not ident.pool:
            return None  # a proxy the request names itself; a retry of ours picks again (rotation)
        proxy = self.rotation.pick()
        request.meta["netsword_proxy"] = proxy
        if request.meta.get("playwright"):  # the browser context carries the proxy (crawler.browser_pool)
            request.meta["netsword_context_proxy"] = proxy
            return None
        request.meta["proxy"] = await self.bridges.http_for(proxy) if is_socks(proxy) else proxy
        return None

    def blocked(self, request: Any, why: str) -> None:
        proxy = request.meta.get("netsword_proxy")
        nxt = self.rotation.blocked(proxy)
        if nxt:
            self.crawler.stats.inc_value("netsword/proxy/rotated")
            logger.warning("proxy %s blocked at %s (%s): going on through %s", _safe(proxy), request.url, why,
                           _safe(nxt))


class ProxyBlockWatch:
    """Downloader middleware above the retry middleware (it sees a 429 before the retry is made): a proxy
    the site answers 403/407/429 is blocked, and with ``rotate: on_block`` the retry goes through the next."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProxyBlockWatch:
        return cls(crawler)

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if response.status in BLOCK_STATUSES and request.meta.get("netsword_proxy"):
            mw = identity_middleware(self.crawler)
            if mw is not None:
                mw.blocked(request, f"HTTP {response.status}")
        return response


def _safe(proxy: str | None) -> str:
    """A proxy URL without its password (for logs)."""
    parts = urlsplit(proxy or "")
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.hostname else ""


def identity_middleware(crawler: Any) -> IdentityMiddleware | None:
    """The crawler's IdentityMiddleware instance, if installed."""
    downloader = getattr(getattr(crawler, "engine", None), "downloader", None)
    for mw in getattr(getattr(downloader, "middleware", None), "middlewares", ()):
        if isinstance(mw, IdentityMiddleware):
            return mw
    return None
