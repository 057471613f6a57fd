"""Distributed sweeps in Redis: seed one, see them, stop, resume (``netsword crawl --distributed``,
``netsword runs``).

A sweep's record (``netsword:sweep:<id>:info``) says what to crawl (site, base URL, search
terms) and its state: ``running`` (workers take its requests), ``stopped`` (workers leave it; its
queue waits), ``blocked`` (a login or verification wall met: as stopped, see :mod:`crawler.walls`),
``finished`` (queue and leases empty), ``failed``. Seeding puts the start requests
into the sweep's queue and duplicate filter the way the workers' scheduler does, and writes the
sweep record into the store (workers write pages; the finishing worker writes the sweep's end).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from crawler.distributed.keys import SWEEPS, SweepKeys

STATES = ("running", "stopped", "finished", "failed", "blocked")


class SweepNotFound(KeyError):
    """No distributed sweep with this id in Redis."""


class SweepExists(ValueError):
    """A sweep with this id is in Redis already (seeding it again would mix two sweeps)."""


@dataclass
class SweepStatus:
    sweep_id: str
    site: str
    state: str
    started: float
    queued: int
    leased: int
    info: dict[str, str] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def live_workers(self) -> list[dict[str, Any]]:
        return [w for w in self.workers if w.get("alive")]

    def total(self, stat: str) -> int:
        return sum(int((w.get("stats") or {}).get(stat, 0) or 0) for w in self.workers)

    @property
    def pages_per_second(self) -> float:
        return sum(float(w.get("rate", 0.0)) for w in self.live_workers)


def _str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def seed_sweep(server: Any, site: str, *, base_url: str | None = None, sweep_id: str | None = None,
               search: list[str] | None = None, store_url: str = "", settings: Any = None) -> tuple[str, int]:
    """Put a new sweep of ``site`` into Redis: its record, start requests, duplicate filter.
    Returns (sweep id, start requests queued)."""
    from scrapy.settings import Settings

    from crawler.distributed.dupefilter import BloomDupeFilter, marks
    from crawler.distributed.queue import LeasedPriorityQueue
    from crawler.spiders.listing import ListingSpider, new_sweep_id

    sweep_id = sweep_id or new_sweep_id(site)
    keys = SweepKeys(sweep_id)
    if server.exists(keys.info):
        raise SweepExists(f"sweep {sweep_id} exists in Redis already; netsword runs resume {sweep_id} continues it")
    spider = ListingSpider(site=site, base_url=base_url, sweep_id=sweep_id, search=search)
    spider.settings = settings or Settings({"NETSWORD_REDIS_LEASE_SECONDS": 120})
    urls = spider.profile.search_urls(spider.search_terms, base_url) if spider.search_terms \
        else spider.profile.resolved_start_urls(base_url)
    queue = LeasedPriorityQueue(server, spider, keys.queue)
    s = spider.settings
    dupes = BloomDupeFilter(server, keys.seen, capacity=s.getint("NETSWORD_REDIS_BLOOM_CAPACITY", 10_000_000),
                            error=s.getfloat("NETSWORD_REDIS_BLOOM_ERROR", 1e-7)) \
        if s.get("NETSWORD_REDIS_DUPEFILTER", "bloom") == "bloom" else None
    from scrapy_redis.dupefilter import RFPDupeFilter

    dupes = dupes or RFPDupeFilter(server, keys.seen)
    server.hset(keys.info, mapping={"site": site, "base_url": base_url or "", "search": json.dumps(search or []),
                                    "store": store_url, "state": "running", "started": time.time(),
                                    "dupefilter": s.get("NETSWORD_REDIS_DUPEFILTER", "bloom")})
    server.zadd(SWEEPS, {sweep_id: time.time()})
    from crawler.seeds import seed_requests

    requests = [spider.request_for(url) for url in urls]
    if not spider.search_terms:
        requests += list(seed_requests(spider))  # the profile's sitemaps (`seeds:`)
    n = 0
    for request in requests:
        if request is not None and queue.admit(request, dupes.key, *marks(dupes, request)):
            n += 1
    return sweep_id, n


class StoreCannotTakeSweep(ValueError):
    """The configured store cannot keep what this site's sweep needs (sub-pages: SQLite so far)."""


