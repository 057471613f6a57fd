"""``netsword profile test SITE``: a profile against saved pages (fixtures), without network.

Fixtures live next to the profile, in ``<sites>/<site>.fixtures/``: one file per page (HTML as fetched, or
as rendered for ``render: browser`` pages; JSON for JSON pages) and ``fixtures.yml`` saying, for each page,
its URL and what it must give::

    pages:
      - file: listing-L0001.html
        url: '{base_url}/item/L0001.html'     # {base_url}: any; the page type matches the path
        page_type: listing
        ids: {listing_id: L0001, shop_id: S01}
        filled: [title, price_text, shop_name] # must not be empty (default: the page type's `required`)
        values: {title: 'Nike 高仿 运动鞋'}       # exact values (whitespace at the ends ignored)
        findings: [adv.absolute-terms]         # rules that must fire (others may fire too)
        links: 3                               # at least this many links followed (follow + pagination)
        subject: 'shop S01'                    # belongs_to pages: the subject, as `profile check` shows it

Each page goes through the sweep's own spider code (page type, selectors, ids, the no-title check) and the
rule packs as the pipeline runs them; a browser page's ``wait_for`` selectors must match the saved page.
``netsword profile fixture SITE URL`` fetches a live page and adds it here with what it gives now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crawler.profiles import Profile, _shown_path, find_profile
from netsword.config import sites_dir
from netsword.yamlsource import SourceError, SourceLocation, load_yaml

MANIFEST = "fixtures.yml"
_ANY_BASE = "http://127.0.0.1"


class FixturePage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    url: str
    page_type: str | None = None
    ids: dict[str, str] = Field(default_factory=dict)
    filled: list[str] | None = None
    values: dict[str, str] = Field(default_factory=dict)
    findings: list[str] = Field(default_factory=list)
    links: int | None = Field(None, ge=0)
    subject: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = ""
    pages: list[FixturePage] = Field(default_factory=list)


@dataclass
class PageResult:
    file: str
    url: str
    where: str  # fixtures.yml:line
    page_type: str = ""
    checks: int = 0  # expectations checked
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class FixtureReport:
    site: str
    folder: str
    pages: list[PageResult] = field(default_factory=list)
    problem: str = ""  # nothing to test (no folder, no pages)

    @property
    def ok(self) -> bool:
        return not self.problem and all(p.ok for p in self.pages)

    @property
    def failed(self) -> int:
        return sum(not p.ok for p in self.pages)


def fixtures_dir(site: str) -> Path:
    return sites_dir() / f"{site}.fixtures"


def load_manifest(folder: Path) -> tuple[Manifest, Any]:
    """The manifest and its parsed YAML (for lines); a bad manifest raises SourceError naming file:line."""
    path = folder / MANIFEST
    doc = load_yaml(path)
    try:
        return Manifest.model_validate(doc.data or {}), doc
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise SourceError(f"{'.'.join(map(str, loc))}: {err['msg']}", SourceLocation(str(path), doc.line_of(loc) or 0),
                          "keys of a page: " + ", ".join(FixturePage.model_fields)) from exc


def run_fixtures(site: str, *, profile: Profile | None = None, folder: Path | None = None) -> FixtureReport:
    """Parse every fixture page of ``site`` with its profile and check what the manifest expects."""
    profile = profile or find_profile(site)
    folder = folder or fixtures_dir(site)
    report = FixtureReport(site, _shown_path(folder))
    if not (folder / MANIFEST).is_file():
        report.problem = (f"没有样本页面 / no fixtures: {report.folder}/{MANIFEST} 不存在；用 netsword profile fixture "
                          f"{site} URL 保存页面 / save pages with `netsword profile fixture {site} URL`")
        return report
    manifest, doc = load_manifest(folder)
    if not manifest.pages:
        report.problem = f"{report.folder}/{MANIFEST} 没有列出页面 / lists no pages"
        return report
    spider = _offline_spider(profile)
    logging.getLogger(spider.name).setLevel(logging.ERROR)  # what broke is in the report, not in log lines
    ruleset = _ruleset()
    base = (manifest.base_url or profile.base_url or _ANY_BASE).rstrip("/")
    for i, page in enumerate(manifest.pages):
        where = f"{_shown_path(doc.path)}:{doc.line_of(('pages', i)) or 0}"
        result = PageResult(page.file, page.url.replace("{base_url}", base), where)
        try:
            _check_page(spider, ruleset, folder, page, result)
        except Exception as exc:  # one bad page never hides the others
            result.problems.append(f"解析出错 / parsing failed: {type(exc).__name__}: {exc}")
        report.pages.append(result)
    return report


def _offline_spider(profile: Profile) -> Any:
    """The sweep's spider, with a crawler (stats, settings) but no engine: its callbacks run on saved pages."""
    from scrapy.settings import Settings
    from scrapy.utils.test import get_crawler

    from crawler.spiders.listing import ListingSpider

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    crawler = get_crawler(ListingSpider, {k: settings[k] for k in ("NETSWORD_MAX_FIELD_CHARS", "LOG_LEVEL")})
    spider = ListingSpider(site=profile.site, profile=profile, sweep_id=f"{profile.site}-fixtures")
    spider._set_crawler(crawler)
    return spider


