"""A scrapy-redis priority queue whose pops are leases: nothing a killed worker held is lost.

scrapy-redis pops destructively: a worker killed while it fetches or parses a page takes that
request with it. Here a pop moves the request (atomically, one Lua script) from the queue to
``<queue>:leases``, scored by when the lease runs out; the worker gives it back
(:meth:`LeasedPriorityQueue.ack`) once the page is done -- its item through the whole pipeline
and committed by the store (:meth:`defer_ack`, :meth:`ack_done`: the store batches its commits), or
its failure said. A live worker renews the leases it holds with every
heartbeat; any worker moves leases that ran out back into the queue (:meth:`reclaim`), so the
page of a killed worker is fetched again by another. The store is idempotent per sweep, so a page
done twice (a lease that ran out under a very slow page) is still stored once.

Requests handed back to the scheduler carry their lease along (a redirect, a retry): the new
request is queued and the old lease dropped in one transaction (:meth:`push`).

A pop leases a few requests at once (``NETSWORD_REDIS_POP_BATCH``) and hands them out one by one: each
round trip to Redis stops the worker's reactor until the answer comes, and with every core busy the answer
waits for Redis to be scheduled. The ones not started when the worker closes go back to the queue at once
(:meth:`give_back_unstarted`); a killed worker's run out like any other lease. For the same reason new
links wait in the worker (:meth:`admit_later`) and go to Redis together (:meth:`flush_admits`): before the
next pop from Redis, before the queue is counted, before leases go back (a page's lease goes back only
after its links are in the sweep's queue, so a worker killed with links still waiting loses nothing: the
page comes back), when the worker closes, and at ``ADMIT_BATCH`` waiting links.

Settings: ``NETSWORD_REDIS_LEASE_SECONDS``, ``NETSWORD_REDIS_POP_BATCH``.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from scrapy_redis.queue import Base

#: request.meta key: the encoded request as it was leased (what :meth:`LeasedPriorityQueue.ack` removes)
LEASE = "netsword_lease"

_POP = """
-- KEYS: queue, leases; ARGV: lease seconds, how many. Returns {request, score, request, score, ...}
local items = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
if #items == 0 then return items end
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i = 1, #items, 2 do
  redis.call('ZREM', KEYS[1], items[i])
  redis.call('ZADD', KEYS[2], until_, items[i])
end
return items
"""

_UNPOP = """
-- KEYS: queue, leases; ARGV: request, score, ... (leased, never started): back in the queue if still leased
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[i + 1]), ARGV[i])
    n = n + 1
  end
end
return n
"""

_RECLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, item in ipairs(expired) do
  redis.call('ZREM', KEYS[2], item)
  redis.call('ZADD', KEYS[1], 0, item)
end
return #expired
"""

_ADMIT = """
-- KEYS: queue, leases, seen; ARGV: encoded request, score, lease ('' for none), dupefilter kind
-- ('bloom' | 'set' | ''), then its marks (bit positions, or the fingerprint).
-- Marking the URL seen and queueing it is one step: a worker killed between the two would otherwise
-- leave a URL marked seen that no queue holds -- lost for the rest of the sweep.
local seen = false
local kind = ARGV[4]
if kind == 'bloom' then
  local args = {}
  for i = 5, #ARGV do
    args[#args + 1] = 'SET'; args[#args + 1] = 'u1'; args[#args + 1] = ARGV[i]; args[#args + 1] = 1
  end
  local old = redis.call('BITFIELD', KEYS[3], unpack(args))
  seen = true
  for _, bit in ipairs(old) do
    if bit == 0 then seen = false end
  end
elseif kind == 'set' then
  seen = redis.call('SADD', KEYS[3], ARGV[5]) == 0
end
if ARGV[3] ~= '' then redis.call('ZREM', KEYS[2], ARGV[3]) end
if seen then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[1])
return 1
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return n
"""