def seed_recorded(server: Any, site: str, *, base_url: str | None = None, sweep_id: str | None = None,
                  search: list[str] | None = None, extra: dict[str, str] | None = None,
                  store_url: str | None = None) -> tuple[str, int]:
    """Seed a sweep of ``site`` (``netsword crawl --distributed``, the console's start button): the profile
    and rule packs checked first (a broken one raises its file:line error before anything is written), then
    the sweep in Redis and its record in the configured store. Returns (sweep id, start requests queued);
    ``SweepExists`` when the sweep id is taken. ``server``: a Redis client, or a function that connects
    (called after the checks: a broken profile is reported whether Redis runs or not). ``store_url``: where the
    sweep's record goes (default: the configured store; the workers write to theirs)."""
    from scrapy.settings import Settings

    import crawler.settings as defaults
    from crawler.profiles import find_profile
    from crawler.runner import _check_base_url, _check_rules, _ensure_sqlite_parent
    from netsword.clock import utc_now
    from netsword.config import store_url as default_store_url
    from pipelines.store import open_store

    extra = extra or {}
    profile = find_profile(site)
    _check_rules(extra)
    _check_base_url(site, profile, base_url)
    settings = Settings({k: getattr(defaults, k) for k in dir(defaults) if k.startswith("NETSWORD_REDIS_")})
    for name, value in extra.items():
        settings.set(name, value)
    store_url = store_url or default_store_url()
    from crawler.subpages import store_problem

    if problem := store_problem(profile, store_url):  # sub-pages need a store that keeps parts
        raise StoreCannotTakeSweep(problem)
    if callable(server):
        server = server()
    sweep_id, n = seed_sweep(server, site, base_url=base_url, sweep_id=sweep_id, search=search,
                             store_url=store_url, settings=settings)
    _ensure_sqlite_parent(store_url)
    store = open_store(store_url)
    try:
        store.start_sweep(sweep_id, site, utc_now(), {"distributed": True, "search": search or []})
    finally:
        store.close()
    return sweep_id, n


def status(server: Any, sweep_id: str, *, beat_timeout: float = 30.0) -> SweepStatus:
    keys = SweepKeys(sweep_id)
    info = {_str(k): _str(v) for k, v in server.hgetall(keys.info).items()}
    if not info:
        raise SweepNotFound(sweep_id)
    now = time.time()
    workers = []
    for wid, raw in server.hgetall(keys.workers).items():
        beat = json.loads(raw)
        beat["id"] = _str(wid)
        beat["age"] = now - float(beat.get("time", 0))
        beat["alive"] = beat["age"] <= beat_timeout and not beat.get("ended")
        workers.append(beat)
    workers.sort(key=lambda w: w["id"])
    return SweepStatus(sweep_id, info.get("site", ""), info.get("state", ""), float(info.get("started", 0)),
                       int(server.zcard(keys.queue)), int(server.zcard(keys.leases)), info, workers)


def list_sweeps(server: Any, *, states: tuple[str, ...] = STATES, limit: int = 50) -> list[SweepStatus]:
    out = []
    for raw in server.zrevrange(SWEEPS, 0, limit - 1):
        try:
            st = status(server, _str(raw))
        except SweepNotFound:
            continue
        if st.state in states:
            out.append(st)
    return out


def set_state(server: Any, sweep_id: str, state: str, *, only_from: tuple[str, ...] = ()) -> str:
    """Set a sweep's state; returns the state it had."""
    keys = SweepKeys(sweep_id)
    old = server.hget(keys.info, "state")
    if old is None:
        raise SweepNotFound(sweep_id)
    old_s = _str(old)
    if only_from and old_s not in only_from:
        return old_s
    server.hset(keys.info, mapping={"state": state, f"{state}_at": time.time()})
    return old_s


def block_sweep(server: Any, sweep_id: str, kind: str, url: str, evidence: str = "") -> bool:
    """A worker met a login or verification wall: the sweep is ``blocked`` (every worker leaves it; its queue
    waits for ``netsword runs resume``). True if this call blocked it (the first wall of the sweep)."""
    keys = SweepKeys(sweep_id)
    if set_state(server, sweep_id, "blocked", only_from=("running",)) != "running":
        return False
    server.hset(keys.info, mapping={"blocked_kind": kind, "blocked_url": url, "blocked_evidence": evidence})
    return True


def state(server: Any, sweep_id: str) -> str:
    value = server.hget(SweepKeys(sweep_id).info, "state")
    return _str(value) if value is not None else ""


def log_tail(server: Any, sweep_id: str, lines: int = 20) -> list[str]:
    return [_str(x) for x in reversed(server.lrange(SweepKeys(sweep_id).log, 0, lines - 1))]


def next_sweep(server: Any) -> str | None:
    """The oldest running sweep, or None."""
    for raw in server.zrange(SWEEPS, 0, -1):
        sweep_id = _str(raw)
        if state(server, sweep_id) == "running":  # with no work left its first worker finishes it
            return sweep_id
    return None
