"""A listing's price history as an exhibit: price and struck-through price over time, each fetch a point,
the baseline sweep and the festival windows marked (``price_timeline`` -> ``timeline_svg``).

Each stored page version (``Store.listing_history``) showed its prices from its first fetch until the
next version appeared (its last sighting, for the latest one), so the lines are steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from markupsafe import Markup

from leads.charts.scale import Linear, TimeScale
from leads.charts.svg import render_svg
from leads.readable import money
from leads.windows import Window, baseline_windows, festival_windows
from netsword.clock import BEIJING, parse_utc
from pipelines.store.base import Store

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40


@dataclass
class PricePoint:
    start: datetime
    end: datetime  # until the next version (or the last sighting)
    price: float | None
    original_price: float | None
    sweep_id: str


@dataclass
class Timeline:
    subject_id: str
    title: str
    points: list[PricePoint]
    windows: list[Window] = field(default_factory=list)


def price_timeline(store: Store, subject_id: str, *, title: str = "") -> Timeline | None:
    """The listing's versions with prices, and the baseline and festival windows around them; None when the
    listing has no priced version."""
    versions = store.listing_history(subject_id)
    points: list[PricePoint] = []
    for v in versions:
        start, seen = parse_utc(v.fetched_at), parse_utc(v.last_seen_at) or parse_utc(v.fetched_at)
        if start is None or seen is None or (v.price is None and v.original_price is None):
            continue
        points.append(PricePoint(start, max(seen, start), v.price, v.original_price, v.sweep_id))
    if not points:
        return None
    points.sort(key=lambda p: p.start)
    for a, b in pairwise(points):
        a.end = max(a.end, b.start)
    site = subject_id.partition(":")[0]
    lo, hi = points[0].start, points[-1].end
    wins = [w for w in baseline_windows(store, site) if w.end > lo - timedelta(days=60) and w.start <= hi]
    wins += festival_windows((lo - timedelta(days=7)).date(), (hi + timedelta(days=7)).date(), site)
    return Timeline(subject_id, title or (versions[-1].title if versions else ""), points, wins)


def timeline_svg(t: Timeline, *, width: int = WIDTH, height: int = HEIGHT) -> Markup:
    """The exhibit as standalone SVG (also inline in a page)."""
    lo = min([t.points[0].start] + [w.start for w in t.windows if w.kind == "baseline"])
    hi = max(t.points[-1].end, t.points[-1].start + timedelta(hours=12))
    pad = max((hi - lo) * 0.04, timedelta(hours=6))
    lo, hi = lo - pad, hi + pad
    x = TimeScale(lo, hi, LEFT, width - RIGHT)
    top = max([p.price or 0 for p in t.points] + [p.original_price or 0 for p in t.points])
    y = Linear.zero_based(top, height - BOTTOM, TOP)
    bands = []
    for w in t.windows:
        if w.end <= lo or w.start >= hi:
            continue
        x1, x2 = x(max(w.start, lo)), x(min(w.end, hi))
        last = (w.end - timedelta(seconds=1)).astimezone(BEIJING)
        bands.append({"x": x1, "w": max(x2 - x1, 2), "kind": w.kind, "label": w.name,
                      "when": f"{w.start.astimezone(BEIJING):%m-%d}–{last:%m-%d}"})
    lines = {}
    last = t.points[-1]
    shown_until = max(last.end, hi - pad / 2)  # the latest price is still shown: draw it to the chart's edge
    for key in ("price", "original_price"):
        steps = [(x(p.start), x(shown_until if p is last else p.end), y(getattr(p, key)))
                 for p in t.points if getattr(p, key) is not None]
        path = " ".join(f"M{a},{v} H{b}" if i == 0 or steps[i - 1][1] != a else f"V{v} H{b}"
                        for i, (a, b, v) in enumerate(steps))
        lines[key] = path
    dots = [{"x": x(p.start), "y": y(p.price), "label": f"{p.start.astimezone(BEIJING):%Y-%m-%d %H:%M} 售价 "
             f"{money(p.price)}" + (f"，划线价 {money(p.original_price)}" if p.original_price else "")}
            for p in t.points if p.price is not None]
    yticks = [{"y": y(v), "label": money(v)} for v in y.ticks()]
    xticks = [{"x": x(d), "label": f"{d:%m-%d}"} for d in x.day_ticks(BEIJING)]
    return render_svg("timeline.svg", t=t, width=width, height=height, left=LEFT, right=width - RIGHT,
                      top=TOP, bottom=height - BOTTOM, bands=bands, lines=lines, dots=dots, yticks=yticks,
                      xticks=xticks, has_original=any(p.original_price for p in t.points))
