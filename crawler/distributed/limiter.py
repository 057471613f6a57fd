"""Politeness for the whole cluster: a site's concurrency and delay hold for the sum of all workers.

Each worker's Scrapy keeps its own slots (``CONCURRENT_REQUESTS_PER_DOMAIN``, ``DOWNLOAD_DELAY``
from the profile), so three workers would be three times as impolite. :class:`ClusterLimiter`
(downloader middleware) asks Redis before every download: a sorted set per host holds the
downloads under way in the whole sweep (each scored by when it is forgotten should its worker
die), a key holds when the next download may start. One Lua script checks both and takes a
place; the middleware waits (without blocking the worker) until it gets one, and gives it back
when the answer or the failure arrives. Like Scrapy's own slots it counts requests, not sockets.

A place given back is sent with the worker's next take at that site, in the same script: each
round trip to Redis stops the worker's reactor until the answer comes. Places not sent that way
within ``RETURN_WITHIN`` seconds (no next take: the worker is idle or done) are sent on their own,
and all of them when the spider closes. Until then they still count as taken: the cluster is at
most that much slower to reuse a place, never less polite.

Settings: ``CONCURRENT_REQUESTS_PER_DOMAIN``, ``DOWNLOAD_DELAY`` (the profile's ``concurrency`` and
``delay``), ``DOWNLOAD_TIMEOUT`` (a place is held at most this long + 30 s).
Stats: ``netsword/limiter/waits`` (times a request waited for a place).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.distributed.keys import SweepKeys

logger = logging.getLogger(__name__)

_TAKE = """
-- KEYS: places, next_at; ARGV: token, concurrency, delay ms, hold ms, then the tokens given back since
if #ARGV > 4 then redis.call('ZREM', KEYS[1], unpack(ARGV, 5)) end
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
#: seconds a place given back may wait for the next take before it is sent on its own
RETURN_WITHIN = 0.05


class ClusterLimiter:
    def __init__(self, server: Any, keys: SweepKeys, concurrency: int, delay: float, hold: float,
                 stats: Any = None, aserver: Any = None) -> None:
        """``server``: a redis-py client; ``aserver``: its asyncio twin (redis.asyncio), used by the middleware
        when given, so that the worker's reactor goes on with other pages while Redis answers."""
        self.server, self.keys, self.stats, self.aserver = server, keys, stats, aserver
        self.concurrency, self.delay_ms, self.hold_ms = max(1, concurrency), int(delay * 1000), int(hold * 1000)
        self._take = server.register_script(_TAKE)
        self._atake = aserver.register_script(_TAKE) if aserver is not None else None
        self.returned: dict[str, list[str]] = {}  # slot -> places given back, not yet sent to Redis
        self._send_call: Any = None  # the delayed call that sends them

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClusterLimiter:
        s = crawler.settings
        sweep = s.get("NETSWORD_REDIS_SWEEP")
        if not sweep:
            raise NotConfigured("not a distributed sweep")
        from scrapy.utils.reactor import is_asyncio_reactor_installed
        from scrapy_redis.connection import get_redis_from_settings

        aserver = None
        if is_asyncio_reactor_installed():
            import redis.asyncio

            aserver = redis.asyncio.Redis.from_url(s.get("REDIS_URL"), socket_timeout=30, socket_connect_timeout=10,
                                                   retry_on_timeout=True)
        limiter = cls(get_redis_from_settings(s), SweepKeys(sweep), s.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
                      s.getfloat("DOWNLOAD_DELAY"), s.getfloat("DOWNLOAD_TIMEOUT") + 30, crawler.stats, aserver)
        crawler.signals.connect(limiter.spider_closed, signal=signals.spider_closed)
        return limiter

    async def take_async(self, slot: str, token: str) -> int:
        """0 if ``token`` got a place at ``slot``; else how many ms to wait (-1: all places taken). The places
        given back at ``slot`` since the last take go in the same call. With ``aserver`` the reactor goes on
        while Redis answers."""
        returned = self.returned.pop(slot, [])
        keys = [self.keys.limiter(slot), self.keys.next_at(slot)]
        args = [token, self.concurrency, self.delay_ms, self.hold_ms, *returned]
        try:
            if self._atake is not None:
                return int(await self._atake(keys=keys, args=args))
            return int(self._take(keys=keys, args=args))
        except Exception:
            self.returned.setdefault(slot, []).extend(returned)
            raise

    def give_back(self, slot: str, token: str) -> None:
        """The place goes back with the next take at ``slot``, or within :data:`RETURN_WITHIN` seconds."""
        self.returned.setdefault(slot, []).append(token)
        if self._send_call is None:
            try:  # the asyncio reactor's loop (a worker's), else Twisted's reactor
                self._send_call = asyncio.get_running_loop().call_later(RETURN_WITHIN, self._send_due)
            except RuntimeError:
                from twisted.internet import reactor

                self._send_call = reactor.callLater(RETURN_WITHIN, self._send_due)

    def _send_due(self) -> None:
        self._send_call = None
        self.send_returned()

    def send_returned(self) -> int:
        """Send every place given back and not sent yet; how many."""
        returned, self.returned = self.returned, {}
        if not returned:
            return 0
        try:
            pipe = self.server.pipeline(transaction=False)
            for slot, tokens in returned.items():
                pipe.zrem(self.keys.limiter(slot), *tokens)
            pipe.execute()
        except Exception as exc:  # Redis away: the places are forgotten when their hold runs out
            logger.warning("could not give back %d download places: %s", sum(map(len, returned.values())), exc)
        return sum(map(len, returned.values()))

    async def spider_closed(self, spider: Any = None) -> None:
        if self._send_call is not None:
            self._send_call.cancel()
            self._send_call = None
        self.send_returned()
        if self.aserver is not None:
            await self.aserver.aclose()

    async def process_request(self, request: Any, spider: Any = None) -> None:
        if PLACE in request.meta:
            return
        slot, token = urlsplit(request.url).netloc, uuid.uuid4().hex
        waited = False
        while True:
            wait = await self.take_async(slot, token)
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
