"""The generic, profile-driven spider: ``scrapy crawl listing -a site=demo``.

Everything site-specific lives in the site profile (crawler/sites/<site>.yml): which page
types exist, which links to follow, how lists page, which fields to extract, which pages
need a browser and what to do in it. Spider arguments: ``site``, ``base_url``, ``sweep_id``,
``search`` (comma-separated terms: sweep only their search results), ``urls`` (a re-check: only these
pages, no link followed).

A callback yields the page's links before its item: the frontier (:mod:`crawler.frontier`)
makes the links durable before the item can reach the store, so a killed sweep never has a
stored page whose links were lost.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.html import get_meta_refresh

from crawler import subpages
from crawler.browser_steps import page_methods
from crawler.capture import CAPTURED, evidence_entries
from crawler.fillrate import count_page, count_unchanged
from crawler.items import ListingItem, PageItem, ShopItem, UnchangedPage
from crawler.middlewares import RedirectFailed
from crawler.profiles import FieldSpec, PageType, Profile, find_profile
from crawler.waitfor import META as STEPS_META
from crawler.waitfor import describe_failure, step_places
from crawler.walls import WallMet, WallPaused
from netsword.clock import utc_now
from netsword.digests import sha256_bytes
from pipelines.store.files import html_rel

_VISIBLE_TEXT = ".//text()[not(ancestor::script or ancestor::style)]"
_ITEM_CLASSES = {"listing": ListingItem, "shop": ShopItem}
#: links an ``auto`` page does not follow: log-in, account, cart and checkout pages, and log-outs
_AUTO_DENY = (r"(?i)/(?:login|logout|signin|signout|sign-in|sign-out|register|signup|account|cart|checkout|"
              r"passport|member)(?:[/?.]|$)", r"(?i)[?&](?:logout|action=logout)")
#: request.meta key: SHA-256 of the response body (set where the body arrives, crawler.incremental)
BODY_SHA256 = "netsword_body_sha256"
#: Response flag set by :class:`crawler.incremental.IncrementalMiddleware` (body = the stored snapshot).
UNCHANGED = "netsword-unchanged"


def new_sweep_id(site: str) -> str:
    return f"{site}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"




class ListingSpider(scrapy.Spider):
    name = "listing"

    def __init__(self, site: str = "demo", base_url: str | None = None, sweep_id: str | None = None,
                 profile: Profile | None = None, search: str | list[str] | None = None,
                 urls: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.profile = profile or find_profile(site)
        self.site = self.profile.site
        self.base_url = base_url
        self.sweep_id = sweep_id or new_sweep_id(self.site)
        self.allowed_domains = self.profile.allowed_domains or None
        if self.allowed_domains is None and any(p.type == "auto" for p in self.profile.pages.values()):
            # a site without a profile follows every link: it stays on its start URLs' hosts
            hosts = {urlsplit(u).hostname for u in self.profile.resolved_start_urls(base_url)}
            self.allowed_domains = sorted(h for h in hosts if h) or None
        terms = search.split(",") if isinstance(search, str) else list(search or [])
        self.search_terms = [t.strip() for t in terms if t.strip()]
        self.only_urls = list(urls or [])  # a re-check: these pages only, no link followed
        self._ids: dict[tuple[str, str], str] = {}  # (kind, id) -> the first URL that gave it
        self.failed_subpages: set[tuple[str, str, str]] = set()  # (kind, subject id, page type) (crawler.subpages)
        self._id_warned: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ListingSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        polite = spider.profile.politeness
        # A profile's politeness overrides the project defaults (spider priority, as custom_settings);
        # the command line (-s, priority cmdline) still wins.
        for name, value in (("ROBOTSTXT_OBEY", polite.obey_robots),
                            ("CONCURRENT_REQUESTS_PER_DOMAIN", polite.concurrency),
                            ("DOWNLOAD_DELAY", polite.delay),
                            ("AUTOTHROTTLE_ENABLED", polite.autothrottle),
                            ("DOWNLOAD_TIMEOUT", polite.timeout),
                            ("RETRY_TIMES", polite.retries)):
            crawler.settings.set(name, value, priority="spider")
        limits = spider.profile.limits  # only those the profile sets (crawler.limits)
        for name, value in (("NETSWORD_MAX_DEPTH", limits.max_depth), ("NETSWORD_MAX_PAGES", limits.max_pages),
                            ("DOWNLOAD_MAXSIZE", limits.max_page_mb and int(limits.max_page_mb * 1024 * 1024))):
            if value:
                crawler.settings.set(name, value, priority="spider")
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.only_urls:
            urls = self.only_urls
        elif self.search_terms:
            urls = self.profile.search_urls(self.search_terms, self.base_url)
        else:
            urls = self.profile.resolved_start_urls(self.base_url)
        for url in urls:
            request = self.request_for(url)
            if request is not None:
                yield request
        if not self.only_urls and not self.search_terms:
            from crawler.seeds import seed_requests

            for request in seed_requests(self):  # sitemaps (profile `seeds:`)
                yield request

    def parse_seed(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        """A sitemap or robots.txt of the profile's ``seeds:`` (crawler.seeds)."""
        from crawler.seeds import parse_seed

        yield from parse_seed(self, response)

    # -- requests ---------------------------------------------------------------------
    def request_for(self, url: str, page_no: int = 1, **kwargs: Any) -> scrapy.Request | None:
        """The request for ``url`` as its page type wants it fetched; None if no page type matches."""
        match = self.profile.page_type(url)
        if match is None:
            return None
        name, page = match
        meta: dict[str, Any] = {"netsword_page_type": name, "netsword_page_no": page_no}
        if page.render == "browser":
            meta["playwright"] = True
            steps = page.all_steps
            if steps:  # a wait ends on a login / verification wall too (crawler.walls)
                walls = self.profile.walls.css() if self.profile.walls is not None else ""
                meta["playwright_page_methods"] = page_methods(steps, also_wait_for=walls)
                meta[STEPS_META] = step_places(self.profile, name)  # a wait_for timeout names file:line
        if page.capture is not None or (page.json_ is not None and page.json_.items and page.item != "none"):
            from crawler.jsonapi import request_meta

            meta.update(request_meta(page))
        return scrapy.Request(url, callback=self.parse, errback=self.on_error, meta=meta, **kwargs)

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        stats = self.crawler.stats
        if failure.check(WallMet, WallPaused):  # the site is paused: the page stays pending (crawler.walls)
            self.logger.debug("held back: %s (%s)", request.url, failure.getErrorMessage())
            return
        if failure.check(IgnoreRequest) and not failure.check(HttpError, RedirectFailed):  # robots.txt, offsite
            stats.inc_value("netsword/pages/skipped")
            self.logger.info("skipped: %s (%s)", request.url, failure.getErrorMessage() or "ignored")
            return
        tries = request.meta.get("retry_times", 0) + 1
        reason = failure.getErrorMessage() or failure.type.__name__
        url = (request.meta.get("redirect_urls") or [request.url])[0] if failure.check(RedirectFailed) else request.url
        response = getattr(failure.value, "response", None)
        waited = describe_failure(failure, request)
        if response is not None:
            reason = f"HTTP {response.status}"
        elif waited:
            reason = waited
            stats.inc_value("netsword/pages/wait_for_timeouts")
        elif failure.check(DownloadCancelledError) and "larger than download max size" in reason:
            limit = self.crawler.settings.getint("DOWNLOAD_MAXSIZE") / 1024 / 1024
            reason = (f"larger than {limit:g} MB, not downloaded (DOWNLOAD_MAXSIZE; for bigger pages set "
                      "`limits: {max_page_mb: ...}` in the profile)")
        stats.inc_value("netsword/pages/failed")
        subpages.note_failed(self, request)  # its subject is not judged without it (crawler.subpages)
        if not stats.get_value("netsword/pages/first_failed"):
            stats.set_value("netsword/pages/first_failed", f"{url}: {reason}")
        self.logger.warning("page failed: %s after %d %s: %s", url, tries,
                            "try" if tries == 1 else "tries", reason)

    # -- parsing ----------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        match = self.profile.page_type(response.url)
        if match is None:
            return
        name, page = match
        stats = self.crawler.stats
        why = unparseable(response)
        if why:
            self._unparseable(response, why)
            return
        stats.inc_value("netsword/pages/ok")
        if response.meta.get("retry_times"):
            stats.inc_value("netsword/pages/retried")
        if UNCHANGED in response.flags:
            stats.inc_value("netsword/pages/unchanged")
            count_unchanged(stats, name, page)
            item: Any = self.unchanged(response, name)
        elif page.json_ is not None and page.json_.items and page.item != "none":
            from crawler.jsonapi import record_items

            yield from self.links(response, page)
            yield from record_items(self, response, name, page)  # one item per JSON record
            return
        else:
            item = self.extract(response, name, page)
            render = self.render_request(response, name, page, item)
            if render is not None:  # a shell its scripts fill: its links now, the page itself from the browser
                yield from self.links(response, page)
                yield render
                return
        licence = self.licence_request(response, item) if page.type == "auto" else None
        yield from self.links(response, page, subpages.subject_of(item),
                              skip={licence.url} if licence is not None else None)
        if licence is not None:
            yield licence  # the shop is yielded with its licence page's fields (parse_licence)
            return
        yield item

    # -- sites without a profile: pages their scripts fill, a shop's licence on its own page ----------
    def render_request(self, response: Response, page_name: str, page: PageType, item: Any) -> scrapy.Request | None:
        """An ``auto`` page fetched without a browser that showed nothing to judge and needs JavaScript
        (:func:`crawler.autodetect.needs_javascript`): the request that fetches it again through the browser
        (``NETSWORD_AUTO_RENDER``), so the goods a script lists or shows are found."""
        if (page.type != "auto" or not isinstance(item, PageItem) or not isinstance(response, HtmlResponse)
                or response.meta.get("playwright") or not self.crawler.settings.getbool("NETSWORD_AUTO_RENDER")):
            return None
        from crawler.autodetect import needs_javascript

        why = needs_javascript(response.text)
        if not why:
            return None
        self.crawler.stats.inc_value("netsword/auto/rendered")
        self.logger.info("fetched again through the browser: %s (%s)", response.url, why)
        # the page is read once its scripts' own requests are done (a list filled by fetch() comes after "load")
        meta = {"netsword_page_type": page_name, "netsword_page_no": response.meta.get("netsword_page_no", 1),
                "playwright": True, "playwright_page_goto_kwargs": {"wait_until": "networkidle"},
                "netsword_auto_render": why}
        return scrapy.Request(response.url, callback=self.parse, errback=self.on_error, meta=meta, dont_filter=True)

    def licence_request(self, response: Response, item: Any) -> scrapy.Request | None:
        """An ``auto`` shop page that shows no licence but links to a 资质/亮照 page: the request for that page,
        carrying the shop (fetched whatever the incremental state: its fields complete the shop's record)."""
        if not isinstance(item, ShopItem) or item.license_text or item.license_number or item.license_image:
            return None
        from crawler.autodetect import licence_link

        url = licence_link(response.text, response.url) if isinstance(response, HtmlResponse) else ""
        if not url or (self.allowed_domains and urlsplit(url).hostname not in self.allowed_domains):
            return None
        return scrapy.Request(url, callback=self.parse_licence, errback=self.licence_failed, dont_filter=True,
                              cb_kwargs={"shop": item}, meta={"netsword_page_type": "licence", "netsword_full": True})

    def parse_licence(self, response: Response, shop: ShopItem) -> Iterator[Any]:
        """The licence page of an ``auto`` shop: kept as evidence, its licence fields filled into the shop."""
        from crawler.autodetect import licence_fields

        yield PageItem(page_type="licence", **self._evidence_common(response))
        found = licence_fields(response.text, response.url) if isinstance(response, HtmlResponse) else {}
        for name, value in found.items():
            if name == "image_urls":
                for role, urls in value.items():
                    have = shop.image_urls.setdefault(role, [])
                    have.extend(u for u in urls if u not in have)
            elif name == "notices":
                shop.notices = f"{shop.notices} {value}".strip()
            elif not getattr(shop, name):
                setattr(shop, name, value)
        self.crawler.stats.inc_value("netsword/auto/licence_pages")
        yield shop

    def licence_failed(self, failure: Failure) -> Iterator[Any]:
        """The licence page could not be fetched: the shop is stored, saying so, not judged as showing none."""
        self.on_error(failure)
        shop = failure.request.cb_kwargs["shop"]  # type: ignore[attr-defined]
        shop.license_text = f"（资质页面未能获取 / licence page not fetched: {failure.request.url}）"  # type: ignore[attr-defined]
        yield shop

    def links(self, response: Response, page: PageType,
              parent: tuple[str, str] | None = None, skip: set[str] | None = None) -> Iterator[scrapy.Request]:
        """Requests for the page's links (``follow``) and its next page (``pagination``); none in a re-check.
        ``parent``: the subject the page shows, handed to the sub-pages it links to (crawler.subpages)."""
        if self.only_urls:
            return
        if page.type == "auto" and not page.follow:
            yield from self.auto_links(response, skip or set())
        for sel in page.follow:
            for href in select_links(response, sel):
                request = self.request_for(response.urljoin(href))
                if request is not None and subpages.link_parent(self.profile, request, parent):
                    yield request
                elif request is not None:
                    self.crawler.stats.inc_value("netsword/subpages/not_followed")
        refresh = meta_refresh_url(response)
        if refresh:  # a page that reloads itself elsewhere after a while: parsed, and its target followed
            request = self.request_for(refresh)
            if request is not None:
                self.crawler.stats.inc_value("netsword/meta_refresh/followed")
                yield request
        page_no = response.meta.get("netsword_page_no", 1)
        if page.json_ is not None:
            from crawler.jsonapi import json_links

            yield from json_links(self, response, page, page_no)
        nxt = page.next_page
        if nxt is not None and page_no < nxt.max_pages:
            for href in select_links(response, nxt.next)[:1]:
                request = self.request_for(response.urljoin(href), page_no=page_no + 1)
                if request is not None:
                    yield request

    def auto_links(self, response: Response, skip: set[str]) -> Iterator[scrapy.Request]:
        """Every link of an ``auto`` page to the site's own pages (not to files, nor to log-in, cart or
        account pages); the sweep's limits (pages, depth) and the dupefilter bound the walk."""
        if not isinstance(response, HtmlResponse):
            return
        from scrapy.linkextractors import LinkExtractor

        hosts = set(self.allowed_domains or ())
        for link in LinkExtractor(deny=_AUTO_DENY, unique=True).extract_links(response):
            if (hosts and urlsplit(link.url).hostname not in hosts) or link.url in skip:  # allow_domains minds ports
                continue
            request = self.request_for(link.url)
            if request is not None:
                yield request

    def _common(self, response: Response) -> dict[str, Any]:
        requested = (response.meta.get("redirect_urls") or [response.url])[0]
        headers = response.headers
        return {
            "url": response.url,
            "requested_url": requested if requested != response.url else "",
            "site": self.site,
            "sweep_id": self.sweep_id,
            "status": response.status,
            "fetched_at": response.meta.get("netsword_fetched_at") or utc_now(),
            "rendered": "playwright" in response.flags,
            "etag": (headers.get("ETag") or b"").decode("latin-1"),
            "last_modified": (headers.get("Last-Modified") or b"").decode("latin-1"),
        }

    def unchanged(self, response: Response, page_name: str) -> UnchangedPage:
        prev = response.meta.get("netsword_prev") or {}
        shot = response.meta.get("netsword_screenshot") or ("", "")
        common = self._common(response)
        # validators the answer did not repeat stay those of the stored state
        common["etag"] = common["etag"] or prev.get("etag", "")
        common["last_modified"] = common["last_modified"] or prev.get("last_modified", "")
        return UnchangedPage(**common, html_sha256=prev.get("sha256", ""),
                             html_path=prev.get("path", ""), page_type=prev.get("page_type") or page_name,
                             subject_kind=prev.get("subject_kind", ""), subject_id=prev.get("subject_id", ""),
                             screenshot_sha256=shot[0], screenshot_path=shot[1])

    def _evidence_common(self, response: Response) -> dict[str, Any]:
        """The fields every item of a fetched page has, with the page kept as evidence (HTML, hash, screenshot,
        captured answers)."""
        common = self._common(response)
        common["html"] = response.body
        # the snapshot's hash as the response arrived (crawler.incremental), so findings carry it when made
        sha = response.meta.get(BODY_SHA256) or sha256_bytes(response.body)
        common["html_sha256"], common["html_path"] = sha, html_rel(sha)
        shot = response.meta.get("netsword_screenshot")
        if shot:
            common["screenshot_sha256"], common["screenshot_path"] = shot
        if response.meta.get(CAPTURED):
            common["captures"] = evidence_entries(response)
        return common

    def extract(self, response: Response, page_name: str, page: PageType) -> ListingItem | ShopItem | PageItem:
        common = self._evidence_common(response)
        if page.type == "auto":
            return self.extract_auto(response, page_name, common)
        if page.item == "none":
            return PageItem(page_type=page_name, **common)
        values = self._bounded(response, extract_fields(response, page))
        count_page(self.crawler.stats, page_name, page, values)  # fill rates of required fields (crawler.fillrate)
        item = _ITEM_CLASSES[page.item](**common, **values)
        id_field = f"{page.item}_id"
        if page.belongs_to is not None:  # a sub-page: the id of the subject it fills, never one from its URL
            owner = subpages.owner_of(response, page.belongs_to)
            if not owner:
                self.crawler.stats.inc_value("netsword/subpages/no_owner")
                self._unparseable(response, subpages.no_owner_reason(page.belongs_to))
                return PageItem(page_type=page_name, **common)  # kept as evidence
            setattr(item, id_field, owner)
        if self.profile.has_subpages(page.item):  # one page of a subject with sub-pages: stored as its part
            item.part, item.sub_page = page_name, page.belongs_to is not None
        from_profile = bool(getattr(item, id_field))
        if not from_profile:
            setattr(item, id_field, id_from_url(response.url))
        if page.item == "listing" and not item.title.strip() and page.belongs_to is None:
            sel = page.fields.get("title")
            sel = sel if isinstance(sel, str) or sel is None else sel.sel
            self._unparseable(response, f"no title (the title selector {sel!r} matched nothing)" if sel
                              else "no title (none in the page's structured data)")
            return PageItem(page_type=page_name, **common)  # kept as evidence, not a listing
        if response.meta.get("netsword_page_no", 1) == 1 and not item.sub_page:  # a list's next pages: its first
            self._check_id(page.item, getattr(item, id_field), response.url, from_profile)
        return item

    def extract_auto(self, response: Response, page_name: str, common: dict[str, Any]
                     ) -> ListingItem | ShopItem | PageItem:
        """A page of a site without a profile (``type: auto``): a listing, a shop or a plain page, as its
        markup says (crawler.autodetect); the item's ``attributes`` say why (``识别依据``)."""
        from crawler.autodetect import classify

        if not isinstance(response, HtmlResponse):
            return PageItem(page_type=page_name, **common)
        found = classify(response.text, response.url)
        self.crawler.stats.inc_value(f"netsword/auto/{found.kind}")
        if found.kind == "page":
            return PageItem(page_type=page_name, **common)
        values = self._bounded(response, dict(found.fields))
        if found.kind == "listing":
            values["attributes"] = {**(values.get("attributes") or {}), "识别依据": found.why}
        item = _ITEM_CLASSES[found.kind](**common, **values)
        id_field = f"{found.kind}_id"
        if not getattr(item, id_field):
            setattr(item, id_field, id_from_url(response.url))
        if found.kind == "listing" and item.shop_url and not item.shop_id:
            item.shop_id = id_from_url(item.shop_url)
        self._check_id(found.kind, getattr(item, id_field), response.url, False)
        return item

    def _bounded(self, response: Response, values: dict[str, Any]) -> dict[str, Any]:
        """Text fields cut to ``NETSWORD_MAX_FIELD_CHARS``: the page is kept whole as evidence, but a field
        holding a big page's text would be normalised, tokenised, matched and indexed several times over
        (a 20 MB page in ``description`` took 1.4 GB)."""
        limit = self.crawler.settings.getint("NETSWORD_MAX_FIELD_CHARS")
        for name, value in values.items():
            if limit and isinstance(value, str) and len(value) > limit:
                values[name] = value[:limit]
                self.crawler.stats.inc_value("netsword/fields/truncated")
                self.logger.info("field %s of %s cut to %d of its %d characters (NETSWORD_MAX_FIELD_CHARS)",
                                 name, response.url, limit, len(value))
        return values

    def _unparseable(self, response: Response, why: str) -> None:
        self.crawler.stats.inc_value("netsword/pages/unparseable")
        self.logger.warning("unparseable: %s: %s; not stored as a %s", response.url, why,
                            response.meta.get("netsword_page_type", "page"))

    def _check_id(self, kind: str, subject_id: str, url: str, from_profile: bool) -> None:
        """Warn (once per id) when a second URL gives an id another URL gave in this sweep."""
        seen = self._ids.setdefault((kind, subject_id), url)
        if seen == url or (kind, subject_id) in self._id_warned:
            return
        self._id_warned.add((kind, subject_id))
        self.crawler.stats.inc_value(f"netsword/ids/collisions/{kind}")
        how = (f"from the profile's {kind}_id selector; if these are two {kind}s, fix that selector" if from_profile
               else f"from the URL; add a `{kind}_id:` field to the page type in the profile of {self.site}")
        self.logger.warning("%s id %r of %s was given to %s before in this sweep: they are stored as one %s (%s)",
                            kind, subject_id, url, seen, kind, how)


