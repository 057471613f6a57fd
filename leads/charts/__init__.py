"""Charts as SVG, drawn on the server: no JavaScript, readable in any browser, printable, and inline in the
console's pages under its Content-Security-Policy (presentation attributes only, no <style>, no scripts).

:mod:`.svg` (the template environment), :mod:`.scale` (axes), :mod:`.timeline` (a listing's price
history with the baseline and the festivals marked), :mod:`.bars` (counts per group and per sweep).
"""

from __future__ import annotations

from leads.charts.bars import BarSeries, bar_chart, column_chart
from leads.charts.timeline import price_timeline, timeline_svg

__all__ = ["BarSeries", "bar_chart", "column_chart", "price_timeline", "timeline_svg"]
