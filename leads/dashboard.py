"""The campaign at a glance (the console's home page): what the charts count, each with the search it summarises.

Every number here is computed with the same filters as the search or lead list it links to
(``SearchQuery`` from :func:`leads.search.build_query`), so a chart never says something its link
does not show:

* findings per category and leads per sweep (a finding counts in every sweep that saw it, as
  ``Store.counts(sweep_id)`` and the search's 巡查批次 filter do), sweeps inside a festival marked;
* before / during each recent festival: findings seen in the festival's days and in as many days
  just before (the search's date filter: seen in the period);
* leads by platform, by region (the province of the shop's address) and by main category; the
  operators with most findings; the largest operator groups;
* sweep health: pages, failures and duration per sweep.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from leads.categories import main_category
from leads.leads import Lead, build_leads
from leads.search import build_query
from leads.windows import Window, festival_windows
from netsword.clock import BEIJING, parse_utc
from pipelines.store.base import Store, Sweep

MAX_SWEEPS = 24
TOP = 10
#: province-level divisions, as written at the start of an address (short form -> the forms it is written in)
PROVINCES: tuple[str, ...] = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西",
    "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古",
    "广西", "西藏", "宁夏", "新疆", "香港", "澳门")
UNKNOWN_REGION = "未知地区"
_SPACE = re.compile(r"\s+")


def region_of(address: str | None) -> str:
    """The province (short form, e.g. 广东) an address starts with; 未知地区 when it names none."""
    text = _SPACE.sub("", address or "").removeprefix("中国").removeprefix("中华人民共和国")
    for p in PROVINCES:
        if text.startswith(p):
            return p
    return UNKNOWN_REGION


@dataclass
class SweepPoint:
    sweep: Sweep
    by_category: dict[str, int]
    leads: int
    festival: str  # the festival the sweep started in, "" if none
    pages: int
    failures: int
    seconds: float | None

    @property
    def day(self) -> str:
        at = parse_utc(self.sweep.started_at)
        return f"{at.astimezone(BEIJING):%m-%d %H:%M}" if at else self.sweep.sweep_id


@dataclass
class Comparison:
    """Findings per category seen in a festival's days and in as many days just before."""

    festival: Window
    before: tuple[str, str]  # Beijing days, both included
    during: tuple[str, str]
    by_category: dict[str, tuple[int, int]]  # category -> (before, during)


@dataclass
class Dashboard:
    sweeps: list[SweepPoint]
    categories: list[str]  # in the order charts stack them
    comparisons: list[Comparison]
    leads_by_site: dict[str, int]
    leads_by_region: dict[str, int]
    leads_by_main: dict[str, int]
    top_operators: list[tuple[Lead, int]]
    top_groups: list[tuple[str, list[str], int]]  # (group id, member lead ids, findings)
    total_leads: int = 0
    total_findings: int = 0
    windows: list[Window] = field(default_factory=list)


def _stat(stats: dict[str, Any], *keys: str) -> int:
    return sum(int(stats.get(k) or 0) for k in keys)


def sweep_health(s: Sweep) -> tuple[int, int, float | None]:
    """(pages fetched, failures, seconds) of a sweep from its Scrapy stats."""
    st = s.stats or {}
    pages = _stat(st, "response_received_count") or _stat(st, "downloader/response_count")
    failures = _stat(st, "downloader/exception_count", "spider_exceptions/count", "retry/max_reached") + sum(
        int(v or 0) for k, v in st.items() if k.startswith("downloader/response_status_count/5"))
    seconds = st.get("elapsed_time_seconds")
    if not isinstance(seconds, int | float):
        a, b = parse_utc(s.started_at), parse_utc(s.finished_at)
        seconds = (b - a).total_seconds() if a and b else None
    return pages, failures, seconds


def day_range(w: Window) -> tuple[str, str]:
    return (f"{w.start.astimezone(BEIJING):%Y-%m-%d}", f"{(w.end - timedelta(seconds=1)).astimezone(BEIJING):%Y-%m-%d}")


def _by_category(store: Store, **filters: Any) -> Counter[str]:
    return Counter(f["category"] for f in store.iter_findings(build_query(**filters)))


def build_dashboard(store: Store, *, site: list[str] | None = None, visible: Any = None) -> Dashboard:
    """The dashboard's numbers (``site``: only these platforms; ``visible``: a predicate on lead ids, for
    accounts that see one region only)."""
    keep = visible or (lambda _lead_id: True)
    sweeps = sorted(store.sweeps(), key=lambda s: s.started_at or "")
    if site:
        sweeps = [s for s in sweeps if s.site in site]
    sweeps = sweeps[-MAX_SWEEPS:]
    points: list[SweepPoint] = []
    windows: list[Window] = []
    times = [t for t in (parse_utc(s.started_at) for s in sweeps) if t is not None]
    if times:
        windows = festival_windows((min(times) - timedelta(days=40)).date(), (max(times) + timedelta(days=1)).date())
    totals: Counter[str] = Counter()
    for s in sweeps:
        per_lead: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for f in store.iter_findings(build_query(sweep=s.sweep_id, site=site)):
            lead_id = f"{f['site']}:{f['shop_id']}"
            if keep(lead_id):
                per_lead[lead_id].append(f)
        cats = Counter(f["category"] for fs in per_lead.values() for f in fs)
        totals.update(cats)
        at = parse_utc(s.started_at)
        fest = next((w.name for w in windows if at is not None and w.contains(at)), "")
        pages, failures, seconds = sweep_health(s)
        points.append(SweepPoint(s, dict(cats), sum(1 for fs in per_lead.values() if main_category(fs)), fest,
                                 pages, failures, seconds))
    categories = [c for c, _ in totals.most_common()]
    comparisons = []
    for w in reversed(windows):
        if len(comparisons) == 2:
            break
        during = day_range(w)
        length = (w.end - w.start)
        before = day_range(Window(w.name, w.start - length, w.start))
        b = _by_category(store, date_from=before[0], date_to=before[1], site=site)
        d = _by_category(store, date_from=during[0], date_to=during[1], site=site)
        if not b and not d:
            continue
        cats = [c for c, _ in (b + d).most_common()]
        comparisons.append(Comparison(w, before, during, {c: (b[c], d[c]) for c in cats}))
    leads = [lead for lead in build_leads(store, build_query(site=site)) if keep(lead.lead_id)]
    counted = [lead for lead in leads if lead.main_category]
    by_site = Counter(lead.site for lead in leads)  # every lead, as the lead list filtered by platform shows
    by_region = Counter(region_of(lead.address) for lead in leads)
    by_main = Counter(lead.main_category for lead in counted)
    operators = sorted(counted, key=lambda lead: (-len(lead.counted), lead.lead_id))[:TOP]
    groups: dict[str, tuple[list[str], int]] = {}
    for lead in counted:
        if lead.group is not None:
            ids, n = groups.get(lead.group.group_id, ([], 0))
            groups[lead.group.group_id] = ([*ids, lead.lead_id], n + len(lead.counted))
    top_groups = sorted(((g, ids, n) for g, (ids, n) in groups.items()), key=lambda x: (-len(x[1]), -x[2], x[0]))
    return Dashboard(points, categories, comparisons, dict(by_site.most_common()), dict(by_region.most_common()),
                     dict(by_main.most_common()), [(lead, len(lead.counted)) for lead in operators], top_groups[:TOP],
                     total_leads=len(leads), total_findings=sum(len(lead.counted) for lead in counted),
                     windows=windows)