def extract_fields(response: Response, page: PageType, data: Any = None) -> dict[str, Any]:
    """The item fields a page type's selectors (and, with ``generic: true``, page metadata) give; ``json:``
    fields read ``data`` (a JSON record), by default the page's JSON (:func:`crawler.jsonapi.page_data`)."""
    if data is None and any(_sel(spec).startswith("json:") for spec in page.fields.values()):
        from crawler.jsonapi import page_data

        data = page_data(response, page)
    values: dict[str, Any] = {name: extract_field(response, spec, data) for name, spec in page.fields.items()}
    if page.attributes is not None:
        values["attributes"] = {
            " ".join(row.css(f"{page.attributes.name} ::text").getall()).strip():
            " ".join(row.css(f"{page.attributes.value} ::text").getall()).strip()
            for row in response.css(page.attributes.rows)
        }
    if page.item == "listing" and data is None and isinstance(response, HtmlResponse):
        from crawler.generic import extract_product, schema_org_fields

        # fields the profile has no selector for come from the page's schema.org Product (extruct); with
        # `generic: true` also fields whose selector found nothing, and from common price markup
        if page.generic:
            found = extract_product(response.text, response.url).as_fields()
        elif _FALLBACK_FIELDS - set(page.fields):
            found = schema_org_fields(response.text, response.url)
        else:
            found = {}
        for name, value in found.items():
            if value and not values.get(name) and (page.generic or name not in page.fields):
                values[name] = value
    if values.get("shop_url"):
        values["shop_url"] = response.urljoin(values["shop_url"])
    if page.images is not None and page.item != "none":
        values["image_urls"] = image_urls(response, page)
    return values


