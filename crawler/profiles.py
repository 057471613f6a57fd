"""Site profiles (crawler/sites/*.yml): validated on load, errors point to file:line.

A profile says, for one site, where to start, which page types exist (matched by URL
regex), which links to follow from each, which fields to extract with CSS or XPath, and
which page types need a browser (``render: browser``).
"""

from __future__ import annotations

import re
from dataclasses import fields as dc_fields
from functools import cached_property
from pathlib import Path
from typing import Literal

from parsel import Selector
from parsel.csstranslator import HTMLTranslator
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawler.config import sites_dir
from crawler.items import ListingItem, ShopItem
from crawler.yaml_source import SourceError, load_yaml

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
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"bad regex {v!r}: {exc}") from exc
        return v


class PageType(_Strict):
    match: list[str] = Field(min_length=1, description="regexes on the URL path and query")
    item: Literal["listing", "shop", "none"] = "none"
    render: Literal["http", "browser"] = "http"
    wait_for: str | None = None  # CSS selector the browser waits for (render: browser)
    follow: list[str] = Field(default_factory=list)  # CSS selectors of links to follow
    fields: dict[str, str | FieldSpec] = Field(default_factory=dict)
    attributes: AttributeRows | None = None

    @field_validator("match")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from exc
        return v

    @cached_property
    def patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.match]


class Politeness(_Strict):
    obey_robots: bool = True
    concurrency: int = Field(8, ge=1, le=64)
    delay: float = Field(0.25, ge=0)


class Profile(_Strict):
    site: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    platform: str = ""
    base_url: str = ""
    start_urls: list[str] = Field(min_length=1)
    allowed_domains: list[str] = Field(default_factory=list)
    politeness: Politeness = Field(default_factory=Politeness)
    pages: dict[str, PageType] = Field(min_length=1)

    def page_type(self, url: str) -> tuple[str, PageType] | None:
        """The first page type whose pattern matches the URL's path and query."""
        path = _path_and_query(url)
        for name, page in self.pages.items():
            if any(p.search(path) for p in page.patterns):
                return name, page
        return None

    def resolved_start_urls(self, base_url: str | None = None) -> list[str]:
        base = (base_url or self.base_url).rstrip("/")
        return [u.replace("{base_url}", base) for u in self.start_urls]


def _path_and_query(url: str) -> str:
    m = re.match(r"^[a-z]+://[^/]+", url)
    return url[m.end():] or "/" if m else url


def selector_problem(selector: str) -> str | None:
    """Why a field selector cannot work, or None."""
    try:
        if selector.startswith("xpath:"):
            Selector(text="<html></html>").xpath(selector[6:])
        else:
            _CSS.css_to_xpath(selector)
    except Exception as exc:
        return f"bad selector {selector!r}: {exc}"
    return None


def _semantic_problems(profile: Profile) -> list[tuple[tuple, str, str]]:
    problems: list[tuple[tuple, str, str]] = []
    for name, page in profile.pages.items():
        loc = ("pages", name)
        if page.item == "none" and page.fields:
            hint = "add `item: listing` or `item: shop`"
            problems.append(((*loc, "fields"), "fields on a page without an item", hint))
        if page.item != "none":
            known = _ITEM_FIELDS[page.item]
            for field_name in page.fields:
                if field_name not in known:
                    close = sorted(f for f in known if f[:3] == field_name[:3])
                    hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(sorted(known))}"
                    problems.append(((*loc, "fields", field_name), f"unknown {page.item} field {field_name!r}", hint))
        selectors = [("follow", i, s) for i, s in enumerate(page.follow)]
        selectors += [("fields", k, s if isinstance(s, str) else s.sel) for k, s in page.fields.items()]
        if page.wait_for:
            selectors.append(("wait_for", None, page.wait_for))
        for key, sub, sel in selectors:
            why = selector_problem(sel)
            if why:
                problems.append(((*loc, key) if sub is None else (*loc, key, sub), why, "CSS like `h1.title` or `xpath://h1`"))
    return problems


def load_profile(path: Path | str) -> Profile:
    """Load and validate one profile; raises :class:`SourceError` naming file and line."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise SourceError(doc.path, 1, "a site profile is a mapping (site:, name:, start_urls:, pages:)")
    try:
        profile = Profile.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        hint = "remove it or check its spelling" if err["type"] == "extra_forbidden" else ""
        what = ".".join(str(p) for p in loc)
        raise SourceError(doc.path, doc.line_of(loc), f"{what}: {err['msg']}", hint) from exc
    problems = _semantic_problems(profile)
    if problems:
        loc, problem, hint = problems[0]
        raise SourceError(doc.path, doc.line_of(loc), problem, hint)
    return profile


def find_profile(site: str) -> Profile:
    """The profile of ``site`` from the sites folder (crawler/sites/<site>.yml)."""
    path = sites_dir() / f"{site}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in sites_dir().glob("*.yml"))
        raise SourceError(path, None, f"no site profile {site!r}", f"known sites: {', '.join(known) or 'none'}")
    return load_profile(path)
