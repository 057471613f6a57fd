"""The dashboard's charts: ``leads.dashboard`` numbers drawn with ``leads.charts``, each linked to its search."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from leads.charts.bars import BarRow, BarSeries, Column, bar_chart, column_chart
from leads.dashboard import Dashboard
from leads.web.render import query_string

STACKED = 5  # categories stacked by name; the rest as 其他
OTHER = "其他类别"
WIDE = 1200  # charts across the page (narrow ones are 600 wide)


def _search(**params: Any) -> str:
    return "/search?" + query_string(params)


def _leads(**params: Any) -> str:
    return "/leads?" + query_string(params)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes}分{s:02d}秒" if minutes else f"{s}秒"


def dashboard_charts(d: Dashboard) -> SimpleNamespace:
    named = d.categories[:STACKED]
    series = [BarSeries(c) for c in named] + ([BarSeries(OTHER)] if len(d.categories) > STACKED else [])
    columns = []
    for p in d.sweeps:
        values = [float(p.by_category.get(c, 0)) for c in named]
        if len(series) > len(named):
            values.append(float(sum(v for c, v in p.by_category.items() if c not in named)))
        columns.append(Column(p.day, values, _search(sweep=p.sweep.sweep_id), f"{p.sweep.sweep_id}", p.festival))
    sweeps = column_chart(columns, series, title="各类别问题数（按扫描批次）", chart_id="svg-sweeps", width=WIDE,
                          height=300)
    sweep_leads = column_chart(
        [Column(p.day, [float(p.leads)], _leads(sweep=p.sweep.sweep_id), p.sweep.sweep_id, p.festival)
         for p in d.sweeps], [BarSeries("线索")], title="线索数（按扫描批次）", height=220, chart_id="svg-sweep-leads",
        width=WIDE)
    comparisons = []
    for i, c in enumerate(d.comparisons):
        rows = [BarRow(cat, [float(b), float(n)], hrefs=[
            _search(category=cat, **{"from": c.before[0], "to": c.before[1]}),
            _search(category=cat, **{"from": c.during[0], "to": c.during[1]})])
            for cat, (b, n) in c.by_category.items()]
        comparisons.append(bar_chart(rows, [BarSeries("节前", "#8aa6c8"), BarSeries("节日期间", "#c0392b")],
                                     title=f"{c.festival.name} 节前与节日期间对比", chart_id=f"svg-compare-{i + 1}",
                                     width=WIDE, label_width=260))
    one = [BarSeries("线索")]
    main = bar_chart([BarRow(k, [float(v)], _leads(main=k)) for k, v in d.leads_by_main.items()], one,
                     title="线索（按主要违法类别）", chart_id="svg-main")
    site = bar_chart([BarRow(k, [float(v)], _leads(site=k)) for k, v in d.leads_by_site.items()], one,
                     title="线索（按平台）", chart_id="svg-site")
    region = bar_chart([BarRow(k, [float(v)], _leads(region=k)) for k, v in d.leads_by_region.items()], one,
                       title="线索（按地区）", chart_id="svg-region")
    operators = bar_chart(
        [BarRow(lead.operator or lead.shop_name or lead.lead_id, [float(n)], "/leads/" + lead.lead_id)
         for lead, n in d.top_operators], [BarSeries("问题")], title="问题最多的经营者", chart_id="svg-operators")
    health = bar_chart([BarRow(p.day, [float(p.pages), float(p.failures)], _search(sweep=p.sweep.sweep_id))
                        for p in d.sweeps], [BarSeries("页面", "#27864a"), BarSeries("失败", "#c0392b")],
                       title="扫描运行情况（页面与失败）", chart_id="svg-health", width=WIDE,
                       label_width=200)
    return SimpleNamespace(sweeps=sweeps, sweep_leads=sweep_leads, comparisons=comparisons, main=main, site=site,
                           region=region, operators=operators, health=health)
