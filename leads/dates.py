"""Dates as analysts give them (Beijing calendar days) turned into the store's UTC time bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from netsword.clock import BEIJING


def parse_day(text: str | date | None) -> date | None:
    """``YYYY-MM-DD`` (or ``YYYY/MM/DD``, ``YYYYMMDD``) as a date; None for empty input."""
    if text is None or isinstance(text, date):
        return text
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"日期格式应为 YYYY-MM-DD / a date is YYYY-MM-DD, got {text!r}")


def _utc(day: date) -> str:
    return datetime.combine(day, time(0), BEIJING).astimezone(UTC).isoformat(timespec="seconds")


def day_bounds(first: str | date | None, last: str | date | None) -> dict[str, str | None]:
    """SearchQuery's ``seen_from`` / ``seen_before`` for the Beijing days ``first`` to ``last`` (both included)."""
    a, b = parse_day(first), parse_day(last)
    if a and b and b < a:
        raise ValueError(f"结束日期早于开始日期 / the end date {b} is before the start date {a}")
    return {"seen_from": _utc(a) if a else None, "seen_before": _utc(b + timedelta(days=1)) if b else None}


