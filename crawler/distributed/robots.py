"""robots.txt fetched once per sweep, not once per worker.

Scrapy's :class:`~scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware` fetches a host's
robots.txt once per process. :class:`SharedRobotsTxtMiddleware` keeps what was fetched in Redis
(the body and status, per host, for the sweep): the first worker to need it takes a short lock
and fetches it, the others wait for it (up to ``NETSWORD_REDIS_ROBOTS_WAIT`` seconds, then fetch
themselves) and parse the shared copy.

Stats: ``robotstxt/request_count`` (fetched here), ``netsword/robots/shared`` (taken from Redis).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from crawler.distributed.keys import SweepKeys


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        sweep = crawler.settings.get("NETSWORD_REDIS_SWEEP")
        if not sweep:
            raise NotConfigured("not a distributed sweep")
        from scrapy_redis.connection import get_redis_from_settings

        self.server = get_redis_from_settings(crawler.settings)
        self.keys = SweepKeys(sweep)
        self.wait = crawler.settings.getfloat("NETSWORD_REDIS_ROBOTS_WAIT", 60)

    async def robot_parser(self, request: Any) -> Any:
        netloc = urlparse_cached(request).netloc
        if netloc not in self._parsers:
            shared = await self._shared(netloc)
            if shared is not None:
                self._parsers[netloc] = build_from_crawler(self._parserimpl, self.crawler, shared)
                self._stats.inc_value("netsword/robots/shared")
        return await super().robot_parser(request)

    async def _shared(self, netloc: str) -> bytes | None:
        """The body another worker fetched, or None when this worker is to fetch it."""
        key = self.keys.robots(netloc)
        deadline = time.monotonic() + self.wait
        while True:
            body = self.server.hget(key, "body")
            if body is not None:
                return body
            if self.server.hsetnx(key, "fetching", int(time.time())):
                self.server.expire(key, int(self.wait) + 5)  # a fetcher that dies frees the lock
                return None
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.1)

    async def _parse_robots(self, response: Any, netloc: str, request: Any) -> None:
        self.server.hset(self.keys.robots(netloc), mapping={"body": response.body, "status": response.status})
        self.server.persist(self.keys.robots(netloc))
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self.server.hset(self.keys.robots(netloc), mapping={"body": b"", "status": 0})  # no robots.txt: allowed
        self.server.persist(self.keys.robots(netloc))
        super()._robots_error(exc, netloc)
