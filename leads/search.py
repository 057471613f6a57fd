"""Search over any Store, and a terminal table of the result.

>>> result = search(store, "高仿", category="网络销售假冒伪劣商品", limit=20)
>>> print(format_table(result))
"""

from __future__ import annotations

import io
import shutil
from datetime import date
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from leads import severity_label
from leads.dates import day_bounds
from netsword.formats import format_price
from pipelines.store.base import FilterValue, Hit, SearchQuery, SearchResult, Store, as_tuple, parse_text

_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def search(store: Store, text: str = "", **filters: Any) -> SearchResult:
    """``store.search`` with keyword filters (see ``SearchQuery`` for their meaning)."""
    return store.search(SearchQuery(text=text, **filters))


def build_query(text: str = "", *, category: FilterValue = None, severity: FilterValue = None,
                site: FilterValue = None, status: FilterValue = None, sweep: str | None = None,
                shop: str | None = None, date_from: str | date | None = None, date_to: str | date | None = None,
                price_min: float | None = None, price_max: float | None = None, include_clean: bool = False,
                include_resolved: bool = False, page: int = 1, per_page: int = 20) -> SearchQuery:
    """A SearchQuery from what an analyst types (CLI options, console form fields).

    Dates are Beijing calendar days, both included; ``page`` starts at 1.
    """
    fields = parse_text(text).fields  # category:… site:… shop:… typed in the text: filters like the options
    if fields.get("category"):
        category = (*as_tuple(category), *fields["category"])
    if fields.get("site"):
        site = (*as_tuple(site), *fields["site"])
    if fields.get("shop") and not shop:
        shop = fields["shop"][0]
    bounds = day_bounds(date_from, date_to)
    per_page = max(1, min(per_page, 500))
    return SearchQuery(text=text.strip(), category=category or None, severity=severity or None, site=site or None,
                       status=status or None, sweep_id=sweep or None, shop_id=shop or None,
                       include_resolved=include_resolved, flagged_only=not include_clean,
                       price_min=price_min, price_max=price_max, **bounds,
                       limit=per_page, offset=(max(page, 1) - 1) * per_page)




def _row(hit: Hit) -> list[Text | str]:
    sev = hit.max_severity or ""
    categories = list(dict.fromkeys(f.category for f in hit.findings))
    rules = list(dict.fromkeys(f.title or f.rule_id for f in hit.findings))
    title = Text(hit.title or hit.subject_id)
    if hit.kind == "listing" and hit.shop_name:
        title.append(f"\n{hit.shop_name}", style="dim")
    elif hit.kind == "shop":
        title.append("\n(店铺)", style="dim")
    evidence = hit.highlight or "\n".join(dict.fromkeys(f.snippet for f in hit.findings if f.snippet))
    return [Text(severity_label(sev), style=_SEVERITY_STYLE.get(sev, "")), "\n".join(categories), title,
            format_price(hit.price), "\n".join(rules), evidence]


def format_table(result: SearchResult, *, width: int | None = None, color: bool = False) -> str:
    """The hits as a table (CJK width-aware), a one-line summary and the facets, as text."""
    width = width or max(100, shutil.get_terminal_size((160, 24)).columns)
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None,
                      highlight=False, emoji=False, soft_wrap=False)
    q = result.query
    if not result.hits:
        console.print(f"共 {result.total} 条结果" + ("" if result.total == 0 else f"（第 {q.offset + 1} 条起无结果）"))
        return buf.getvalue()
    table = Table(box=box.SIMPLE_HEAVY, show_lines=True, expand=True)
    longest_category = max((cell_len(f.category) for h in result.hits for f in h.findings), default=4)
    table.add_column("严重程度", no_wrap=True, min_width=8)
    table.add_column("类别", width=min(longest_category, max(12, width // 5)), overflow="fold")
    table.add_column("标题/店铺", ratio=3, overflow="fold")
    table.add_column("价格", justify="right", no_wrap=True)
    table.add_column("命中规则", ratio=2, min_width=8, overflow="fold")
    table.add_column("证据摘要", ratio=4, overflow="fold")
    for hit in result.hits:
        table.add_row(*_row(hit))
    console.print(table)
    first, last = q.offset + 1, q.offset + len(result.hits)
    console.print(f"共 {result.total} 条结果，显示第 {first}–{last} 条")
    for name, label in (("category", "类别"), ("severity", "严重程度"), ("site", "平台")):
        facet = result.facets.get(name) or {}
        if facet:
            shown = severity_label if name == "severity" else str
            console.print(f"{label}：" + " · ".join(f"{shown(k)} {v}" for k, v in facet.items()))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()).strip("\n") + "\n"
