"""Login throttling: growing delays, then a temporary lockout, per account name and per client address.

Every login attempt is counted against two keys: the account name typed (whether or not such a
user exists, so the answers never tell which names are real) and the client address. An attempt
counts as a failure from the moment it starts and is taken back when the password was right, so
parallel guesses cannot slip past the count. After a failure the next attempt on that key must
wait (1 s, 2 s, 4 s, ... up to ``max_delay``); after ``max_failures`` failures the key is locked
for ``lockout_seconds``. Attempts refused for waiting or lockout are not checked and do not count.
A key's failures are forgotten ``lockout_seconds`` after its last failure, and when a lockout ends.

Per address the limits are looser (``address_grace`` failures before any delay, a higher
``address_failures``): behind a proxy every analyst has the proxy's address.

The counters live in the console process (``netsword serve`` runs one); a restart forgets them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures lead to what (``ConsoleConfig.login_policy``)."""

    account_failures: int = 5  # failures of one account name before its lockout
    address_failures: int = 20  # failures from one client address before its lockout
    address_grace: int = 5  # failures from one address before delays start
    lockout_seconds: float = 15 * 60
    first_delay: float = 1.0  # the wait after the first counted failure, doubling with each one more
    max_delay: float = 60.0
    max_keys: int = 10_000  # counters kept (oldest unlocked ones dropped first)


@dataclass(frozen=True)
class Refusal:
    """Why a login attempt was not even checked, and for how many seconds more."""

    locked: bool  # True: locked out; False: too soon after the last failure
    retry_after: float

    @property
    def message(self) -> str:
        if self.locked:
            return f"登录失败次数过多，请 {max(1, math.ceil(self.retry_after / 60))} 分钟后再试"
        return f"登录尝试过于频繁，请 {max(1, math.ceil(self.retry_after))} 秒后再试"

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


@dataclass
class _Counter:
    failures: int = 0
    last: float = 0.0  # when the latest counted attempt started
    locked_until: float = 0.0


class LoginThrottle:
    """Counters per key ("account:NAME", "address:IP"); thread-safe (the console's handlers run in threads)."""

    def __init__(self, policy: LoginPolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or LoginPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: OrderedDict[str, _Counter] = OrderedDict()

    # -- the policy per key -------------------------------------------------------------
    def _limits(self, key: str) -> tuple[int, int]:
        """(failures before lockout, failures before delays) of ``key``."""
        p = self.policy
        return (p.address_failures, p.address_grace) if key.startswith("address:") else (p.account_failures, 0)

    def _delay(self, key: str, failures: int) -> float:
        _, grace = self._limits(key)
        if failures <= grace:
            return 0.0
        return min(self.policy.max_delay, self.policy.first_delay * 2 ** (failures - grace - 1))

    def _current(self, key: str, now: float) -> _Counter | None:
        """The key's counter, dropped when its lockout ended or its failures are old enough to forget."""
        c = self._counters.get(key)
        if c is None:
            return None
        if (c.locked_until and now >= c.locked_until) or (
                not c.locked_until and now - c.last > self.policy.lockout_seconds):
            del self._counters[key]
            return None
        return c

    def _refusal(self, key: str, now: float) -> Refusal | None:
        c = self._current(key, now)
        if c is None:
            return None
        if c.locked_until:
            return Refusal(True, c.locked_until - now)
        wait = c.last + self._delay(key, c.failures) - now
        return Refusal(False, wait) if wait > 0 else None

    # -- one attempt ----------------------------------------------------------------------
    def begin(self, account: str, address: str) -> Refusal | None:
        """Before checking a password: the refusal (locked out, or too soon), else None and the
        attempt is counted as a failure on both keys until :meth:`succeeded` takes it back."""
        keys = (f"account:{account}", f"address:{address}")
        with self._lock:
            now = self._clock()
            refusals = [r for r in (self._refusal(k, now) for k in keys) if r is not None]
            if refusals:
                return max(refusals, key=lambda r: (r.locked, r.retry_after))
            for key in keys:
                self._count(key, now)
            return None

    def _count(self, key: str, now: float) -> None:
        c = self._counters.get(key)
        if c is None:
            self._make_room(now)
            c = self._counters[key] = _Counter()
        self._counters.move_to_end(key)
        c.failures += 1
        c.last = now
        if c.failures >= self._limits(key)[0]:
            c.locked_until = now + self.policy.lockout_seconds

    def succeeded(self, account: str, address: str) -> None:
        """The password was right: the account's failures are forgotten, the address's attempt taken back
        (the address's earlier failures stay: one good login must not wipe out a guessing run)."""
        with self._lock:
            self._counters.pop(f"account:{account}", None)
            c = self._counters.get(f"address:{address}")
            if c is not None:
                c.failures = max(0, c.failures - 1)
                if c.failures < self._limits(f"address:{address}")[0]:
                    c.locked_until = 0.0

    def locked(self, account: str, address: str) -> list[str]:
        """Which of the two keys are locked out now ("account", "address")."""
        with self._lock:
            now = self._clock()
            out = []
            for kind, key in (("account", f"account:{account}"), ("address", f"address:{address}")):
                c = self._current(key, now)
                if c is not None and c.locked_until:
                    out.append(kind)
            return out

    def failures(self, account: str) -> int:
        with self._lock:
            c = self._current(f"account:{account}", self._clock())
            return c.failures if c is not None else 0

    def _make_room(self, now: float) -> None:
        """Keep at most ``max_keys`` counters: drop forgotten ones, then the oldest unlocked, then the oldest."""
        if len(self._counters) < self.policy.max_keys:
            return
        for key in list(self._counters):
            self._current(key, now)
        while len(self._counters) >= self.policy.max_keys:
            victim = next((k for k, c in self._counters.items() if not c.locked_until), None)
            self._counters.pop(victim if victim is not None else next(iter(self._counters)))


__all__ = ["LoginPolicy", "LoginThrottle", "Refusal"]
