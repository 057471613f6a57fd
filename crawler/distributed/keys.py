"""Redis key names of the distributed mode: everything of one sweep under ``netsword:sweep:<id>:``."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "netsword"
#: sorted set: every distributed sweep, scored by its start (UNIX seconds)
SWEEPS = f"{PREFIX}:sweeps"


@dataclass(frozen=True)
class SweepKeys:
    sweep_id: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:sweep:{self.sweep_id}"

    @property
    def info(self) -> str:
        """hash: site, base_url, search, store, state (running|stopped|finished|failed), times"""
        return f"{self.base}:info"

    @property
    def queue(self) -> str:
        """sorted set: encoded requests waiting (scrapy-redis's priority queue)"""
        return f"{self.base}:queue"

    @property
    def leases(self) -> str:
        """sorted set: encoded requests a worker took, scored by when their lease runs out"""
        return f"{self.queue}:leases"

    @property
    def failures(self) -> str:
        """hash: encoded request -> times its page failed in the pipeline (given up at the third)"""
        return f"{self.queue}:failures"

    @property
    def seen(self) -> str:
        """the duplicate filter (a Bloom filter's bits, or a set of fingerprints)"""
        return f"{self.base}:seen"

    @property
    def workers(self) -> str:
        """hash: worker id -> its last heartbeat (JSON: time, host, pid, stats)"""
        return f"{self.base}:workers"

    @property
    def log(self) -> str:
        """list: the sweep's last log lines, newest first"""
        return f"{self.base}:log"

    @property
    def alarms(self) -> str:
        """hash: alarm kind (+ subject) -> when it was sent (each is sent once)"""
        return f"{self.base}:alarms"

    def limiter(self, slot: str) -> str:
        """sorted set: requests to ``slot`` (a host) being downloaded now, scored by when they expire"""
        return f"{self.base}:limit:{slot}"

    def next_at(self, slot: str) -> str:
        """string: the earliest time (ms) the next request to ``slot`` may start"""
        return f"{self.base}:limit:{slot}:next"

    def robots(self, netloc: str) -> str:
        """hash: the robots.txt of a host (body, status), fetched once per sweep"""
        return f"{self.base}:robots:{netloc}"