#: Listing fields a page's schema.org Product can give when the profile names no selector for them.
_FALLBACK_FIELDS = frozenset({"title", "price_text", "description"})


def image_urls(response: Response, page: PageType) -> dict[str, list[str]]:
    """Absolute http(s) URLs of the page's pictures per role (``images:`` in the profile), page order,
    each URL once (``data:`` and other schemes are left out)."""
    assert page.images is not None
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for role, sel in page.images.selectors().items():
        for raw in select_links(response, sel):
            url = response.urljoin(raw.strip())
            if url.startswith(("http://", "https://")) and url not in seen:
                seen.add(url)
                out.setdefault(role, []).append(url)
    return out


def _sel(spec: str | FieldSpec) -> str:
    return spec if isinstance(spec, str) else spec.sel


def extract_field(response: Response, spec: str | FieldSpec, data: Any = None) -> str:
    """Text of a field: a selector with ``::text``/``::attr`` gives raw values; otherwise all
    text inside the matched elements, whitespace-joined; ``json:`` a JMESPath on ``data``."""
    sel, regex = (spec, None) if isinstance(spec, str) else (spec.sel, spec.re)
    if sel.startswith("json:"):
        from crawler.jsonapi import field_value

        value = field_value(sel, data)
        if regex and value:
            m = re.search(regex, value)
            value = (m.group(1) if m and m.groups() else m.group(0)) if m else ""
        return value
    nodes = response.xpath(sel[6:]) if sel.startswith("xpath:") else response.css(sel)
    if "::" in sel or (sel.startswith("xpath:") and ("/@" in sel or "text()" in sel)):
        parts = [v.strip() for v in nodes.getall()]
    else:
        parts = [" ".join(t.strip() for t in n.xpath(_VISIBLE_TEXT).getall() if t.strip()) for n in nodes]
    value = " ".join(p for p in parts if p)
    if regex and value:
        m = re.search(regex, value)
        value = (m.group(1) if m and m.groups() else m.group(0)) if m else ""
    return value


