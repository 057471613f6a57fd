"""Sub-pages: a page type whose fields fill another subject's record (``belongs_to`` in a site profile).

Real marketplaces show a shop's licence on its own 资质/亮照 page, a listing's parameters on a page of
their own. A page type declares which subject it belongs to::

    qualification:
      type: shop
      match: ['^/shop/\\d+/license$']
      belongs_to: {kind: shop, via: link}                         # the shop whose page linked here
      # or: belongs_to: {kind: shop, id: {sel: 'body::attr(data-shop)'}}   # an id read from the page
      fields: {license_text: 'div.license', license_number: 'span.uscc'}

How it works, end to end:

* **Spider** (:func:`link_parent`, :func:`owner_of`): a page of a subject hands its kind and id to the
  requests of ``via: link`` sub-pages (``request.meta["netsword_parent"]``); a sub-page's item gets that id
  (or the one read from the page), never one made from its URL. When a profile has sub-pages of a kind,
  every item of that kind is a *part* (``item.part`` = its page type, ``item.sub_page``).
* **Pipeline**: a part goes through normalize, pictures (OCR of a licence picture on the qualification page)
  and evidence like any item; the match stage leaves it alone; the store keeps it as one part of its
  subject (:meth:`Store.put_part`), not as a subject.
* **Assembly** (:func:`assemble_sweep`): when the sweep's pages are all in -- the store stage's last act
  before it closes the sweep record (:data:`pipelines.store.pipeline.sweep_ending`), or in a distributed
  sweep the worker that finds the sweep finished -- every subject with a part stored in this sweep is
  merged from all its stored parts (:func:`merge`: the subject's own page first, then its sub-pages, each
  field from the first page that has it), normalised, matched and saved; findings it no longer raises are
  resolved. So a shop whose licence is only on its qualification page never gets a false
  "licence not displayed", and an incremental sweep in which only one of the pages changed assembles the
  subject again from the changed part and the stored unchanged one.
* **Evidence**: each finding points at the page its field came from (:func:`repoint`): the qualification
  page for a licence finding, also when the licence is missing (the page where it should have been).

Stats: ``netsword/parts`` (parts stored), ``netsword/assembled/<kind>`` (subjects assembled),
``netsword/subpages/no_owner`` (sub-pages whose subject could not be told), ``netsword/subpages/not_followed``
(links to ``via: link`` sub-pages from pages of no subject of their kind), ``netsword/subpages/not_judged``
(subjects left unassembled because a sub-page failed and none of its kind was ever stored).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import fields as dc_fields
from typing import Any

from crawler.items import ListingItem, PageFields, PartFields, ShopItem
from crawler.profiles import BelongsTo, Profile

logger = logging.getLogger(__name__)

#: request.meta key: the subject whose page linked to this request (``{"kind": ..., "id": ...}``)
PARENT = "netsword_parent"

Subject = ListingItem | ShopItem
#: fields of the page itself, not of the subject: never merged from a sub-page
_PAGE_ONLY = frozenset(f.name for f in dc_fields(PageFields)) | frozenset(f.name for f in dc_fields(PartFields)) \
    | {"findings", "norm", "tokens", "kind", "image_urls", "images", "image_text", "history"}


# --------------------------------------------------------------------------- the spider's side


def link_parent(profile: Profile, request: Any, parent: tuple[str, str] | None) -> bool:
    """Give ``request`` its parent subject when its page type is a ``via: link`` sub-page of that kind. False:
    a ``via: link`` sub-page linked from a page of no such subject, which could not tell whose it is: not
    followed from here (its subject's page links to it; fetched from here, the duplicate filter would keep
    that link from being followed)."""
    match = profile.page_type(request.url)
    bt = match[1].belongs_to if match else None
    if bt is None or bt.via != "link":
        return True
    if parent is None or bt.kind != parent[0]:
        return False
    request.meta[PARENT] = {"kind": parent[0], "id": parent[1]}
    return True


def owner_of(response: Any, belongs_to: BelongsTo) -> str:
    """The id of the subject a sub-page belongs to: from the page (``id:``), or from the page that linked to it
    (``via: link``; a page reached again in a later sweep without its parent keeps the subject it had)."""
    if belongs_to.id is not None:
        from crawler.spiders.listing import extract_field

        return extract_field(response, belongs_to.id).strip()
    parent = response.meta.get(PARENT) or {}
    if parent.get("kind") == belongs_to.kind and parent.get("id"):
        return str(parent["id"])
    prev = response.meta.get("netsword_prev") or {}
    return prev.get("subject_id", "").partition(":")[2] if prev.get("subject_kind") == belongs_to.kind else ""


def no_owner_reason(belongs_to: BelongsTo) -> str:
    what = {"shop": "店铺", "listing": "商品"}[belongs_to.kind]
    if belongs_to.id is not None:
        spec = belongs_to.id if isinstance(belongs_to.id, str) else belongs_to.id.sel
        return (f"子页面找不到所属{what}: belongs_to.id 的选择器 {spec!r} 什么也没取到 "
                f"(no {belongs_to.kind} id on the page)")
    return (f"子页面找不到所属{what}: 不是从{what}页面的链接来的 (belongs_to via: link, but no {belongs_to.kind} page "
            f"linked here); 页面上若有编号，改用 belongs_to.id")


def note_failed(spider: Any, request: Any) -> None:
    """A ``via: link`` sub-page failed for good: remember whose, so that its subject is not judged on a partial
    record (a shop whose qualification page could not be fetched is not "licence not displayed")."""
    parent = request.meta.get(PARENT)
    page_type = request.meta.get("netsword_page_type", "")
    if parent and page_type and hasattr(spider, "failed_subpages"):
        spider.failed_subpages.add((parent["kind"], f"{spider.site}:{parent['id']}", page_type))


def subject_of(item: Any) -> tuple[str, str] | None:
    """(kind, id) of the subject an item (or an unchanged page) shows, for its links."""
    if isinstance(item, ListingItem):
        return ("listing", item.listing_id) if item.listing_id else None
    if isinstance(item, ShopItem):
        return ("shop", item.shop_id) if item.shop_id else None
    kind, subject_id = getattr(item, "subject_kind", ""), getattr(item, "subject_id", "")
    return (kind, subject_id.partition(":")[2]) if kind and subject_id else None


def store_problem(profile: Profile, store_url: str) -> str:
    """Why ``store_url`` cannot take a sweep of ``profile`` (sub-pages need a store that keeps parts), or ""."""
    if not any(profile.has_subpages(kind) for kind in ("shop", "listing")):
        return ""
    scheme = str(store_url).split("://", 1)[0] if "://" in str(store_url) else "sqlite"
    if scheme == "sqlite":
        return ""
    from netsword.config import sites_dir

    path = sites_dir() / f"{profile.site}.yml"
    return (f"{path}: 站点配置有子页面 (belongs_to)，但 {scheme} 存储还不能保存子页面；请用 SQLite 存储 "
            f"(NETSWORD_STORE=sqlite:///...) / sub-pages (belongs_to) need a store that keeps subject parts: "
            f"SQLite so far, not {scheme}")


def sweep_tokens(settings: Any) -> bool:
    """Whether assembled subjects get jieba tokens, as the normalize stage decides (``NORMALIZE_TOKENS``)."""
    from pipelines.normalize import tokens_wanted

    return tokens_wanted(settings.get("NORMALIZE_TOKENS", "auto"), settings.get("STORE_URL", ""))


# --------------------------------------------------------------------------- merging


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value == {} or value == []


def merge(parts: list[Subject], sweep_id: str) -> tuple[Subject, dict[str, Subject]]:
    """The subject from its parts: its own page(s) first (newest first), then its sub-pages by page type; each
    field from the first part that has it. Pictures of all parts, in that order. Returns the subject and
    where each non-empty field came from (field -> part)."""
    order = sorted(parts, key=lambda p: (p.sub_page, p.part, "" if not p.fetched_at else _desc(p.fetched_at)))
    base = order[0]
    item = copy.deepcopy(base)
    sources: dict[str, Subject] = {}
    names = [f.name for f in dc_fields(item) if f.init and f.name not in _PAGE_ONLY]
    for name in names:
        for part in order:
            value = getattr(part, name, None)
            if not _empty(value):
                if part is not base:
                    setattr(item, name, copy.deepcopy(value))
                sources[name] = part
                break
    if isinstance(item, ListingItem):
        attrs: dict[str, str] = {}
        for part in reversed(order):
            attrs.update(part.attributes or {})
        item.attributes = attrs
    item.image_urls = {}
    item.images = []
    for part in order:
        for role, urls in (part.image_urls or {}).items():
            item.image_urls.setdefault(role, []).extend(urls)
        item.images.extend(copy.deepcopy(part.images or []))
    item.history = dict(base.history) if isinstance(base, ListingItem) else {}
    item.part, item.sub_page = "", False
    item.findings, item.norm, item.tokens = [], {}, []
    item.sweep_id = sweep_id
    item.fetched_at = max(p.fetched_at for p in parts)
    return item, sources


def _desc(text: str) -> str:
    """A sort key that puts later ISO times first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


