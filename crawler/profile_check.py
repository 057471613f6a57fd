"""``netsword profile check SITE URL``: fetch one page the way a sweep would, show what each selector gets.

For writing and repairing profiles: the page goes through the same spider code (page type,
``render: browser`` and its steps, robots.txt, retries), but nothing is stored.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import scrapy
from scrapy.http import HtmlResponse, Response
from twisted.python.failure import Failure

from crawler.fillrate import filled, required_fields
from crawler.profiles import FieldSpec, Profile
from crawler.spiders.listing import ListingSpider, extract_field, extract_fields, select_links
from crawler.waitfor import describe_failure
from netsword.config import ROOT


@dataclass
class SelectorResult:
    name: str  # field name, or "follow" / "pagination"
    selector: str
    matches: int  # elements (or values) the selector found
    value: str  # the field value as the item gets it; links: the first few, one a line


@dataclass
class FindingRow:
    """A finding the page would raise (the sweep's rule packs, run as the pipeline runs them)."""

    rule_id: str
    title: str
    category: str
    severity: str
    basis: str  # the legal basis
    field: str
    snippet: str


@dataclass
class CheckResult:
    url: str
    page_type: str = ""
    render: str = ""
    item: str = ""
    status: int = 0
    final_url: str = ""
    fields: list[SelectorResult] = field(default_factory=list)
    links: list[SelectorResult] = field(default_factory=list)
    generic: dict[str, str] = field(default_factory=dict)  # what generic extraction adds (generic: true)
    error: str = ""
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # listing_id/shop_id -> (value, where from)
    subject: str = ""  # `belongs_to` pages: the subject whose record the page fills
    required: list[tuple[str, bool]] = field(default_factory=list)  # required fields (crawler.fillrate), filled?
    findings: list[FindingRow] = field(default_factory=list)
    findings_error: str = ""  # the rule packs could not run
    extracted: Any = None  # the ListingItem / ShopItem / PageItem the sweep would get
    body: bytes = b""  # the page as parsed (rendered, for browser pages): `profile fixture` saves it

    @property
    def ok(self) -> bool:
        return not self.error


def _count(response: Response, selector: str) -> int:
    nodes = response.xpath(selector[6:]) if selector.startswith("xpath:") else response.css(selector)
    return len(nodes)


def _json_of(response: Response, page: Any) -> tuple[Any, list[Any]]:
    """The page's JSON and its records (``json.items``), for ``json:`` fields; (None, []) for HTML pages."""
    if page.json_ is None and page.capture is None and not any(
            (s if isinstance(s, str) else s.sel).startswith("json:") for s in page.fields.values()):
        return None, []
    from crawler.jsonapi import page_data, page_records

    return page_data(response, page), page_records(response, page) if page.json_ and page.json_.items else []


class ProfileCheckSpider(ListingSpider):
    name = "profile-check"

    def __init__(self, url: str = "", result: CheckResult | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_url = url
        self.result = result or CheckResult(url)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        request = self.request_for(self.check_url, dont_filter=True)
        if request is None:
            names = ", ".join(f"{n} ({' | '.join(p.match)})" for n, p in self.profile.pages.items())
            self.result.error = f"no page type of {self.site!r} matches this URL; page types: {names}"
            return
        yield request.replace(callback=self.check, errback=self.check_failed)

    def check(self, response: Response) -> Iterator[Any]:
        r = self.result
        match = self.profile.page_type(response.url)
        if match is None:
            r.error = f"redirected to {response.url}, which no page type matches"
            return
        name, page = match
        r.page_type, r.render, r.item = name, page.render, page.item
        r.status, r.final_url = response.status, response.url
        data, recs = _json_of(response, page)
        for fname, spec in page.fields.items():
            sel = spec if isinstance(spec, str) else spec.sel
            if sel.startswith("json:"):  # the page's JSON, or its first record (crawler.jsonapi)
                value = extract_field(response, spec, recs[0] if recs else data)
                count = len(recs) if recs else int(bool(value))
            else:
                value, count = extract_field(response, spec), _count(response, sel)
            shown = f"{value}  (re: {spec.re})" if isinstance(spec, FieldSpec) and spec.re else value
            r.fields.append(SelectorResult(fname, sel, count, shown))
        if page.generic:
            selected = {f.name: f.value for f in r.fields}
            r.generic = {k: v for k, v in extract_fields(response, page).items()
                         if isinstance(v, str) and v and not selected.get(k)}
        if page.type == "auto":  # what the page was taken for, and the fields read from its markup
            from crawler.autodetect import classify

            found = classify(response.text, response.url) if isinstance(response, HtmlResponse) else None
            r.body = response.body
            if found is not None and found.kind != "page":
                r.item = found.kind
                r.generic = {"识别依据 / taken for": f"{found.kind}: {found.why}",
                             **{k: v for k, v in found.fields.items() if isinstance(v, str) and v}}
                r.extracted = self.extract(response, name, page)
                r.ids = item_ids(r.extracted, {})
            r.subject = subject_of(response, page)
            return
        values = extract_fields(response, page)
        r.required = [(req, filled(values, req)) for req in required_fields(page)]
        r.body = response.body
        if page.item != "none":
            r.extracted = self.extract(response, name, page)
            r.ids = item_ids(r.extracted, values)
        r.subject = subject_of(response, page)
        for sel in page.follow:
            hrefs = select_links(response, sel)
            r.links.append(SelectorResult("follow", sel, len(hrefs), "\n".join(hrefs[:3])))
        if page.json_ is not None and page.json_.follow:
            from crawler.jsonapi import record_links

            hrefs = list(record_links(page.json_.follow, recs or [data], self.base_url or self.profile.base_url))
            r.links.append(SelectorResult("json.follow", page.json_.follow, len(hrefs), "\n".join(hrefs[:3])))
        nxt = page.next_page
        if nxt is not None:
            hrefs = select_links(response, nxt.next)
            r.links.append(SelectorResult("pagination", nxt.next, len(hrefs), "\n".join(hrefs[:1])))
        return
        yield  # a generator, as Scrapy callbacks are

    def check_failed(self, failure: Failure) -> None:
        response = getattr(failure.value, "response", None)
        self.result.status = response.status if response is not None else 0
        self.result.error = (f"HTTP {response.status}" if response is not None
                             else describe_failure(failure, failure.request)  # type: ignore[attr-defined]
                             or failure.getErrorMessage() or failure.type.__name__)


def item_ids(item: Any, values: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The ids the page's item gets, each with where it came from (the profile's selector or the URL)."""
    out: dict[str, tuple[str, str]] = {}
    for name in ("listing_id", "shop_id"):
        value = getattr(item, name, None)
        if value is None:
            continue
        own = f"{getattr(item, 'kind', '')}_id" == name
        if values.get(name):
            out[name] = (str(value), "站点配置的选择器 / the profile's selector")
        elif own and value:
            out[name] = (str(value), "由网址生成 / from the URL (no selector in the profile)")
        else:
            out[name] = (str(value), "无 / none")
    return out


def subject_of(response: Response, page: Any) -> str:
    """For a page type with ``belongs_to`` (sub-pages, issue 16 item 1): the subject it belongs to."""
    spec = getattr(page, "belongs_to", None)
    if not spec:
        return ""
    kind = getattr(spec, "kind", "") or (spec.get("kind", "") if isinstance(spec, dict) else "")
    id_spec = getattr(spec, "id", None) if not isinstance(spec, dict) else spec.get("id")
    via = getattr(spec, "via", None) if not isinstance(spec, dict) else spec.get("via")
    if id_spec is not None:
        sel = id_spec if isinstance(id_spec, str) else getattr(id_spec, "sel", None)
        if sel:
            regex = getattr(id_spec, "re", None)
            value = extract_field(response, FieldSpec(sel=sel, re=regex) if regex else sel)
            return f"{kind} {value or '（选择器没有取到 id / the id selector matched nothing）'}"
    if via:
        return f"{kind}（由来源链接决定 / from the link followed: via {via}）"
    return f"{kind} {spec}"


def page_findings(item: Any, ruleset: Any) -> list[FindingRow]:
    """The findings the rule packs raise on ``item``, as the pipeline finds them (normalize, then match)."""
    from pipelines.normalize import NormalizePipeline

    if getattr(item, "kind", None) not in ("listing", "shop"):
        return []
    NormalizePipeline().process_item(item)
    return [FindingRow(f.rule_id, f.title, f.category, f.severity, f.basis, f.field, f.snippet)
            for f in ruleset.match(item)]


def check_page(site: str, url: str, *, profile: Profile | None = None, findings: bool = True) -> CheckResult:
    """Fetch ``url`` with ``site``'s profile; returns what each selector extracts, the ids, and the findings
    the page would raise (blocks)."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.profiles import find_profile

    profile = profile or find_profile(site)
    settings = get_project_settings()
    for key, value in {"ITEM_PIPELINES": {}, "SPIDER_MIDDLEWARES": {}, "LOG_LEVEL": "ERROR",
                       "EVIDENCE_SCREENSHOTS": False, "NETSWORD_INCREMENTAL": False,
                       "RETRY_TIMES": 1, "LOG_INSTALL_ROOT_HANDLER": False}.items():
        settings.set(key, value, priority="cmdline")
    settings.set("DOWNLOADER_MIDDLEWARES", {**settings.getdict("DOWNLOADER_MIDDLEWARES"),
                                            "crawler.incremental.IncrementalMiddleware": None}, priority="cmdline")
    result = CheckResult(url)
    settings.set("EXTENSIONS", {**settings.getdict("EXTENSIONS"), "crawler.progress.ProgressLog": None,
                                "crawler.walls.WallAlert": None,  # a check meeting a login wall alerts no one
                                # one page checked is no sweep: its fill rates say nothing of the profile
                                "crawler.fillrate.FillRateCheck": None, "crawler.warmup.Warmup": None},
                 priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(ProfileCheckSpider)
    process.crawl(crawler, site=site, profile=profile, url=url, result=result)
    process.start()
    if not result.error and not result.page_type:
        stats = crawler.stats.get_stats()
        result.error = "not fetched" + (" (robots.txt forbids it)" if stats.get("robotstxt/forbidden") else "")
    if findings and result.extracted is not None:
        try:
            from pipelines.match import RuleError, RuleSet

            result.findings = page_findings(result.extracted, RuleSet.load(settings.get("MATCH_RULES_DIR") or None))
        except RuleError as exc:
            result.findings_error = str(exc)
    return result
