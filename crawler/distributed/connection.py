"""The Redis connection: ``REDIS_URL`` (Scrapy setting, scrapy-redis's name) or ``NETSWORD_REDIS_URL``."""

from __future__ import annotations

import os
from typing import Any

DEFAULT_URL = "redis://127.0.0.1:6379/0"


class RedisUnavailable(RuntimeError):
    """Redis cannot be reached; the message says which and how to point at another."""


def redis_url(url: str | None = None) -> str:
    return url or os.environ.get("NETSWORD_REDIS_URL") or DEFAULT_URL


def connect(url: str | None = None, *, check: bool = True, timeout: float = 30.0) -> Any:
    """A redis-py client (bytes answers) for ``url``; with ``check`` it must answer a PING. ``timeout``: seconds a
    command may take (connecting: a third of it, at most 10 s); a page of the console waits less than a worker."""
    import redis

    url = redis_url(url)
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=min(10.0, timeout / 3),
                                  retry_on_timeout=True)
    if check:
        try:
            client.ping()
        except redis.RedisError as exc:
            raise RedisUnavailable(f"Redis at {url} cannot be reached ({exc}); start it, or point "
                                   "NETSWORD_REDIS_URL (or --redis) at one that runs") from exc
    return client