def repoint(item: Subject, parts: list[Subject], sources: dict[str, Subject]) -> None:
    """Each finding's URL and snapshot: the page its field came from; a field no page has (a licence not shown)
    points at the sub-page where it belongs (the qualification page), else the subject's own page."""
    from crawler.items import image_hit

    subs = sorted((p for p in parts if p.sub_page), key=lambda p: p.part)
    for f in item.findings:
        part = sources.get(f.field)
        if f.field == "image_text" and item.images:
            hit = image_hit(item.images, f.start, f.end)
            part = next((p for p in parts if hit and any(i.get("url") == hit["url"] for i in p.images)), part)
        if part is None and subs:
            part = subs[0]
        if part is not None:
            f.url, f.snapshot_sha256 = part.url, part.html_sha256


# --------------------------------------------------------------------------- assembly


def assemble_sweep(store: Any, sweep_id: str, ruleset: Any, *, tokens: bool = True, stats: Any = None,
                   on_item: Callable[[Subject], None] | None = None,
                   failed: set[tuple[str, str, str]] | None = None) -> int:
    """Assemble, match and save every subject with a part stored in ``sweep_id``; returns how many.
    ``on_item``: called with each saved subject (the progress line counts its findings). ``failed``: (kind,
    subject id, page type) of sub-pages that could not be fetched: a subject missing such a part (none stored,
    in no sweep) is left unassembled, its parts kept for the next sweep, rather than judged without it."""
    from netsword.clock import utc_now
    from pipelines.images.text import assemble as picture_text
    from pipelines.normalize import NormalizePipeline

    normalize = NormalizePipeline(tokens=tokens)
    done = 0
    for kind, subject_id in store.part_subjects(sweep_id):
        parts = store.parts(kind, subject_id)
        if not parts:
            continue
        missing = sorted({t for k, s, t in failed or () if (k, s) == (kind, subject_id)} - {p.part for p in parts})
        if missing:
            logger.warning("%s %s not judged in sweep %s: its sub-page (%s) could not be fetched; 子页面抓取失败，"
                           "本轮不判定该%s", kind, subject_id, sweep_id, ", ".join(missing),
                           {"shop": "店铺", "listing": "商品"}[kind])
            if stats is not None:
                stats.inc_value("netsword/subpages/not_judged")
            continue
        item, sources = merge(parts, sweep_id)
        normalize.process_item(item)
        if item.images:
            picture_text(item)  # image_text, its normal form and each line's offsets over all parts' pictures
        item.findings = ruleset.match(item)
        repoint(item, parts, sources)
        store.save(item, resolve=False)
        store.resolve_findings(item.subject_id, [f.finding_id for f in item.findings], kind=kind, at=utc_now(),
                               sweep_id=sweep_id)
        done += 1
        if on_item is not None:
            on_item(item)
        if stats is not None:
            stats.inc_value(f"netsword/assembled/{kind}")
            stats.inc_value(f"netsword/{kind}s")
            stats.inc_value("netsword/findings", len(item.findings))
            stats.inc_value("match/items")
            for f in item.findings:
                stats.inc_value("match/findings")
                stats.inc_value(f"match/hits/{f.category}")
    if done:
        logger.info("sweep %s: %d subjects assembled from their pages (sub-pages merged)", sweep_id, done)
    return done