#: links waiting in a worker (:meth:`LeasedPriorityQueue.admit_later`) sent to Redis in one round trip at most
ADMIT_BATCH = 64


class LeasedPriorityQueue(Base):
    """scrapy-redis's PriorityQueue (a sorted set, score = -priority) with leased pops."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None,
                 lease_seconds: float | None = None, pop_batch: int | None = None) -> None:
        super().__init__(server, spider, key, serializer)
        settings = getattr(spider, "settings", None)
        self.lease_seconds = float(lease_seconds or (settings.getfloat("NETSWORD_REDIS_LEASE_SECONDS", 120)
                                                     if settings is not None else 120))
        self.pop_batch = max(1, int(pop_batch or (settings.getint("NETSWORD_REDIS_POP_BATCH", 8)
                                                  if settings is not None else 8)))
        self.taken: deque[tuple[bytes, float]] = deque()  # leased by the last pop, not handed out yet
        self.admits: list[tuple[Any, str, list[Any]]] = []  # (request, seen key, script args) not sent yet
        self.on_admitted: Any = None  # called with [(request, queued), ...] after each flush (the scheduler's)
        self.leases_key = f"{self.key}:leases"
        self.failures_key = f"{self.key}:failures"  # hash: encoded request -> pipeline failures so far
        self.max_failures = 3
        self.held: set[bytes] = set()  # leases this process holds (renewed with each heartbeat)
        self._pop = server.register_script(_POP)
        self._reclaim = server.register_script(_RECLAIM)
        self._renew = server.register_script(_RENEW)
        self._admit = server.register_script(_ADMIT)
        self._unpop = server.register_script(_UNPOP)
        self._reclaimed_at = 0.0
        self.reclaimed = 0
        self.done: list[bytes] = []  # leases of pages done, given back once the store has committed them

    def __len__(self) -> int:
        """Requests waiting: in the queue (with the links waiting in this worker), and leased by this worker's
        last pop but not handed out yet."""
        self.flush_admits()
        return int(self.server.zcard(self.key)) + len(self.taken)

    def leased(self) -> int:
        """Requests some worker holds now."""
        return int(self.server.zcard(self.leases_key))

    def push(self, request: Any) -> None:
        lease = request.meta.pop(LEASE, None)  # a redirect or retry of a leased request: the lease moves on
        data = self._encode_request(request)
        pipe = self.server.pipeline(transaction=True)
        pipe.zadd(self.key, {data: -request.priority})
        if lease is not None:
            pipe.zrem(self.leases_key, lease)
        pipe.execute()
        if lease is not None:
            self.held.discard(lease)

    def admit(self, request: Any, seen_key: str, kind: str, marks: list[Any]) -> bool:
        """Mark the request seen (``kind`` 'bloom' with its bit positions, 'set' with its fingerprint) and
        queue it if it was new, in one atomic step; a leased request's lease goes in the same step (a
        redirect or retry hands it on, a duplicate is done). True if it was queued."""
        lease = request.meta.pop(LEASE, None)
        data = self._encode_request(request)
        queued = bool(self._admit(keys=[self.key, self.leases_key, seen_key],
                                  args=[data, -request.priority, lease or b"", kind, *marks]))
        if lease is not None:
            self.held.discard(lease)
        return queued

    def admit_later(self, request: Any, seen_key: str, kind: str, marks: list[Any]) -> None:
        """:meth:`admit`, sent with the next :meth:`flush_admits` (a request without a lease only)."""
        data = self._encode_request(request)
        self.admits.append((request, seen_key, [data, -request.priority, b"", kind, *marks]))
        if len(self.admits) >= ADMIT_BATCH:
            self.flush_admits()

    def flush_admits(self) -> list[tuple[Any, bool]]:
        """Send the links waiting in this worker to Redis, in one round trip (each admitted atomically, as
        :meth:`admit`); (request, queued) for each, also given to ``on_admitted``."""
        if not self.admits:
            return []
        admits, self.admits = self.admits, []
        try:
            pipe = self.server.pipeline(transaction=False)
            for _, seen_key, args in admits:
                self._admit(keys=[self.key, self.leases_key, seen_key], args=args, client=pipe)
            queued = pipe.execute()
        except Exception:
            self.admits[:0] = admits  # Redis away: they wait for the next flush (and the leases stay held)
            raise
        done = [(request, bool(q)) for (request, _, _), q in zip(admits, queued, strict=True)]
        if self.on_admitted is not None:
            self.on_admitted(done)
        return done

    def pop(self, timeout: int = 0) -> Any:
        """The next request, leased: from those the last pop leased, else ``pop_batch`` more from Redis in one
        round trip (highest priority first; the links waiting in this worker go first)."""
        if not self.taken:
            self.flush_admits()
            now = time.monotonic()
            if now - self._reclaimed_at >= 1.0:
                self._reclaimed_at = now
                self.reclaim()
            got = self._pop(keys=[self.key, self.leases_key], args=[self.lease_seconds, self.pop_batch])
            if not got:
                return None
            self.taken.extend(zip(got[::2], map(float, got[1::2]), strict=True))
            self.held.update(got[::2])
        data, _ = self.taken.popleft()
        request = self._decode_request(data)
        request.meta[LEASE] = data
        return request

    def give_back_unstarted(self) -> int:
        """The requests the last pop leased that were never handed out go back to the queue (the worker
        closes); how many."""
        if not self.taken:
            return 0
        taken, self.taken = list(self.taken), deque()
        self.held.difference_update(data for data, _ in taken)
        return int(self._unpop(keys=[self.key, self.leases_key], args=[x for pair in taken for x in pair]))

    def ack(self, lease: bytes | None) -> bool:
        """The leased request is done: it leaves the leases (False if it was not leased any more)."""
        if lease is None:
            return False
        self.held.discard(lease)
        return bool(self.server.zrem(self.leases_key, lease))

    def defer_ack(self, lease: bytes | None) -> None:
        """The leased page is done but its writes may still wait in the store's open batch: give the lease
        back with the next :meth:`ack_done`, after the store committed (a killed worker's last batch is lost
        with it; its pages are then fetched again)."""
        if lease is not None:
            self.done.append(lease)

    def ack_done(self) -> int:
        """Give back the leases of every page done so far (call after the store committed); how many."""
        if not self.done:
            return 0
        self.flush_admits()  # the links of these pages are in the sweep's queue before their leases go
        done, self.done = self.done, []
        self.held.difference_update(done)
        self.server.zrem(self.leases_key, *done)
        return len(done)

    def fail(self, lease: bytes) -> bool:
        """The leased page failed after its fetch: the lease runs out now, so the next reclaim queues it
        again (True), unless it failed ``max_failures`` times already: then it is dropped (False)."""
        self.held.discard(lease)
        failures = int(self.server.hincrby(self.failures_key, lease, 1))
        if failures >= self.max_failures:
            pipe = self.server.pipeline(transaction=True)
            pipe.zrem(self.leases_key, lease)
            pipe.hdel(self.failures_key, lease)
            pipe.execute()
            return False
        self.server.zadd(self.leases_key, {lease: 0}, xx=True)
        return True

    def renew(self) -> int:
        """Push back the end of every lease this process holds; how many were still held."""
        if not self.held:
            return 0
        return int(self._renew(keys=[self.leases_key], args=[self.lease_seconds, *self.held]))

    def reclaim(self, batch: int = 500) -> int:
        """Leases that ran out (their worker died) go back into the queue; how many did."""
        n = int(self._reclaim(keys=[self.key, self.leases_key], args=[batch]))
        self.reclaimed += n
        return n

    def clear(self) -> None:
        self.taken.clear()
        self.admits.clear()
        self.server.delete(self.key, self.leases_key, self.failures_key)
