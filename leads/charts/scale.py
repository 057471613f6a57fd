"""Axes: linear scales with round ticks, and time scales with day ticks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5, 5 x 10^n) giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


@dataclass
class Linear:
    lo: float
    hi: float
    px_lo: float  # pixel of lo
    px_hi: float  # pixel of hi

    def __call__(self, v: float) -> float:
        if self.hi == self.lo:
            return self.px_lo
        return round(self.px_lo + (v - self.lo) / (self.hi - self.lo) * (self.px_hi - self.px_lo), 1)

    def ticks(self, n: int = 4) -> list[float]:
        step = nice_step(self.hi - self.lo, n)
        first = math.ceil(self.lo / step) * step
        out, v = [], first
        while v <= self.hi + 1e-9:
            out.append(round(v, 6))
            v += step
        return out

    @classmethod
    def zero_based(cls, top: float, px_lo: float, px_hi: float) -> Linear:
        step = nice_step(top or 1)
        return cls(0.0, math.ceil((top or 1) * 1.05 / step) * step, px_lo, px_hi)


@dataclass
class TimeScale:
    lo: datetime
    hi: datetime
    px_lo: float
    px_hi: float

    def __call__(self, t: datetime) -> float:
        span = (self.hi - self.lo).total_seconds() or 1
        return round(self.px_lo + (t - self.lo).total_seconds() / span * (self.px_hi - self.px_lo), 1)

    def day_ticks(self, tz: object, n: int = 6) -> list[datetime]:
        """Midnights (in ``tz``) between lo and hi, at most about ``n`` of them."""
        first = self.lo.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)  # type: ignore[arg-type]
        days = max(1, (self.hi - self.lo).days)
        step = max(1, math.ceil(days / n))
        out, t = [], first + timedelta(days=1)
        while t <= self.hi:
            out.append(t)
            t += timedelta(days=step)
        return out
