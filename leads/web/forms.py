"""Query-string forms of the console: parsed leniently (bad values are reported, never crash a page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from leads.dates import parse_day
from leads.search import build_query
from pipelines.store.base import SearchQuery

PER_PAGE = 20
_MULTI = ("category", "severity", "site", "status")
_SINGLE = ("q", "sweep", "shop", "from", "to", "price_min", "price_max")


@dataclass
class SearchForm:
    """The search filters as typed; ``params`` round-trips them into links (facets, pages, exports)."""

    q: str = ""
    category: list[str] = field(default_factory=list)
    severity: list[str] = field(default_factory=list)
    site: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    sweep: str = ""
    shop: str = ""
    date_from: str = ""
    date_to: str = ""
    price_min: float | None = None
    price_max: float | None = None
    page: int = 1
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, qp: QueryParams) -> SearchForm:
        form = cls(q=qp.get("q", "")[:500])
        for name in _MULTI:
            setattr(form, name, [v[:200] for v in qp.getlist(name) if v][:20])
        form.sweep, form.shop = qp.get("sweep", "")[:200], qp.get("shop", "")[:200]
        for attr, key, label in (("date_from", "from", "开始日期"), ("date_to", "to", "结束日期")):
            value = qp.get(key, "").strip()
            try:
                parse_day(value)
                setattr(form, attr, value)
            except ValueError:
                form.errors.append(f"{label}格式应为 YYYY-MM-DD，已忽略")
        for attr, label in (("price_min", "最低价"), ("price_max", "最高价")):
            value = qp.get(attr, "").strip()
            if value:
                try:
                    setattr(form, attr, float(value))
                except ValueError:
                    form.errors.append(f"{label}不是数字，已忽略")
        try:
            form.page = max(1, min(int(qp.get("page", "1")), 100000))
        except ValueError:
            form.page = 1
        return form

    @property
    def params(self) -> dict[str, Any]:
        """The filters as query parameters (without the page)."""
        return {"q": self.q, "category": self.category, "severity": self.severity, "site": self.site,
                "status": self.status, "sweep": self.sweep, "shop": self.shop, "from": self.date_from,
                "to": self.date_to, "price_min": self.price_min, "price_max": self.price_max}

    def query(self, *, per_page: int = PER_PAGE) -> SearchQuery:
        try:
            return build_query(self.q, category=self.category, severity=self.severity, site=self.site,
                               status=self.status, sweep=self.sweep, shop=self.shop, date_from=self.date_from,
                               date_to=self.date_to, price_min=self.price_min, price_max=self.price_max,
                               page=self.page, per_page=per_page)
        except ValueError as exc:  # e.g. the end before the start
            self.errors.append(str(exc))
            self.date_from = self.date_to = ""
            return self.query(per_page=per_page)


def pages(total: int, page: int, per_page: int = PER_PAGE, around: int = 3) -> list[int | None]:
    """Page numbers to show: first, last, and ``around`` either side of ``page``; None marks a gap."""
    last = max(1, -(-total // per_page))
    shown = sorted({1, last, *range(max(1, page - around), min(last, page + around) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out
