"""Politeness for the whole cluster: a site's concurrency and delay hold for the sum of all workers.

Each worker's Scrapy keeps its own slots (``CONCURRENT_REQUESTS_PER_DOMAIN``, ``DOWNLOAD_DELAY``
from the profile), so three workers would be three times as impolite. :class:`ClusterLimiter`
(downloader middleware) asks Redis before every download: a sorted set per host holds the
downloads under way in the whole sweep (each scored by when it is forgotten should its worker
die), a key holds when the next download may start. One Lua script checks both and takes a
place; the middleware waits (without blocking the worker) until it gets one, and gives it back
when the answer or the failure arrives. Like Scrapy's own slots it counts requests, not sockets.

Settings: ``CONCURRENT_REQUESTS_PER_DOMAIN``, ``DOWNLOAD_DELAY`` (the profile's ``concurrency`` and
``delay``), ``DOWNLOAD_TIMEOUT`` (a place is held at most this long + 30 s).
Stats: ``netsword/limiter/waits`` (times a request waited for a place).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured

from crawler.distributed.keys import SweepKeys

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < nxt then return nxt - now end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('SET', KEYS[2], now + tonumber(ARGV[3]), 'PX', tonumber(ARGV[3]) + 60000)
return 0
"""

PLACE = "netsword_limiter_place"


class ClusterLimiter:
    def __init__(self, server: Any, keys: SweepKeys, concurrency: int, delay: float, hold: float,
                 stats: Any = None) -> None:
        self.server, self.keys, self.stats = server, keys, stats
        self.concurrency, self.delay_ms, self.hold_ms = max(1, concurrency), int(delay * 1000), int(hold * 1000)
        self._take = server.register_script(_TAKE)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClusterLimiter:
        s = crawler.settings
        sweep = s.get("NETSWORD_REDIS_SWEEP")
        if not sweep:
            raise NotConfigured("not a distributed sweep")
        from scrapy_redis.connection import get_redis_from_settings

        return cls(get_redis_from_settings(s), SweepKeys(sweep), s.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
                   s.getfloat("DOWNLOAD_DELAY"), s.getfloat("DOWNLOAD_TIMEOUT") + 30, crawler.stats)

    def take(self, slot: str, token: str) -> int:
        """0 if ``token`` got a place at ``slot``; else how many ms to wait (-1: all places taken)."""
        return int(self._take(keys=[self.keys.limiter(slot), self.keys.next_at(slot)],
                              args=[token, self.concurrency, self.delay_ms, self.hold_ms]))

    def give_back(self, slot: str, token: str) -> None:
        self.server.zrem(self.keys.limiter(slot), token)

    async def process_request(self, request: Any, spider: Any = None) -> None:
        if PLACE in request.meta:
            return
        slot, token = urlsplit(request.url).netloc, uuid.uuid4().hex
        waited = False
        while True:
            wait = self.take(slot, token)
            if wait == 0:
                break
            if not waited and self.stats is not None:
                self.stats.inc_value("netsword/limiter/waits")
            waited = True
            await asyncio.sleep(0.02 if wait < 0 else min(wait, 1000) / 1000)
        request.meta[PLACE] = (slot, token)

    def _release(self, request: Any) -> None:
        place = request.meta.pop(PLACE, None)
        if place is not None:
            self.give_back(*place)

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        self._release(request)
        return response

    def process_exception(self, request: Any, exception: BaseException, spider: Any = None) -> None:
        self._release(request)