def _ruleset() -> Any:
    from pipelines.match import RuleSet

    return RuleSet.load()


def _response(url: str, body: bytes, file: str, page_type: str) -> Any:
    import scrapy
    from scrapy.http import HtmlResponse
    from scrapy.responsetypes import responsetypes

    cls = responsetypes.from_args(filename=file, url=url, body=body)
    if cls is scrapy.http.Response:
        cls = HtmlResponse
    request = scrapy.Request(url, meta={"netsword_page_type": page_type, "netsword_page_no": 1})
    return cls(url=url, body=body, request=request)


def _check_page(spider: Any, ruleset: Any, folder: Path, exp: FixturePage, r: PageResult) -> None:
    import scrapy

    from crawler.fillrate import filled, required_fields
    from crawler.profile_check import page_findings, subject_of
    from crawler.spiders.listing import extract_fields

    path = folder / exp.file
    if not path.is_file():
        r.problems.append(f"样本文件不存在 / fixture file missing: {exp.file}")
        return
    match = spider.profile.page_type(r.url)
    r.checks += 1
    if match is None:
        r.problems.append(f"没有页面类型匹配这个网址 / no page type matches {urlsplit(r.url).path}")
        return
    name, page = match
    r.page_type = name
    if exp.page_type is not None and exp.page_type != name:
        r.problems.append(f"页面类型应为 {exp.page_type}，实为 {name} / page type {name}, expected {exp.page_type}")
    response = _response(r.url, path.read_bytes(), exp.file, name)
    where_page = spider.profile.where("pages", name)
    if page.render == "browser":
        from crawler.waitfor import step_places

        for step in step_places(spider.profile, name):
            r.checks += 1
            if not _count(response, step["selector"]):
                r.problems.append(f"wait_for {step['selector']!r}（{step['where']}）在保存的页面中没有匹配："
                                  f"扫描时会等待超时 / matches nothing in the saved page: a sweep would time out")
    out = list(spider.parse(response))
    links = [o for o in out if isinstance(o, scrapy.Request)]
    items = [o for o in out if not isinstance(o, scrapy.Request)]
    if exp.links is not None:
        r.checks += 1
        if len(links) < exp.links:
            sels = ", ".join(repr(s) for s in page.follow) or "(none)"
            r.problems.append(f"跟进链接只有 {len(links)} 个，应至少 {exp.links} 个 / {len(links)} links followed, "
                              f"expected at least {exp.links} (follow: {sels}; {where_page})")
    item = items[0] if items else None
    if page.item == "none":
        return
    if item is None or getattr(item, "kind", None) != page.item:
        r.checks += 1
        sel = page.fields.get("title")
        sel = getattr(sel, "sel", sel)
        r.problems.append(f"不会保存为{'商品' if page.item == 'listing' else '店铺'}：没有标题（title 选择器 {sel!r} "
                          f"没有取到值，{spider.profile.where('pages', name, 'fields', 'title') or where_page}） / "
                          f"not stored as a {page.item}: no title")
        item = None
    values = extract_fields(response, page)
    for req in (exp.filled if exp.filled is not None else required_fields(page)):
        r.checks += 1
        if not filled(values, req):
            r.problems.append(_empty(spider.profile, name, req))
    if item is None:
        return
    for key, want in exp.ids.items():
        r.checks += 1
        got = str(getattr(item, key, "") or "")
        if got != want:
            r.problems.append(f"{key} 应为 {want!r}，实为 {got!r} / {key} is {got!r}, expected {want!r}")
    for key, want in exp.values.items():
        r.checks += 1
        got = getattr(item, key, None)
        got = "" if got is None else str(got).strip()
        if got != want.strip():
            r.problems.append(f"字段 {key} 应为 {want!r}，实为 {got!r} / field {key} is {got!r}, expected {want!r}"
                              + _at(spider.profile, name, key))
    if exp.subject is not None:
        r.checks += 1
        got = subject_of(response, page)
        if got.strip() != exp.subject.strip():
            r.problems.append(f"所属主体应为 {exp.subject!r}，实为 {got!r} / belongs to {got!r}, "
                              f"expected {exp.subject!r}")
    if exp.findings:
        found = {f.rule_id for f in page_findings(item, ruleset)}
        for rule_id in exp.findings:
            r.checks += 1
            if rule_id not in found:
                r.problems.append(f"应产生问题线索 {rule_id}，没有产生 / finding {rule_id} expected, not raised"
                                  f"（产生的 / raised: {', '.join(sorted(found)) or '无 / none'}）")


