"""Site profiles (crawler/sites/*.yml): validated on load, errors point to file:line.

A profile says, for one site, where to start, which page types exist (matched by URL
regex, first match wins), which links to follow from each, how to page through lists,
which fields to extract with CSS or XPath (``xpath:`` prefix), and which pages need a
browser (``render: browser``, with ``steps``; see :mod:`crawler.browser_steps`).

Page types (``type``):

* ``page``     anything kept as evidence only (home, help pages)
* ``list``     a category or shop list: links to listings, a next page
* ``search``   search results (``search.url`` in the profile builds their URLs from terms)
* ``listing``  a product page: becomes a :class:`~crawler.items.ListingItem`
* ``shop``     a shop home page: becomes a :class:`~crawler.items.ShopItem`

``netsword profile check SITE URL`` fetches one page and shows what each selector extracts.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import fields as dc_fields
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from parsel import Selector
from parsel.csstranslator import HTMLTranslator
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from crawler.browser_steps import Fill, Press, Step
from crawler.identity import Identity
from crawler.items import ListingItem, ShopItem
from crawler.sessions import SessionSpec
from crawler.walls import Walls
from netsword.config import sites_dir
from netsword.yamlsource import SourceError, SourceLocation, load_yaml

#: ``auto``: a site without a profile -- each page is told apart by its markup (crawler.autodetect)
PageKind = Literal["page", "list", "search", "listing", "shop", "auto"]
#: Item class names per page type that yields one.
ITEM_OF: dict[str, str] = {"listing": "listing", "shop": "shop"}
_ITEM_FIELDS = {
    "listing": {f.name for f in dc_fields(ListingItem)},
    "shop": {f.name for f in dc_fields(ShopItem)},
}
_CSS = HTMLTranslator()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttributeRows(_Strict):
    """A table of name/value rows, e.g. 品牌 | 耐克."""

    rows: str
    name: str = "th"
    value: str = "td"


class FieldSpec(_Strict):
    """A selector plus an optional regex whose first group (or whole match) is kept."""

    sel: str
    re: str | None = None

    @field_validator("re")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            _check_regex(v)
        return v


class Images(_Strict):
    """Pictures of a listing or shop page: selectors per role (each giving image URLs, e.g.
    ``'div.detail img::attr(src)'``) and per-page limits. Fetched by Scrapy's media pipeline into the
    evidence, read by OCR (``image_text``) and hashed (``phash``) by ``pipelines.images``."""

    main: str | None = None  # product photos (主图)
    detail: str | None = None  # the detail column (详情图): where claims are painted
    license: str | None = None  # the business licence picture (shop pages); ``license_image`` is used too
    max_count: int = Field(12, ge=0, le=200, description="pictures fetched per page, in page order")
    max_kb: int = Field(4096, ge=1, le=102_400, description="a bigger picture is not downloaded")
    min_side: int = Field(120, ge=1, le=10_000, description="a picture narrower or lower than this (icons, "
                          "spacers) is kept but not read or hashed")
    ocr: bool = True  # read the text in the pictures (image_text)

    def selectors(self) -> dict[str, str]:
        return {role: sel for role in ("main", "detail", "license") if (sel := getattr(self, role))}


class Pagination(_Strict):
    """The "next page" link of a list, followed up to ``max_pages`` pages deep."""

    next: str
    max_pages: int = Field(200, ge=1, le=100_000)


class BelongsTo(_Strict):
    """A sub-page: its fields fill another subject's record (a 资质/亮照 page filling its shop), found by the
    link followed (``via: link``: the subject whose page linked here) or by an id read from the page
    (``id: {sel: 'body::attr(data-shop)'}``). See :mod:`crawler.subpages`."""

    kind: Literal["shop", "listing"]
    via: Literal["link"] | None = None
    id: str | FieldSpec | None = None


class JsonNext(_Strict):
    """The next page of a JSON endpoint: a page number (``param`` counts up from ``start`` by ``step`` until
    ``stop_when`` is true, or a page has no records) or a cursor (``cursor``: JMESPath to the next cursor,
    sent as ``param``; none, or the same again, ends the list). JMESPath: jmespath.org."""

    param: str = Field(min_length=1, description="the query parameter of the page number or cursor")
    start: int = Field(1, ge=0, description="the first page's number, when the URL has none")
    step: int = Field(1, ge=1)
    stop_when: str | None = None  # JMESPath on the page's JSON, true when it is the last page
    cursor: str | None = None  # JMESPath on the page's JSON: the next page's cursor
    max_pages: int = Field(200, ge=1, le=100_000)

    @field_validator("stop_when", "cursor")
    @classmethod
    def _jmespath(cls, v: str | None) -> str | None:
        return _check_jmespath(v) if v is not None else v


class JsonSpec(_Strict):
    """A page whose data is JSON (an API the site's own front end calls): ``items`` is a JMESPath to its
    records, ``follow`` a JMESPath per record giving a link (or a URL template: ``'{base_url}/item/{id}'``,
    each ``{...}`` a JMESPath on the record), ``next`` its pagination. On a ``listing``/``shop`` page type
    each record becomes an item, its ``json:`` fields read from the record."""

    items: str | None = None
    follow: str | None = None
    next: JsonNext | None = None

    @field_validator("items")
    @classmethod
    def _jmespath(cls, v: str | None) -> str | None:
        return _check_jmespath(v) if v is not None else v

    @field_validator("follow")
    @classmethod
    def _follow(cls, v: str | None) -> str | None:
        if v is not None:
            from crawler.jsonapi import follow_problem

            why = follow_problem(v)
            if why:
                raise ValueError(why)
        return v


class Capture(_Strict):
    """JSON a browser page's own XHR/fetch calls received (``render: browser``): responses whose URL matches
    the regex ``url`` become the page's JSON (``json:`` fields read the first, ``json.items`` every one) and
    are kept as evidence next to the page."""

    url: str
    max_responses: int = Field(20, ge=1, le=500)
    max_kb: int = Field(4096, ge=1, le=102_400, description="a bigger response is not kept")

    @field_validator("url")
    @classmethod
    def _regex(cls, v: str) -> str:
        _check_regex(v)
        return v


class PageType(_Strict):
    type: PageKind = "page"
    match: list[str] = Field(min_length=1, description="regexes on the URL path and query")
    render: Literal["http", "browser"] = "http"
    wait_for: str | None = None  # shorthand for `steps: [{wait_for: ...}]`
    steps: list[Step] = Field(default_factory=list)
    follow: list[str] = Field(default_factory=list)  # selectors of links to follow (CSS or xpath:)
    pagination: str | Pagination | None = None
    fields: dict[str, str | FieldSpec] = Field(default_factory=dict)
    attributes: AttributeRows | None = None
    generic: bool = False  # listing: fill fields the selectors miss from JSON-LD / microdata / OpenGraph
    images: Images | None = None  # listing / shop: picture selectors and limits (pipelines.images)
    belongs_to: BelongsTo | None = None  # a sub-page: its fields fill that subject's record (crawler.subpages)
    json_: JsonSpec | None = Field(None, alias="json")  # data from a JSON endpoint (crawler.jsonapi)
    capture: Capture | None = None  # browser pages: JSON of the page's own XHR/fetch calls (crawler.capture)
    # fields a sweep must fill on most pages of this type, else it fails loudly (crawler.fillrate); a name,
    # or alternatives `shop_id|shop_name`. Default: title, price_text, shop_id|shop_name (listings),
    # name|shop_id (shops), of those the page type has selectors for
    required: list[str] | None = None

    @field_validator("match")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            _check_regex(pattern)
        return v

    @cached_property
    def patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.match]

    @property
    def item(self) -> str:
        """"listing", "shop" or "none": which item this page type yields."""
        return ITEM_OF.get(self.type, "none")

    @property
    def all_steps(self) -> list[Step]:
        """``wait_for`` (if any) first, then ``steps``."""
        head = [Step(wait_for=self.wait_for)] if self.wait_for else []
        return head + list(self.steps)

    @property
    def next_page(self) -> Pagination | None:
        if isinstance(self.pagination, str):
            return Pagination(next=self.pagination)
        return self.pagination


class Politeness(_Strict):
    obey_robots: bool = True
    concurrency: int = Field(8, ge=1, le=64, description="requests at once to one domain")
    delay: float = Field(0.25, ge=0, description="seconds between requests to one domain (AutoThrottle's floor)")
    autothrottle: bool = True
    timeout: float = Field(30, gt=0, le=600, description="seconds per page")
    retries: int = Field(3, ge=0, le=20)


class Limits(_Strict):
    """Bounds on one sweep of the site (traps: calendars, endless filters, huge pages). Each left out
    takes the project setting named in brackets (crawler/settings.py)."""

    max_depth: int | None = Field(None, ge=1, le=1000, description="link hops from a start page; a list's "
                                  "next pages do not count (NETSWORD_MAX_DEPTH)")
    max_pages: int | None = Field(None, ge=1, le=10_000_000, description="pages per sweep (NETSWORD_MAX_PAGES)")
    max_page_mb: float | None = Field(None, gt=0, le=1024, description="a bigger page is not downloaded "
                                      "(DOWNLOAD_MAXSIZE)")


class Search(_Strict):
    """How to build a search URL for a term: ``url: '{base_url}/search?q={query}'``."""

    url: str
    terms: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _has_query(cls, v: str) -> str:
        if "{query}" not in v:
            raise ValueError("the search url needs a {query} placeholder")
        return v


class Seeds(_Strict):
    """Where a sweep starts besides ``start_urls``: sitemaps (``{base_url}/sitemap.xml``; a sitemap index, a
    urlset, gzipped or not), and ``robots: true`` for the sitemaps robots.txt names. Only URLs some page type
    matches are queued (crawler.seeds)."""

    sitemaps: list[str] = Field(default_factory=list)
    robots: bool = False  # also the `Sitemap:` lines of robots.txt
    max_urls: int = Field(50_000, ge=1, le=10_000_000, description="URLs taken from the sitemaps per sweep")


class Profile(_Strict):
    site: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    platform: str = ""
    base_url: str = ""
    start_urls: list[str] = Field(min_length=1)
    allowed_domains: list[str] = Field(default_factory=list)
    politeness: Politeness = Field(default_factory=Politeness)
    limits: Limits = Field(default_factory=Limits)
    search: Search | None = None
    identity: Identity | None = None  # user agent, headers, proxies (crawler.identity)
    session: SessionSpec | None = None  # how `netsword login SITE` logs in (crawler.sessions)
    walls: Walls | None = None  # login / verification pages: pause the site, alert (crawler.walls)
    seeds: Seeds | None = None
    pages: dict[str, PageType] = Field(min_length=1)
    _lines: dict[tuple[Any, ...], str] = PrivateAttr(default_factory=dict)  # place -> "file:line" (load_profile)

    def where(self, *loc: Any) -> str:
        """``file:line`` of the profile key at ``loc`` (e.g. ``("pages", "listing", "steps", 0)``), or ""."""
        return self._lines.get(tuple(loc), "")

    def page_type(self, url: str) -> tuple[str, PageType] | None:
        """The first page type whose pattern matches the URL's path and query."""
        path = _path_and_query(url)
        for name, page in self.pages.items():
            if any(p.search(path) for p in page.patterns):
                return name, page
        return None

    def has_subpages(self, kind: str) -> bool:
        """Some page type's fields fill a ``kind`` subject of another page (``belongs_to``): such subjects are
        stored page by page and matched once assembled (crawler.subpages)."""
        return any(p.belongs_to is not None and p.belongs_to.kind == kind for p in self.pages.values())

    def resolved_start_urls(self, base_url: str | None = None) -> list[str]:
        base = (base_url or self.base_url).rstrip("/")
        return [u.replace("{base_url}", base) for u in self.start_urls]

    def search_urls(self, terms: list[str], base_url: str | None = None) -> list[str]:
        """Search result URLs for ``terms`` (the profile's own terms when empty)."""
        from urllib.parse import quote

        if self.search is None:
            raise ValueError(f"site {self.site!r} has no `search:` in its profile")
        base = (base_url or self.base_url).rstrip("/")
        return [self.search.url.replace("{base_url}", base).replace("{query}", quote(t))
                for t in (terms or self.search.terms)]


def _check_regex(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from exc


def _check_jmespath(expression: str) -> str:
    from crawler.jsonapi import expression_problem

    why = expression_problem(expression)
    if why:
        raise ValueError(why)
    return expression


def _path_and_query(url: str) -> str:
    m = re.match(r"^[a-z]+://[^/]+", url)
    return url[m.end():] or "/" if m else url


def selector_problem(selector: str) -> str | None:
    """Why a selector cannot work, or None."""
    if selector.startswith("json:"):
        from crawler.jsonapi import expression_problem

        return expression_problem(selector[5:])
    try:
        if selector.startswith("xpath:"):
            Selector(text="<html></html>").xpath(selector[6:])
        else:
            _CSS.css_to_xpath(selector)
    except Exception as exc:
        return f"bad selector {selector!r}: {exc}"
    return None


# --------------------------------------------------------------------------- checks beyond the schema

Problem = tuple[tuple[Any, ...], str, str]  # (location, problem, hint)


def _page_selectors(page: PageType) -> list[tuple[tuple[Any, ...], str]]:
    out: list[tuple[tuple[Any, ...], str]] = [(("follow", i), s) for i, s in enumerate(page.follow)]
    out += [(("fields", k), s if isinstance(s, str) else s.sel) for k, s in page.fields.items()]
    if page.wait_for:
        out.append((("wait_for",), page.wait_for))
    for i, step in enumerate(page.steps):
        sel = step.selector()
        if sel:
            out.append((("steps", i, step.action), sel))
    nxt = page.next_page
    if nxt is not None:
        out.append((("pagination",), nxt.next))
    if page.attributes is not None:
        out += [(("attributes", k), getattr(page.attributes, k)) for k in ("rows", "name", "value")]
    if page.images is not None:
        out += [(("images", role), sel) for role, sel in page.images.selectors().items()]
    if page.belongs_to is not None and page.belongs_to.id is not None:
        spec = page.belongs_to.id
        out.append((("belongs_to", "id"), spec if isinstance(spec, str) else spec.sel))
    return out


def _access_problems(profile: Profile) -> list[Problem]:
    """Selectors of ``walls:`` and of the login steps (``session.steps``)."""
    problems: list[Problem] = []
    sels: list[tuple[tuple[Any, ...], str]] = []
    if profile.walls is not None:
        sels += [(("walls", k), v) for k in ("login", "verification") if (v := getattr(profile.walls, k))]
    if profile.session is not None:
        sels += [(("session", "steps", i, step.action), sel) for i, step in enumerate(profile.session.steps)
                 if (sel := step.selector())]
    for loc, sel in sels:
        why = selector_problem(sel)
        if why:
            problems.append((loc, why, "CSS like `form#login` or `xpath://form`"))
    return problems


def _semantic_problems(profile: Profile) -> list[Problem]:
    problems: list[Problem] = _access_problems(profile)
    for name, page in profile.pages.items():
        loc = ("pages", name)
        problems += _belongs_to_problems(profile, name, page)
        if page.type == "auto" and (page.fields or page.attributes or page.belongs_to or page.json_):
            problems.append(((*loc, "type"), "an `auto` page reads its fields from the page's markup by itself",
                             "remove fields, attributes, belongs_to and json, or give the page type its own `type`"))
        if page.item == "none" and page.images is not None and page.type != "auto":
            problems.append(((*loc, "images"), f"images on a page of type {page.type!r}, which yields no item",
                             "set `type: listing` or `type: shop`, or remove `images:`"))
        if page.item == "none" and (page.fields or page.attributes):
            problems.append(((*loc, "fields"), f"fields on a page of type {page.type!r}, which yields no item",
                             "set `type: listing` or `type: shop`, or remove the fields"))
        if page.item != "none":
            known = _ITEM_FIELDS[page.item]
            for field_name in page.fields:
                if field_name not in known:
                    close = difflib.get_close_matches(field_name, sorted(known), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(sorted(known))}"
                    problems.append(((*loc, "fields", field_name), f"unknown {page.item} field {field_name!r}", hint))
        if page.type == "listing" and "title" not in page.fields and not page.generic and page.belongs_to is None:
            problems.append(((*loc, "type"), "a listing page needs a `title` field",
                             "add `title: 'h1'` under fields, or `generic: true` to read it from JSON-LD"))
        for i, req in enumerate(page.required or []):
            why = _required_problem(page, req)
            if why:
                problems.append(((*loc, "required", i), why[0], why[1]))
        if page.render == "http" and (page.steps or page.wait_for):
            key = "steps" if page.steps else "wait_for"
            problems.append(((*loc, key), "browser steps on a page fetched without a browser",
                             "add `render: browser` to this page type"))
        problems += _json_problems(page, loc)
        for sub, sel in _page_selectors(page):
            why = selector_problem(sel)
            if why:
                problems.append(((*loc, *sub), why, "JMESPath like `json:data.title` (jmespath.org)"
                                 if sel.startswith("json:") else "CSS like `h1.title` or `xpath://h1`"))
    return problems


def _json_problems(page: PageType, loc: tuple[Any, ...]) -> list[Problem]:
    """``json:`` / ``capture:`` that cannot work as written (crawler.jsonapi, crawler.capture)."""
    problems: list[Problem] = []
    json_fields = [k for k, s in page.fields.items() if (s if isinstance(s, str) else s.sel).startswith("json:")]
    if page.capture is not None and page.render != "browser":
        problems.append(((*loc, "capture"), "capture on a page fetched without a browser",
                         "add `render: browser` (an http page's own body is read by `json:` fields directly)"))
    if json_fields and page.render == "browser" and page.capture is None:
        problems.append(((*loc, "fields", json_fields[0]), "a `json:` field on a browser page without `capture:`",
                         "add `capture: {url: '/api/...'}` (the page's own XHR/fetch answer to read)"))
    spec = page.json_
    if spec is not None:
        nxt = spec.next
        if nxt is not None and nxt.cursor is None and nxt.stop_when is None and spec.items is None:
            problems.append(((*loc, "json", "next"), "page-number pagination that never stops",
                             "add `stop_when: 'length(data.items) == `0`'`, or `items:` (an empty page stops it), "
                             "or `cursor:`"))
        if page.item != "none" and spec.items is not None and f"{page.item}_id" not in page.fields \
                and spec.follow is None:
            problems.append(((*loc, "json", "items"), f"each record becomes a {page.item}, but it has no id",
                             f"add `{page.item}_id: 'json:id'` under fields (a JMESPath on the record)"))
    return problems


def _belongs_to_problems(profile: Profile, name: str, page: PageType) -> list[Problem]:
    """A sub-page (``belongs_to``) must yield an item of the subject it fills and say how that subject is found."""
    bt = page.belongs_to
    if bt is None:
        return []
    loc = ("pages", name, "belongs_to")
    if page.item == "none":
        return [(loc, f"belongs_to 用在不产生记录的页面类型 {page.type!r} 上 (a page of this type yields no item)",
                 f"写 `type: {bt.kind}`：本页字段并入所属{_KIND_CN[bt.kind]}的记录")]
    if page.item != bt.kind:
        return [((*loc, "kind"), f"belongs_to.kind 是 {bt.kind!r}，但本页面类型产生 {page.item} 记录",
                 f"写 `type: {bt.kind}`（本页字段并入{_KIND_CN[bt.kind]}），或 `kind: {page.item}`")]
    if (bt.via is None) == (bt.id is None):
        return [(loc, "belongs_to 需要且只需要 `via: link` 或 `id:` 之一 (how the subject is found)",
                 f"`belongs_to: {{kind: {bt.kind}, via: link}}`（链接到本页的{_KIND_CN[bt.kind]}）或 "
                 f"`belongs_to: {{kind: {bt.kind}, id: {{sel: 'body::attr(data-{bt.kind})'}}}}`（页面上的编号）")]
    id_field = f"{bt.kind}_id"
    if id_field in page.fields:
        return [(("pages", name, "fields", id_field), f"子页面的 {id_field} 来自 belongs_to，不能再写在 fields 里",
                 f"删去 fields.{id_field}；页面上的编号写成 `belongs_to: {{kind: {bt.kind}, id: ...}}`")]
    if bt.via == "link":
        parents = [n for n, p in profile.pages.items() if p.item == bt.kind and p.belongs_to is None and p.follow]
        if not parents:
            what = _KIND_CN[bt.kind]
            return [((*loc, "via"), f"via: link，但没有哪个{what}页面类型 (type: {bt.kind}) 有 follow 链接到本页",
                     f"在{_KIND_CN[bt.kind]}页面类型的 follow 里加上指向本页的链接，或改用 `id:`")]
    return []


_KIND_CN = {"shop": "店铺", "listing": "商品"}


def _required_problem(page: PageType, requirement: str) -> tuple[str, str] | None:
    """Why an entry of ``required:`` cannot work (problem, hint), or None."""
    if page.item == "none":
        return f"`required` on a page of type {page.type!r}, which yields no item", "remove `required:`"
    known = _ITEM_FIELDS[page.item]
    names = [n.strip() for n in requirement.split("|") if n.strip()]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            return (f"unknown {page.item} field {name!r} in `required`",
                    f"did you mean {close[0]!r}?" if close else "a field of the page type's `fields:`")
    if not page.generic and not any(name in page.fields for name in names):
        return (f"required field {requirement!r} has no selector in this page type's `fields`",
                f"add `{names[0]}: '...'` under fields, or leave it out of `required`")
    return None


def _source_lines(profile: Profile, doc: Any) -> dict[tuple[Any, ...], str]:
    """``file:line`` of each page type, its ``wait_for`` and steps (for messages naming the profile)."""
    path = _shown_path(doc.path)
    out: dict[tuple[Any, ...], str] = {}
    for name, page in profile.pages.items():
        keys: list[tuple[Any, ...]] = [("pages", name), ("pages", name, "wait_for"), ("pages", name, "required")]
        keys += [("pages", name, "steps", i) for i in range(len(page.steps))]
        keys += [("pages", name, "fields", f) for f in page.fields]
        for key in keys:
            line = doc.line_of(key)
            if line:
                out[key] = f"{path}:{line}"
    return out


def _shown_path(path: Path) -> str:
    """The profile's path as people type it: relative to the working folder when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- loading

#: Keys allowed at each place of a profile, for "did you mean" hints.
_MODELS: dict[str, type[BaseModel]] = {
    "": Profile, "page": PageType, "step": Step, "pagination": Pagination, "field": FieldSpec,
    "attributes": AttributeRows, "images": Images, "politeness": Politeness, "search": Search, "limits": Limits,
    "belongs_to": BelongsTo,
    "identity": Identity, "session": SessionSpec, "walls": Walls, "fill": Fill, "press": Press,
    "json": JsonSpec, "next": JsonNext, "capture": Capture, "seeds": Seeds,
}
#: What to write for a missing key.
_EXAMPLES = {
    "site": "site: myshop   (lower case letters, digits, - and _)",
    "name": "name: 某某商城",
    "start_urls": "start_urls: ['{base_url}/']",
    "pages": "pages: {home: {match: ['^/$'], follow: ['a.category']}}",
    "match": "match: ['^/item/\\d+\\.html$']",
    "next": "next: 'a.next'",
    "sel": "sel: 'h1.title'",
    "rows": "rows: 'table.attrs tr'",
    "url": "url: '{base_url}/search?q={query}'",
}


def _model_at(parent: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the mapping at ``parent`` (the path to the mapping holding a bad key)."""
    from crawler.browser_steps import ScrollOptions

    n = len(parent)
    if n == 0:
        return Profile
    if n == 1:
        return _MODELS.get(str(parent[0])) if parent[0] in ("politeness", "search", "limits", "identity", "session",
                                                             "walls", "seeds") else None
    if parent[0] == "session" and parent[1] == "steps":  # the login steps
        return Step if n == 3 else _MODELS.get(str(parent[3])) if n == 4 and parent[3] in ("fill", "press") else None
    if parent[0] != "pages":
        return None
    if n == 2:
        return PageType
    kind = parent[2]
    if n == 3:
        return _MODELS.get(str(kind)) if kind in ("pagination", "attributes", "images", "belongs_to", "json",
                                                  "capture") else None
    if n == 4:
        if kind == "json":
            return JsonNext if parent[3] == "next" else None
        return Step if kind == "steps" else FieldSpec if kind in ("fields", "belongs_to") else None
    if kind == "steps" and n == 5:
        return {"scroll_to_end": ScrollOptions, "fill": Fill, "press": Press}.get(str(parent[4]))
    return None


def _clean_loc(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """The error location as YAML keys: pydantic adds union member tags (``str``, ``FieldSpec`` ...)
    that are not in the file; a part that is not a key (or index) of the data there is dropped."""
    out: list[Any] = []
    node = data
    for i, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        elif isinstance(part, str) and (part[:1].isupper() or part in _TAGS or part.startswith("function-")) \
                and i < len(loc) - 1:
            continue  # a union member tag
        else:
            node = None
        out.append(part)
    return tuple(out)


_TAGS = {"str", "bool", "int", "float", "list", "dict"}


def _hint(err: dict[str, Any], loc: tuple[Any, ...]) -> str:
    key = loc[-1] if loc else ""
    if err["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(f.alias or name for name, f in model.model_fields.items()) if model else []
        close = difflib.get_close_matches(str(key), allowed, n=1)
        if key == "item":
            return "write `type: listing` or `type: shop`"
        if close:
            return f"did you mean {close[0]!r}?"
        return f"allowed here: {', '.join(allowed)}" if allowed else "remove it or check its spelling"
    if err["type"] == "missing":
        return f"add `{_EXAMPLES.get(str(key), str(key) + ': ...')}`"
    if err["type"] == "literal_error":
        return f"write one of: {err.get('ctx', {}).get('expected', '')}"
    return ""


_ERROR_ORDER = {"extra_forbidden": 0, "missing": 1, "value_error": 2, "literal_error": 3}


def load_profile(path: Path | str) -> Profile:
    """Load and validate one profile; raises :class:`SourceError` naming file and line."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise SourceError("a site profile is a mapping (site:, name:, start_urls:, pages:)",
                          SourceLocation(str(doc.path), 1))
    try:
        profile = Profile.model_validate(doc.data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: (_ERROR_ORDER.get(e["type"], 9), -len(e["loc"])))
        err = errors[0]
        loc = _clean_loc(tuple(err["loc"]), doc.data)
        what = ".".join(str(p) for p in loc)
        raise SourceError(f"{what}: {err['msg']}", SourceLocation(str(doc.path), doc.line_of(loc) or 0),
                          _hint(err, loc)) from exc
    problems = _semantic_problems(profile)
    if problems:
        loc, problem, hint = problems[0]
        raise SourceError(problem, SourceLocation(str(doc.path), doc.line_of(loc) or 0), hint)
    profile._lines = _source_lines(profile, doc)
    return profile


def find_profile(site: str) -> Profile:
    """The profile of ``site`` from the sites folder (crawler/sites/<site>.yml)."""
    path = sites_dir() / f"{site}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in sites_dir().glob("*.yml"))
        raise SourceError(f"no site profile {site!r}", SourceLocation(str(path)),
                          f"known sites: {', '.join(known) or 'none'}")
    return load_profile(path)
