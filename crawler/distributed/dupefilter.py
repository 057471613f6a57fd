"""The sweep's duplicate filter in Redis: a Bloom filter, checked and set in one atomic command.

scrapy-redis keeps every fingerprint in a Redis set: about 90 bytes per URL, 900 MB for ten
million. A Bloom filter over the same fingerprints holds ten million URLs in about 42 MB at a
false-positive rate of 1e-7 (one new URL in ten million taken for seen, and skipped).

Why not a package: RedisBloom's ``BF.ADD`` is a Redis module Debian's redis-server does not
ship, and scrapy-redis-bloomfilter (0.8.1, last release 2021) tests and sets its bits in separate
round trips (two workers can both take one URL for new) with a hash that is the sum of the
characters for its first seed. Here the ``k`` bit positions come from the fingerprint itself
(SHA-1, double hashing: ``h1 + i*h2 mod m``) and one ``BITFIELD`` command sets them all and
returns the bits as they were: the URL was seen if they all were 1 -- atomic across workers.

Settings: ``NETSWORD_REDIS_BLOOM_CAPACITY`` (URLs per sweep the error rate holds for; 10 million),
``NETSWORD_REDIS_BLOOM_ERROR`` (1e-7). ``NETSWORD_REDIS_DUPEFILTER = set`` uses scrapy-redis's set.
"""

from __future__ import annotations

import math
from typing import Any

from scrapy_redis.dupefilter import RFPDupeFilter

MAX_BITS = 2**32  # a Redis string holds at most 512 MB


def bloom_size(capacity: int, error: float) -> tuple[int, int]:
    """(bits, hashes) of a Bloom filter holding ``capacity`` items at false-positive rate ``error``."""
    bits = math.ceil(-capacity * math.log(error) / math.log(2) ** 2)
    bits = min(max(bits, 1024), MAX_BITS)
    hashes = max(1, round(bits / capacity * math.log(2)))
    return bits, hashes


def positions(fingerprint: str, bits: int, hashes: int) -> list[int]:
    """The bit positions of a hex fingerprint (SHA-1: 160 bits, enough for two 64-bit hashes)."""
    h1 = int(fingerprint[:16], 16)
    h2 = int(fingerprint[16:32], 16) | 1
    return [(h1 + i * h2) % bits for i in range(hashes)]


class BloomDupeFilter(RFPDupeFilter):
    def __init__(self, server: Any, key: str, debug: bool = False, capacity: int = 10_000_000,
                 error: float = 1e-7) -> None:
        super().__init__(server, key, debug)
        self.bits, self.hashes = bloom_size(capacity, error)

    @classmethod
    def from_spider(cls, spider: Any) -> BloomDupeFilter:
        from scrapy_redis.connection import get_redis_from_settings

        s = spider.settings
        key = s.get("SCHEDULER_DUPEFILTER_KEY") % {"spider": spider.name}
        return cls(get_redis_from_settings(s), key, s.getbool("DUPEFILTER_DEBUG"),
                   s.getint("NETSWORD_REDIS_BLOOM_CAPACITY", 10_000_000),
                   s.getfloat("NETSWORD_REDIS_BLOOM_ERROR", 1e-7))

    def request_seen(self, request: Any) -> bool:
        return self.fingerprint_seen(self.request_fingerprint(request))

    def fingerprint_seen(self, fingerprint: str) -> bool:
        """Record the fingerprint; True if it was (probably) recorded before."""
        args: list[Any] = []
        for pos in positions(fingerprint, self.bits, self.hashes):
            args += ["SET", "u1", pos, 1]
        old = self.server.execute_command("BITFIELD", self.key, *args)
        return all(old)


def marks(dupefilter: Any, request: Any, fingerprint: str | None = None) -> tuple[str, list[Any]]:
    """What :meth:`crawler.distributed.queue.LeasedPriorityQueue.admit` sets for ``request`` (of
    ``fingerprint``, when known) in the sweep's filter: ('bloom', bit positions) or ('set', [fingerprint])
    for scrapy-redis's set."""
    if fingerprint is None:
        fingerprint = dupefilter.request_fingerprint(request)
    if isinstance(dupefilter, BloomDupeFilter):
        return "bloom", positions(fingerprint, dupefilter.bits, dupefilter.hashes)
    return "set", [fingerprint]
