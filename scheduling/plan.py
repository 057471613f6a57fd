"""A campaign's sweep plan as scheduler jobs: per festival and site, a baseline, daily sweeps, hourly watch sweeps.

* ``baseline``: one sweep of the site (all of it, or from ``sites[].start_urls``)
  ``baseline.days_before`` days before the first festival day, at ``baseline.at`` (prices before
  the festival; price-history rules compare with it);
* ``daily``: one sweep of the site a day at ``daily.at``, from ``daily.days_before`` days
  before the festival through its last day;
* ``hourly``: on the festival days, the site's watch-listed shops (``sites[].watch``) every
  ``hourly.every_hours`` hours between ``from_hour`` and ``to_hour``.

Job ids are ``<campaign>:<festival>:<kind>:<site>``. Times are the campaign's timezone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scheduling.campaigns import KIND_LABELS, LoadedCampaign, localize

#: The function every scheduled job calls (a textual reference, as the SQLite job store keeps it).
JOB_FUNC = "scheduling.runs:scheduled_sweep"
KIND_ORDER = {"baseline": 0, "daily": 1, "hourly": 2}


@dataclass(frozen=True)
class PlannedJob:
    job_id: str
    campaign: str
    campaign_file: str
    festival: str
    festival_name: str
    kind: str  # baseline | daily | hourly
    site: str
    base_url: str | None
    start_urls: tuple[str, ...]  # () = the site profile's own
    tz: str
    spec: dict[str, Any] = field(hash=False)  # {"type": "date", "run_date"} | {"type": "cron", ...}
    search: tuple[str, ...] = ()  # search keywords: the sweep starts from their search results

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def trigger(self) -> Any:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.date import DateTrigger

        tz = ZoneInfo(self.tz)
        s = self.spec
        if s["type"] == "date":
            return DateTrigger(run_date=datetime.fromisoformat(s["run_date"]), timezone=tz)
        return CronTrigger(hour=s["hour"], minute=s["minute"], second=s["second"],
                           start_date=datetime.fromisoformat(s["start"]), end_date=datetime.fromisoformat(s["end"]),
                           timezone=tz)

    def fingerprint(self) -> str:
        """Changes when anything that decides when or what is swept changes."""
        data = [self.spec, self.site, self.base_url, list(self.start_urls), self.tz, self.campaign_file]
        if self.search:
            data.append(list(self.search))
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def kwargs(self) -> dict[str, Any]:
        """What the job function gets (kept in the job store: no secrets here)."""
        kwargs = {"job_id": self.job_id, "campaign": self.campaign, "campaign_file": self.campaign_file,
                  "festival": self.festival, "kind": self.kind, "site": self.site, "base_url": self.base_url,
                  "start_urls": list(self.start_urls), "fingerprint": self.fingerprint()}
        if self.search:
            kwargs["search"] = list(self.search)
        return kwargs

    def next_run(self, now: datetime) -> datetime | None:
        """The next fire time at or after ``now`` (None when the plan is over)."""
        return self.trigger().get_next_fire_time(None, now)

    def last_time(self) -> datetime:
        s = self.spec
        return datetime.fromisoformat(s["run_date"] if s["type"] == "date" else s["end"])

    def describe(self) -> str:
        """When it runs, in Chinese, e.g. "每天 02:00（12-05 至 12-12）"."""
        s = self.spec
        if s["type"] == "date":
            return f"{datetime.fromisoformat(s['run_date']):%Y-%m-%d %H:%M:%S} 一次"
        start, end = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        days = f"{start:%m-%d} 至 {end:%m-%d}"
        if self.kind == "daily":
            return f"每天 {int(s['hour']):02d}:{int(s['minute']):02d}:{int(s['second']):02d}（{days}）"
        return f"{s['hour_text']} 点，第 {int(s['minute']):02d} 分（{days}，重点店铺 {len(self.start_urls)} 个）"


def _span(first: date, last: date, tz: ZoneInfo) -> tuple[str, str]:
    return (localize(first, time(0, 0), tz).isoformat(),
            (localize(last, time(0, 0), tz) + timedelta(days=1, seconds=-1)).isoformat())


def plan_jobs(loaded: LoadedCampaign) -> list[PlannedJob]:
    """Every job of the campaign, by festival, kind and site."""
    c = loaded.campaign
    tz = c.tz
    jobs: list[PlannedJob] = []
    for fd in loaded.festivals:
        f, plan = fd.festival, fd.plan
        for target in c.targets:
            terms = loaded.search_terms(target)
            specs: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
            scope = tuple(target.start_urls)
            if plan.baseline.enabled:
                specs.append(("baseline", {"type": "date", "run_date": localize(
                    fd.baseline_day, plan.baseline.at, tz).isoformat()}, scope))
            if plan.daily.enabled:
                start, end = _span(fd.daily_from, fd.last_day, tz)
                at = plan.daily.at
                specs.append(("daily", {"type": "cron", "hour": str(at.hour), "minute": str(at.minute),
                                        "second": str(at.second), "start": start, "end": end}, scope))
            h = plan.hourly
            if h.enabled and target.watch:
                start, end = _span(fd.first_day, fd.last_day, tz)
                hours = f"{h.from_hour}-{h.to_hour}/{h.every_hours}"
                text = f"每{h.every_hours}小时 {h.from_hour:02d}-{h.to_hour:02d}"
                specs.append(("hourly", {"type": "cron", "hour": hours, "minute": str(h.minute), "second": "0",
                                         "start": start, "end": end, "hour_text": text}, tuple(target.watch)))
            jobs += [PlannedJob(f"{c.campaign}:{f.id}:{kind}:{target.site}", c.campaign, str(loaded.path), f.id,
                                f.name, kind, target.site, target.base_url, urls, c.timezone, spec,
                                terms if kind != "hourly" else ())
                     for kind, spec, urls in specs]
    return jobs


def plan_all(campaigns: list[LoadedCampaign]) -> list[PlannedJob]:
    return [j for c in campaigns for j in plan_jobs(c)]
