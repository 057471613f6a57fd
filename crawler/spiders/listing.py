"""The generic, profile-driven spider: ``scrapy crawl listing -a site=demo``.

Everything site-specific lives in the site profile (crawler/sites/<site>.yml): which page
types exist, which links to follow, which fields to extract, which pages need a browser.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy_playwright.page import PageMethod
from twisted.python.failure import Failure

from crawler.items import ListingItem, PageItem, ShopItem
from crawler.profiles import FieldSpec, PageType, Profile, find_profile

_VISIBLE_TEXT = ".//text()[not(ancestor::script or ancestor::style)]"
_ITEM_CLASSES = {"listing": ListingItem, "shop": ShopItem}


def new_sweep_id(site: str) -> str:
    return f"{site}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


class ListingSpider(scrapy.Spider):
    name = "listing"

    def __init__(self, site: str = "demo", base_url: str | None = None, sweep_id: str | None = None,
                 profile: Profile | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.profile = profile or find_profile(site)
        self.site = self.profile.site
        self.base_url = base_url
        self.sweep_id = sweep_id or new_sweep_id(self.site)
        self.allowed_domains = self.profile.allowed_domains or None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ListingSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        polite = spider.profile.politeness
        # A profile's politeness overrides the project defaults (spider priority, as custom_settings).
        crawler.settings.set("ROBOTSTXT_OBEY", polite.obey_robots, priority="spider")
        crawler.settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", polite.concurrency, priority="spider")
        crawler.settings.set("DOWNLOAD_DELAY", polite.delay, priority="spider")
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.profile.resolved_start_urls(self.base_url):
            request = self._request(url)
            if request is not None:
                yield request

    # -- requests ---------------------------------------------------------------------
    def _request(self, url: str) -> scrapy.Request | None:
        match = self.profile.page_type(url)
        if match is None:
            return None
        name, page = match
        meta: dict[str, Any] = {"page_type": name}
        if page.render == "browser":
            meta["playwright"] = True
            if page.wait_for:
                meta["playwright_page_methods"] = [PageMethod("wait_for_selector", page.wait_for, timeout=15_000)]
        return scrapy.Request(url, callback=self.parse, errback=self.on_error, meta=meta)

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self.logger.warning("fetch failed: %s (%s)", request.url, failure.getErrorMessage() or failure.type.__name__)
        self.crawler.stats.inc_value("netsword/pages_failed")

    # -- parsing ----------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        match = self.profile.page_type(response.url)
        if match is None:
            return
        name, page = match
        yield self.extract(response, name, page)
        for css in page.follow:
            for href in response.css(f"{css}::attr(href)").getall():
                request = self._request(response.urljoin(href))
                if request is not None:
                    yield request

    def extract(self, response: Response, page_name: str, page: PageType) -> ListingItem | ShopItem | PageItem:
        common = {
            "url": response.url,
            "site": self.site,
            "sweep_id": self.sweep_id,
            "status": response.status,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rendered": bool(response.meta.get("playwright")),
            "html": response.body,
        }
        if page.item == "none":
            return PageItem(page_type=page_name, **common)
        values = {name: extract_field(response, spec) for name, spec in page.fields.items()}
        if page.attributes is not None:
            values["attributes"] = {
                " ".join(row.css(f"{page.attributes.name} ::text").getall()).strip():
                " ".join(row.css(f"{page.attributes.value} ::text").getall()).strip()
                for row in response.css(page.attributes.rows)
            }
        if values.get("shop_url"):
            values["shop_url"] = response.urljoin(values["shop_url"])
        item = _ITEM_CLASSES[page.item](**common, **values)
        if page.item == "listing" and not item.listing_id:
            item.listing_id = _id_from_url(response.url)
        if page.item == "shop" and not item.shop_id:
            item.shop_id = _id_from_url(response.url)
        return item


def extract_field(response: Response, spec: str | FieldSpec) -> str:
    """Text of a field: a selector with ``::text``/``::attr`` gives raw values; otherwise all
    text inside the matched elements, whitespace-joined."""
    sel, regex = (spec, None) if isinstance(spec, str) else (spec.sel, spec.re)
    nodes = response.xpath(sel[6:]) if sel.startswith("xpath:") else response.css(sel)
    if "::" in sel or (sel.startswith("xpath:") and "/@" in sel):
        parts = [v.strip() for v in nodes.getall()]
    else:
        parts = [" ".join(t.strip() for t in n.xpath(_VISIBLE_TEXT).getall() if t.strip()) for n in nodes]
    value = " ".join(p for p in parts if p)
    if regex and value:
        m = re.search(regex, value)
        value = (m.group(1) if m and m.groups() else m.group(0)) if m else ""
    return value


def _id_from_url(url: str) -> str:
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"\.html?$", "", tail)
