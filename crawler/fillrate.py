"""Profiles that say when they break: fill rates of required fields per page type, and the alarm.

A site changes its layout and a selector matches nothing: the sweep still fetches every page, but
its listings come out with an empty title (dropped as unparseable), an empty price or no shop. This
module counts, per page type, the pages parsed and how many filled each *required* field
(``pages.<type>.required`` in the profile; default: ``title``, ``price_text``, ``shop_id|shop_name`` for
listings and ``name|shop_id`` for shops, of those the page type has selectors for; an entry ``a|b`` is
filled when either is). Ids count only when a selector gave them (not the URL fallback).

A sweep is **broken** (:func:`assess`) when

* no page at all was parsed (the start pages failed: a dead site, a ``wait_for`` that never appears), or
  pages were but not one listing or shop (a ``follow`` selector that matches nothing);
* a page type with at least ``NETSWORD_FILL_MIN_PAGES`` parsed pages filled a required field on fewer
  than ``NETSWORD_FILL_MIN_RATE`` of them;
* compared with the site's last sweep of the whole site that ran to its end (issue 17: "the site changed
  its layout"; searches are not compared), a page type's pages (parsed + unchanged) fell below
  ``NETSWORD_FILL_DROP_RATIO`` of that sweep's (when it had at least ``NETSWORD_FILL_MIN_PAGES``), or a
  required field's fill rate fell by more than that ratio.

:class:`FillRateCheck` (a Scrapy extension) then ends the crawl with finish reason ``profile_broken``
(``scrapy crawl`` too), logs the table and sends one alert through the alert channels
(``NETSWORD_ALERT_URLS``, :mod:`scheduling.alerts`); ``netsword crawl`` prints the table and exits
``EXIT_BROKEN``. Distributed sweeps sum the counters of their workers' heartbeats and raise the same
alarm once through :mod:`scheduling.health`.

Stats (ints, kept with the sweep in the store): ``netsword/fill/<type>/pages``,
``netsword/fill/<type>/unchanged``, ``netsword/fill/<type>/filled/<requirement>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.cells import cell_len
from scrapy import signals
from scrapy.exceptions import CloseSpider

from crawler.profiles import PageType, Profile

logger = logging.getLogger(__name__)

#: The finish reason of a crawl whose profile broke (``scrapy crawl`` shows it; ``netsword crawl`` exits non-zero).
FINISH_BROKEN = "profile_broken"
#: The stat holding the sweep's :class:`FillReport` as JSON (kept with the sweep in the store).
REPORT_STAT = "netsword/fill_report"
#: ``netsword crawl``'s exit status for a broken profile (1: stopped early / site down, 2: a bad file, 3: store).
EXIT_BROKEN = 4
PREFIX = "netsword/fill/"
DEFAULT_REQUIRED = {"listing": ("title", "price_text", "shop_id|shop_name"), "shop": ("name|shop_id",)}


def required_fields(page: PageType) -> list[str]:
    """The requirements of a page type: its ``required:`` list, else the defaults it has selectors for."""
    if page.required is not None:
        return [_canon(r) for r in page.required]
    if page.item == "none" or getattr(page, "belongs_to", None):  # a sub-page fills another subject's record
        return []
    return [req for req in DEFAULT_REQUIRED[page.item]
            if page.generic or any(name in page.fields for name in req.split("|"))]


def _canon(requirement: str) -> str:
    return "|".join(n.strip() for n in requirement.split("|") if n.strip())


def filled(values: Mapping[str, Any], requirement: str) -> bool:
    """Whether ``values`` (a page's extracted fields) fill ``requirement`` (``a`` or ``a|b``)."""
    for name in requirement.split("|"):
        value = values.get(name)
        if (isinstance(value, str) and value.strip()) or (value and not isinstance(value, str)):
            return True
    return False


def count_page(stats: Any, page_name: str, page: PageType, values: Mapping[str, Any]) -> None:
    """Count one parsed page of an item page type and the required fields it filled (the spider calls it)."""
    if page.item == "none":
        return
    stats.inc_value(f"{PREFIX}{page_name}/pages")
    for req in required_fields(page):
        stats.inc_value(f"{PREFIX}{page_name}/filled/{req}", 0)  # present, also at 0
        if filled(values, req):
            stats.inc_value(f"{PREFIX}{page_name}/filled/{req}")


def count_unchanged(stats: Any, page_name: str, page: PageType) -> None:
    """An unchanged page (incremental sweep): it counts in the page type's items, not in its fill rates."""
    if page.item != "none":
        stats.inc_value(f"{PREFIX}{page_name}/unchanged")


def fill_stats(stats: Mapping[str, Any]) -> dict[str, int]:
    """The fill counters of a stats mapping (for heartbeats and sums)."""
    return {k: int(v) for k, v in stats.items() if k.startswith(PREFIX) and isinstance(v, int | float)}


def sum_fill(many: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Fill counters summed over several workers' stats."""
    out: dict[str, int] = {}
    for stats in many:
        for k, v in fill_stats(stats).items():
            out[k] = out.get(k, 0) + v
    return out


# --------------------------------------------------------------------------- assessment


@dataclass
class FieldRate:
    requirement: str
    filled: int
    pages: int
    previous: float | None = None  # the last sweep's rate, when it had enough pages

    @property
    def rate(self) -> float:
        return self.filled / self.pages if self.pages else 0.0


@dataclass
class PageTypeFill:
    page_type: str
    pages: int  # parsed
    unchanged: int
    fields: list[FieldRate] = field(default_factory=list)
    previous_items: int | None = None  # pages + unchanged in the last sweep
    problems: list[str] = field(default_factory=list)

    @property
    def items(self) -> int:
        return self.pages + self.unchanged


@dataclass
class Limits:
    min_rate: float = 0.5
    min_pages: int = 5
    drop_ratio: float = 0.5

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(settings.getfloat("NETSWORD_FILL_MIN_RATE", 0.5), settings.getint("NETSWORD_FILL_MIN_PAGES", 5),
                   settings.getfloat("NETSWORD_FILL_DROP_RATIO", 0.5))


@dataclass
class FillReport:
    site: str
    sweep_id: str
    rows: list[PageTypeFill] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the whole sweep's (no page at all ...)
    previous_sweep: str = ""

    @property
    def broken(self) -> bool:
        return bool(self.problems or any(r.problems for r in self.rows))

    def all_problems(self) -> list[str]:
        return self.problems + [p for r in self.rows for p in r.problems]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> FillReport:
        data = json.loads(text)
        rows = [PageTypeFill(**{**r, "fields": [FieldRate(**f) for f in r["fields"]]}) for r in data.pop("rows")]
        return cls(**data, rows=rows)

    def table_lines(self) -> list[str]:
        """The table as plain text lines (logs, alerts): one line per page type and required field, with the
        last sweep's fill rate and pages."""
        rows = [("页面类型", "页面数", "必填字段", "填充率", "上次")]
        for r in self.rows:
            items = f"{r.pages}" + (f"+{r.unchanged}未变" if r.unchanged else "")
            prev_items = f"（上次 {r.previous_items} 页）" if r.previous_items is not None else ""
            if not r.fields:
                rows.append((r.page_type, items, "—", "", prev_items.strip("（）")))
            for i, f in enumerate(r.fields):
                prev = f"{f.previous:.0%}" if f.previous is not None else "—"
                rows.append((r.page_type if i == 0 else "", items if i == 0 else "", f.requirement, f"{f.rate:.0%}",
                             prev + (prev_items if i == 0 else "")))
        widths = [max(cell_len(row[c]) for row in rows) for c in range(5)]
        right = (False, True, False, True, False)
        return ["  ".join(_pad(cell, widths[c], right[c]) for c, cell in enumerate(row)).rstrip() for row in rows]

    def message(self) -> str:
        """The alert's body: what broke, the table, what to do."""
        lines = [f"站点 {self.site} 扫描 {self.sweep_id}：站点配置可能已失效（站点改版？）", ""]
        lines += [f"- {p}" for p in self.all_problems()]
        lines += ["", *self.table_lines(), "",
                  f"请用 netsword profile check {self.site} URL 检查选择器，修好后用 netsword profile test "
                  f"{self.site} 验证。"]
        return "\n".join(lines)


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * (width - cell_len(text))  # CJK characters take two columns
    return space + text if right else text + space


def assess(profile: Profile, stats: Mapping[str, Any], *, sweep_id: str = "", previous: Mapping[str, Any] | None = None,
           previous_sweep: str = "", limits: Limits | None = None, expect_items: bool = True,
           partial: bool = False) -> FillReport:
    """Whether the sweep whose ``stats`` these are broke its profile (see the module's docstring).

    ``previous``: the stats of the site's last finished sweep (or None); ``expect_items``: a sweep of the
    whole site (not a search for terms) must give some listing or shop; ``partial``: the stats are of a
    part of the sweep (a resumed run): only the fill rates of the pages it parsed are judged."""
    limits = limits or Limits()
    if partial:
        previous, expect_items = None, False
    report = FillReport(profile.site, sweep_id, previous_sweep=previous_sweep if previous else "")
    get = stats.get
    parsed = int(get("netsword/pages/ok", 0) or 0) + int(get("netsword/pages/unparseable", 0) or 0)
    if not parsed and not get("netsword/pages/unchanged") and not partial:
        failed = int(get("netsword/pages/failed", 0) or 0)
        first = get("netsword/pages/first_failed", "")
        report.problems.append("没有得到任何页面（起始页面全部失败或被跳过）" + (f"；失败 {failed} 页，第一个：{first}"
                                                                                if failed else ""))
    for name, page in profile.pages.items():
        if page.item == "none":
            continue
        row = PageTypeFill(name, int(get(f"{PREFIX}{name}/pages", 0) or 0),
                           int(get(f"{PREFIX}{name}/unchanged", 0) or 0))
        prev_pages = int((previous or {}).get(f"{PREFIX}{name}/pages", 0) or 0)
        if previous is not None and f"{PREFIX}{name}/pages" in previous:
            row.previous_items = prev_pages + int(previous.get(f"{PREFIX}{name}/unchanged", 0) or 0)
        for req in required_fields(page):
            rate = FieldRate(req, int(get(f"{PREFIX}{name}/filled/{req}", 0) or 0), row.pages)
            key = f"{PREFIX}{name}/filled/{req}"
            if previous is not None and key in previous and prev_pages >= limits.min_pages:
                rate.previous = int(previous[key]) / prev_pages
            row.fields.append(rate)
            if row.pages >= limits.min_pages and rate.rate < limits.min_rate:
                row.problems.append(f"页面类型 {name}：必填字段 {req} 只在 {rate.filled}/{row.pages} 页有值"
                                    f"（{rate.rate:.0%}，低于 {limits.min_rate:.0%}）")
            elif (row.pages >= limits.min_pages and rate.previous is not None and rate.previous > 0
                  and rate.rate < rate.previous * limits.drop_ratio):
                row.problems.append(f"页面类型 {name}：必填字段 {req} 的填充率 {rate.rate:.0%}，上次扫描 "
                                    f"{previous_sweep} 为 {rate.previous:.0%}")
        if (row.previous_items is not None and row.previous_items >= limits.min_pages
                and row.items < row.previous_items * limits.drop_ratio):
            row.problems.append(f"页面类型 {name}：本次 {row.items} 页，上次扫描 {previous_sweep} 有 "
                                f"{row.previous_items} 页（不到 {limits.drop_ratio:.0%}）")
        report.rows.append(row)
    items = sum(r.items for r in report.rows)
    if expect_items and parsed and not items and report.rows:
        report.problems.append(f"得到 {parsed} 个页面，但没有一个商品或店铺页面（检查列表页的 follow 选择器和"
                               "页面类型的 match）")
    return report


def previous_sweep_stats(store: Any, site: str, sweep_id: str, search: bool = False) -> tuple[str, dict[str, Any]]:
    """The id and stats of ``site``'s last finished sweep of the same kind (whole site, or search) before
    ``sweep_id`` that counted fill rates; ("", {}) when none (or the store cannot be read). ``store``: a
    Store, or its URL."""
    try:
        if isinstance(store, str):
            from pipelines.store import open_store

            opened = open_store(store)
            try:
                sweeps = opened.sweeps()
            finally:
                opened.close()
        else:
            sweeps = store.sweeps()
    except Exception as exc:  # the comparison is a bonus; a sweep never fails for it
        logger.info("no comparison with the last sweep of %s: %s", site, exc)
        return "", {}
    mine = next((s for s in sweeps if s.sweep_id == sweep_id), None)
    for s in sweeps:  # newest first
        if mine is not None and s.started_at >= mine.started_at:
            continue
        if (s.site != site or s.sweep_id == sweep_id or not s.finished_at or bool(s.settings.get("search")) != search
                or not fill_stats(s.stats)
                # ran to its end: an embedded sweep assessed itself when idle; a distributed one says "finished"
                or not (s.stats.get(REPORT_STAT) or s.stats.get("finish_reason") in ("finished", FINISH_BROKEN))):
            continue
        return s.sweep_id, dict(s.stats)
    return "", {}


# --------------------------------------------------------------------------- the extension


class FillRateCheck:
    """Ends a crawl whose profile broke with ``profile_broken``, logs the fill rate table, sends one alert.

    Not for re-checks (a few named pages) nor for a distributed sweep's workers (:mod:`scheduling.health`
    raises the alarm of the whole sweep)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.limits = Limits.from_settings(crawler.settings)
        self.previous_id, self.previous = "", {}
        self.report: FillReport | None = None
        self._previous_loaded = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> FillRateCheck:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def _applies(self, spider: Any) -> bool:
        return (getattr(spider, "profile", None) is not None and not getattr(spider, "only_urls", None)
                and not getattr(spider, "distributed", False))

    def spider_opened(self, spider: Any) -> None:
        self._previous_loaded = False

    def _load_previous(self, spider: Any) -> None:
        """The site's last sweep, read once through the store pipeline's own store object (a second store
        object would also try to send an Elasticsearch spool); a sqlite store by its URL without the pipeline."""
        if self._previous_loaded:
            return
        self._previous_loaded = True
        if self.crawler.settings.getbool("NETSWORD_RESUME") or getattr(spider, "search_terms", None):
            return  # a resumed run counts only its own pages (assess(partial=True)); other terms, other counts
        store = next((getattr(p, "store", None) for p in _pipelines(self.crawler) if getattr(p, "store", None)), None)
        url = self.crawler.settings.get("STORE_URL") or ""
        if store is None and url.startswith("sqlite"):
            store = url
        if store is not None:
            self.previous_id, self.previous = previous_sweep_stats(store, spider.site, spider.sweep_id)

    def assess(self, spider: Any) -> FillReport:
        return assess(spider.profile, self.crawler.stats.get_stats(), sweep_id=spider.sweep_id,
                      previous=self.previous or None, previous_sweep=self.previous_id, limits=self.limits,
                      expect_items=not getattr(spider, "search_terms", None),
                      partial=self.crawler.settings.getbool("NETSWORD_RESUME"))

    def spider_idle(self, spider: Any) -> None:
        if not self._applies(spider):
            return
        self._load_previous(spider)
        self.report = self.assess(spider)
        self.crawler.stats.set_value(REPORT_STAT, self.report.to_json())
        if self.report.broken:
            raise CloseSpider(FINISH_BROKEN)

    def spider_closed(self, spider: Any, reason: str = "") -> None:
        if reason != FINISH_BROKEN or self.report is None:
            return
        report = self.report
        logger.error("站点配置失效 / profile broken: %s\n%s", "；".join(report.all_problems()),
                     "\n".join(report.table_lines()))
        self.crawler.stats.set_value("netsword/fill_alert", send_alert(report))


def _pipelines(crawler: Any) -> list[Any]:
    scraper = getattr(getattr(crawler, "engine", None), "scraper", None)
    return list(getattr(getattr(scraper, "itemproc", None), "middlewares", ()) or ())


def send_alert(report: FillReport) -> str:
    """Send the report once through the alert channels; returns a status for the stats and logs."""
    from scheduling.alerts import AlertConfig, Digest, send

    targets = AlertConfig().targets()
    if not targets:
        return "no alert target (NETSWORD_ALERT_URLS)"
    title = f"【网剑行动】站点配置失效：{report.site} 扫描 {report.sweep_id}"
    try:
        ok, status = send(targets, Digest(title, report.message(), 0, 0))
    except Exception as exc:  # an alert that cannot go out is logged, never fatal
        return f"failed: {type(exc).__name__}: {exc}"
    return ("sent: " if ok else "failed: ") + status