def _empty(profile: Profile, page_name: str, requirement: str) -> str:
    page = profile.pages[page_name]
    sels = []
    for n in requirement.split("|"):
        spec = page.fields.get(n)
        if spec is not None:
            sels.append(f"{n}: {getattr(spec, 'sel', spec)!r}" + _at(profile, page_name, n))
    return (f"必填字段 {requirement} 为空 / required field {requirement} is empty"
            + (f"（选择器 / selector {'; '.join(sels)}）" if sels else ""))


def _at(profile: Profile, page_name: str, field_name: str) -> str:
    where = profile.where("pages", page_name, "fields", field_name)
    return f" {where}" if where else ""


def _count(response: Any, selector: str) -> int:
    nodes = response.xpath(selector[6:]) if selector.startswith("xpath:") else response.css(selector)
    return len(nodes)


# --------------------------------------------------------------------------- saving a live page


def save_fixture(site: str, url: str, result: Any, *, name: str | None = None, folder: Path | None = None) -> Path:
    """Save a page fetched by ``profile check`` (``result``: its CheckResult) as a fixture, with what it gives
    now as the expectations; returns the saved file. An existing file of that name is replaced, its
    manifest entry kept."""
    folder = folder or fixtures_dir(site)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".json" if result.body[:1] in (b"{", b"[") else ".html"
    ident = next((v for v, _src in result.ids.values() if v), "") if result.ids else ""
    stem = name or (f"{result.page_type}-{ident}" if ident else urlsplit(result.final_url).path.strip("/")
                    or result.page_type)
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).strip("-")[:80] or "page"
    path = folder / (stem if stem.endswith((".html", ".json")) else stem + ext)
    path.write_bytes(result.body)
    parts = urlsplit(result.final_url)
    entry: dict[str, Any] = {"file": path.name,
                             "url": "{base_url}" + (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                             "page_type": result.page_type}
    extracted = result.extracted
    if result.ids and getattr(extracted, "kind", None) in ("listing", "shop"):
        entry["ids"] = {k: v for k, (v, _src) in result.ids.items() if v}
        entry["filled"] = [f.name for f in result.fields if f.value]
        title_field = "title" if extracted.kind == "listing" else "name"
        if getattr(extracted, title_field, ""):
            entry["values"] = {title_field: str(getattr(extracted, title_field)).strip()}
        if result.findings:
            entry["findings"] = sorted({f.rule_id for f in result.findings})
    if result.subject:
        entry["subject"] = result.subject
    links = sum(r.matches for r in result.links if r.name == "follow")
    if links:
        entry["links"] = links
    manifest = folder / MANIFEST
    if manifest.is_file():
        existing, _doc = load_manifest(folder)
        if any(p.file == path.name for p in existing.pages):
            return path
        text = manifest.read_text(encoding="utf-8")
    else:
        text = (f"# netsword profile test {site}: pages saved by `netsword profile fixture`, and what each must give\n"
                "# (keys: file, url, page_type, ids, filled, values, findings, links, subject;\n"
                "#  see crawler/profile_test.py)\n"
                "pages:\n")
    block = yaml.safe_dump([entry], allow_unicode=True, sort_keys=False, width=200)
    text = text.rstrip("\n") + "\n" + "".join(f"  {line}\n" for line in block.splitlines())
    manifest.write_text(text, encoding="utf-8")
    return path