def ruleset_of(crawler: Any) -> Any:
    """The match stage's rule set (already loaded), else one loaded from the settings."""
    from pipelines.match import MatchPipeline, RuleSet

    proc = getattr(getattr(getattr(crawler, "engine", None), "scraper", None), "itemproc", None)
    for mw in getattr(proc, "middlewares", ()):
        if isinstance(mw, MatchPipeline) and mw.ruleset is not None:
            return mw.ruleset
    s = crawler.settings
    return s.get("MATCH_RULESET") or RuleSet.load(s.get("MATCH_RULES_DIR") or None,
                                                  include_test=s.getbool("MATCH_INCLUDE_TEST", False))


class SubjectAssembly:
    """Extension: assembles the sweep's subjects with sub-pages when the store stage is about to close the
    sweep record (a one-process sweep; a distributed sweep assembles in :mod:`crawler.distributed.worker`)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> SubjectAssembly:
        from pipelines.store.pipeline import sweep_ending

        ext = cls(crawler)
        crawler.signals.connect(ext.sweep_ending, signal=sweep_ending)
        return ext

    def sweep_ending(self, store: Any, spider: Any) -> None:
        profile = getattr(spider, "profile", None)
        if profile is None or getattr(spider, "distributed", False):
            return
        if not any(profile.has_subpages(kind) for kind in ("shop", "listing")):
            return
        from crawler.progress import ProgressLog

        progress = [ext for ext in getattr(self.crawler.extensions, "middlewares", ()) if isinstance(ext, ProgressLog)]

        def counted(item: Subject) -> None:  # the progress line and the sweep's summary count it and its findings
            for ext in progress:
                ext.item_scraped(item)

        assemble_sweep(store, spider.sweep_id, ruleset_of(self.crawler),
                       tokens=sweep_tokens(self.crawler.settings), stats=self.crawler.stats,
                       on_item=counted, failed=getattr(spider, "failed_subpages", None))