def select_links(response: Response, selector: str) -> list[str]:
    """hrefs of the links a selector picks: elements (their ``href``) or attribute values."""
    if selector.startswith("xpath:"):
        nodes = response.xpath(selector[6:])
    elif "::" in selector:
        return [v.strip() for v in response.css(selector).getall() if v.strip()]
    else:
        nodes = response.css(selector)
    out = []
    for node in nodes:
        value = node.attrib.get("href") if hasattr(node.root, "tag") else node.get()
        if value and value.strip():
            out.append(value.strip())
    return out


#: Query parameters that name the thing a URL shows (``item.htm?id=123``, ``goods_id``, ``sku``) are
#: kept in ids from URLs; others (page, sort, spm, utm_*, from, session ids ...) are left out.
_ID_PARAM = re.compile(r"^(?:item|goods|product|sku|shop|offer)|id$")
_NOT_ID_PARAM = re.compile(r"^(?:j?session|sid$|uid$|trace|track|utm|spm|scm|ref|from|src)")


def _id_param(name: str) -> bool:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return bool(_ID_PARAM.search(key)) and not _NOT_ID_PARAM.search(key)


def id_from_url(url: str) -> str:
    """A listing's or shop's id when the profile has no ``listing_id`` / ``shop_id`` field: the whole
    path (``/a/1.html`` -> ``a/1``; ``/b/1.html`` -> ``b/1``) plus the query parameters that name the
    thing shown (``/item.htm?id=7`` -> ``item?id=7``; ``/shop/s1/?page=2`` -> ``shop/s1``)."""
    parts = urlsplit(url)
    path = re.sub(r"\.html?$", "", unquote(parts.path).strip("/")) or "/"
    params = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if _id_param(k))
    return f"{path}?{urlencode(params)}" if params else path


def meta_refresh_url(response: Response) -> str:
    """The target of a page's ``<meta http-equiv=refresh content="N;url=...">`` (absolute), or ""."""
    if not isinstance(response, HtmlResponse) or b"refresh" not in response.body[:65536].lower():
        return ""
    _delay, url = get_meta_refresh(response.text[:65536], response.url, response.encoding, ignore_tags=["noscript"])
    return url or ""


def unparseable(response: Response) -> str:
    """Why a response is no web page to parse (binary content), or ""."""
    if not isinstance(response, TextResponse):
        return f"not text ({(response.headers.get('Content-Type') or b'no Content-Type').decode('latin-1')})"
    head = response.body[:8192]
    if not head:
        return ""
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    if b"\x00" in head or control > len(head) // 20:
        return f"binary content ({control} control bytes in the first {len(head)})"
    return ""
