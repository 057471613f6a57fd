"""Counts as bars: ``bar_chart`` (horizontal, one row per group, one bar per series) and ``column_chart``
(vertical stacked columns, one per sweep, columns inside a festival marked). Every row / column links
to the search it counts (``href``), and carries its numbers as ``data-*`` attributes and a <title>."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from leads.charts.scale import Linear
from leads.charts.svg import PALETTE, render_svg

ROW_HEIGHT, LABEL_WIDTH = 22, 170


@dataclass
class BarSeries:
    name: str
    colour: str = ""


@dataclass
class BarRow:
    label: str
    values: list[float]
    href: str = ""
    hrefs: list[str] = field(default_factory=list)  # one per series (else ``href``)


@dataclass
class Column:
    label: str  # under the column (a sweep's day)
    values: list[float]  # one per series, stacked
    href: str = ""
    title: str = ""  # the tooltip (which sweep)
    marked: str = ""  # the festival the column falls in ("" = none)


def _series(series: list[BarSeries]) -> list[BarSeries]:
    return [BarSeries(s.name, s.colour or PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]


def bar_chart(rows: list[BarRow], series: list[BarSeries], *, title: str, width: int = 600,
              label_width: int = LABEL_WIDTH, chart_id: str = "") -> Markup:
    series = _series(series)
    per = max(len(series), 1)
    bar_h = max(8, (ROW_HEIGHT - 4) // per) if per > 1 else 16
    row_h = bar_h * per + 8
    legend = 20 if per > 1 else 0
    height = max(40, len(rows) * row_h + 24 + legend)
    top = max([v for r in rows for v in r.values] + [1])
    x = Linear(0, top, label_width, width - 48)
    drawn = []
    for i, r in enumerate(rows):
        y0 = legend + 8 + i * row_h
        bars = [{"x": label_width, "y": y0 + k * bar_h, "w": max(x(v) - label_width, 0 if v == 0 else 1),
                 "h": bar_h - 2, "value": v, "series": series[k].name, "colour": series[k].colour,
                 "href": (r.hrefs[k] if k < len(r.hrefs) else r.href)} for k, v in enumerate(r.values)]
        drawn.append({"label": r.label, "y": y0, "h": row_h - 8, "bars": bars, "href": r.href})
    return render_svg("bars.svg", rows=drawn, series=series, width=width, height=height, label_width=label_width,
                      title=title, legend=legend, chart_id=chart_id)


def column_chart(columns: list[Column], series: list[BarSeries], *, title: str, width: int = 720,
                 height: int = 240, chart_id: str = "") -> Markup:
    series = _series(series)
    left, right, top_px, bottom = 44, width - 8, 28, height - 44
    top = max([sum(c.values) for c in columns] + [1])
    y = Linear.zero_based(top, bottom, top_px)
    n = max(len(columns), 1)
    slot = (right - left) / n
    col_w = max(4.0, min(36.0, slot * 0.7))
    drawn = []
    for i, c in enumerate(columns):
        cx = left + slot * i + (slot - col_w) / 2
        acc, segs = 0.0, []
        for k, v in enumerate(c.values):
            if v:
                segs.append({"y": y(acc + v), "h": round(y(acc) - y(acc + v), 1), "value": v,
                             "series": series[k].name, "colour": series[k].colour})
            acc += v
        drawn.append({"x": round(cx, 1), "w": round(col_w, 1), "slot_x": round(left + slot * i, 1),
                      "slot_w": round(slot, 1), "segs": segs, "total": acc, "label": c.label, "href": c.href,
                      "title": c.title, "marked": c.marked, "label_every": max(1, round(n / 10))})
    yticks = [{"y": y(v), "label": f"{v:g}"} for v in y.ticks()]
    return render_svg("columns.svg", columns=drawn, series=series, width=width, height=height, left=left,
                      right=right, top=top_px, bottom=bottom, yticks=yticks, title=title, chart_id=chart_id)
