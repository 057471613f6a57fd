"""Time, said once: UTC for what netsword stores, Beijing time for what people read.

Stored times are ISO 8601 in UTC (``2026-11-11T02:00:00+00:00``); forms, exports and the
console show Beijing time (UTC+8, no daylight saving), as the campaign texts and forms do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

#: China Standard Time (UTC+8), the clock of the campaign texts, forms and hearings.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def utc_now(timespec: str = "seconds") -> str:
    """Now, in UTC, as ISO 8601 (``timespec`` as for :meth:`datetime.isoformat`)."""
    return datetime.now(UTC).isoformat(timespec=timespec)


def beijing_time(iso: str | None) -> str:
    """ISO 8601 (any offset) as Beijing time ``YYYY-MM-DD HH:MM:SS+08:00``; unparsable text unchanged."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(BEIJING).isoformat(sep=" ", timespec="seconds")


def today_beijing() -> date:
    """Today's date on the Beijing calendar."""
    return datetime.now(BEIJING).date()


def parse_utc(value: str | None) -> datetime | None:
    """A stored ISO 8601 time (``Z``, any offset, or naive = UTC) as an aware UTC datetime; None when empty or
    unreadable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
