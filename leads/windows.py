"""Time windows a chart marks: the campaign's festivals (from campaigns/) and baseline sweeps (run records).

Festivals come from the campaign calendars (``scheduling.campaigns``), placed on the calendar for
the years a chart shows; a campaign file that does not load is logged and left out (a chart is
never refused for it). Baseline sweeps are the run records of kind ``baseline``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from netsword.clock import parse_utc
from pipelines.store.base import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    name: str
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    kind: str = "festival"  # "festival" | "baseline"
    campaign: str = ""

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end



def festival_windows(first: date, last: date, site: str | None = None) -> list[Window]:
    """Festivals of every campaign (only those sweeping ``site`` when given) falling between ``first`` and
    ``last`` (calendar days), earliest first."""
    from scheduling.campaigns import festival_day, load_campaigns

    try:
        campaigns = load_campaigns()
    except Exception as exc:  # a broken calendar file: the charts go on without festivals
        logger.warning("campaign calendars not loaded, festivals not marked: %s", exc)
        return []
    out: dict[tuple[str, date], Window] = {}
    for c in campaigns:
        if site and c.target(site) is None:
            continue
        tz = c.campaign.tz
        for f in c.campaign.festivals:
            day = first - timedelta(days=40)
            while day <= last:
                try:
                    start = festival_day(f, day)
                except ValueError:
                    break
                end = start + timedelta(days=f.days)
                if start > last:
                    break
                if end > first:
                    out[(f.name, start)] = Window(
                        f.name, datetime.combine(start, time(), tz).astimezone(UTC),
                        datetime.combine(end, time(), tz).astimezone(UTC), "festival", c.id)
                day = start + timedelta(days=max(f.days, 1))
    return sorted(out.values(), key=lambda w: w.start)


def baseline_windows(store: Store, site: str | None = None) -> list[Window]:
    """Baseline sweeps (run records of kind baseline) of ``site``, earliest first."""
    try:
        runs = store.runs(site=site, kind="baseline", limit=200)
    except NotImplementedError:
        return []
    out = []
    for r in runs:
        start = parse_utc(r.started_at)
        end = parse_utc(r.finished_at) or start
        if start is not None and end is not None:
            out.append(Window("基准扫描", start, max(end, start + timedelta(minutes=1)), "baseline", r.campaign))
    return sorted(out, key=lambda w: w.start)
