"""The one schema every stage uses: what a spider yields and what a Store keeps.

Spiders fill the *page* fields; ``pipelines.normalize`` fills ``price``,
``original_price``, ``currency``, ``norm`` and ``tokens``; ``pipelines.match``
appends :class:`Finding` objects; ``pipelines.evidence`` fills the snapshot fields.
Items are plain dataclasses (Scrapy handles them through itemadapter).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SubjectKind = Literal["listing", "shop"]

#: Rows of the campaign statistics form (情况统计表, 按主要违法行为问题分类), in form order.
CATEGORIES: tuple[str, ...] = (
    "网络销售假冒伪劣商品",
    "电子商务平台未履行平台义务",
    "电子商务经营者未履行市场主体公示义务",
    "无证生产电子商务产品",
    "缺乏资质经营食品",
    "网络销售非法添加滥添加食品",
    "互联网不正当竞争",
    "不正当价格行为",
    "虚假违法互联网广告",
    "侵害网络消费者合法权益",
    "侵害公民个人信息",
    "合同违法违规",
    "网络销售禁售限售物品",
    "其他",
)

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


@dataclass
class Finding:
    """One rule hit on one listing or shop, with the evidence that explains it."""

    rule_id: str
    rule_version: str
    pack: str
    title: str
    category: str
    severity: str
    basis: str
    subject_kind: SubjectKind
    subject_id: str  # "<site>:<listing_id>" or "<site>:<shop_id>"
    site: str
    shop_id: str
    url: str
    field: str  # which field the evidence is in ("title", "license", ...)
    matched: list[str] = field(default_factory=list)  # matched terms as found in the text
    snippet: str = ""  # normalised text around the hit, the hit in 【】
    start: int = -1  # offsets of the hit in the normalised field text
    end: int = -1
    deobfuscated: list[str] = field(default_factory=list)  # e.g. ["separators removed: 高*仿"]
    snapshot_sha256: str = ""
    sweep_id: str = ""
    found_at: str = ""  # ISO 8601 UTC

    @property
    def finding_id(self) -> str:
        """Stable id: the same subject and rule always give the same finding."""
        return finding_id(self.subject_kind, self.subject_id, self.rule_id)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["finding_id"] = self.finding_id
        return d


def finding_id(subject_kind: str, subject_id: str, rule_id: str) -> str:
    raw = f"{subject_kind}|{subject_id}|{rule_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:20]


@dataclass
class PageFields:
    """Fields every fetched page carries (filled by the spider and the evidence stage)."""

    url: str = ""
    site: str = ""
    sweep_id: str = ""
    status: int = 0
    fetched_at: str = ""  # ISO 8601 UTC, when the response arrived
    rendered: bool = False  # True when fetched through the browser
    html_sha256: str = ""  # sha256 of the HTML bytes as received / rendered
    html_path: str = ""  # content-addressed snapshot (gzip), relative to the evidence root
    html: bytes = field(default=b"", repr=False)  # the page body; the evidence stage stores it, then empties it
    requested_url: str = ""  # the URL asked for, when redirects ended elsewhere ("" = same as url)
    etag: str = ""  # validators the server sent: the next sweep asks "changed since?" with them
    last_modified: str = ""
    screenshot_sha256: str = ""  # full-page PNG (every browser page; listings with findings)
    screenshot_path: str = ""  # relative to the evidence root
    # JSON the page's own XHR/fetch calls received (``capture:``, crawler.capture): url, status, content_type,
    # fetched_at, sha256, path (content-addressed like the snapshot); the evidence stage stores each ``body``
    # and drops it from the item
    captures: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PictureFields:
    """Pictures of a listing or shop (filled by ``pipelines.images``; URLs by the spider from the profile).

    ``images``: one dict per picture, in page order: ``role`` (main | detail | license), ``url``, ``status``
    (ok | failed | too_small | skipped), ``sha256`` and ``path`` (content-addressed under the evidence root),
    ``width``, ``height``, ``bytes``, ``phash`` (perceptual hash, hex), ``ocr`` (done | cached | off | failed),
    ``lines``: ``[{text, box: [x0, y0, x1, y1], score, start, end}]`` where start/end are the line's offsets in
    the normalised ``image_text`` (``norm["image_text"]``, what rules see)."""

    image_urls: dict[str, list[str]] = field(default_factory=dict)  # role -> absolute URLs, page order
    images: list[dict[str, Any]] = field(default_factory=list)
    image_text: str = ""  # every picture's recognised lines, one per line, pictures in page order


def image_hit(images: list[dict[str, Any]], start: int, end: int = -1) -> dict[str, Any] | None:
    """The picture and line holding offsets ``start``..``end`` of the normalised ``image_text``:
    ``{"sha256", "url", "path", "role", "box", "text", "width", "height"}``, or None."""
    for img in images:
        for line in img.get("lines") or ():
            if line.get("start", -1) <= start < line.get("end", -1) + 1:
                return {"sha256": img.get("sha256", ""), "url": img.get("url", ""), "path": img.get("path", ""),
                        "role": img.get("role", ""), "box": list(line.get("box") or []), "text": line.get("text", ""),
                        "width": img.get("width", 0), "height": img.get("height", 0)}
    return None


@dataclass
class PartFields:
    """One page of a subject that has several pages (a shop home page and its 资质/亮照 page, see
    :mod:`crawler.subpages`): ``part`` is the page type the item came from ("" = the item is the whole
    subject, stored as it comes); ``sub_page``: that page type declares ``belongs_to`` (its fields fill the
    subject's record). The store keeps each part; the subject is their merge, matched once all are in."""

    part: str = ""
    sub_page: bool = False


@dataclass
class PageItem(PageFields):
    """A fetched page that is not a listing or shop (home, category, search): kept as evidence only."""

    page_type: str = ""
    kind: str = "page"


@dataclass
class UnchangedPage(PageFields):
    """A page the server (304) or its content hash shows unchanged since the last sweep: not parsed
    again; the store marks its subject as seen in this sweep. Its evidence is the earlier snapshot."""

    page_type: str = ""
    subject_kind: str = ""  # "listing" | "shop" | "" (a page without a subject)
    subject_id: str = ""
    kind: str = "unchanged"


@dataclass
class ListingItem(PartFields, PictureFields, PageFields):
    """A product listing (商品详情页)."""

    listing_id: str = ""
    shop_id: str = ""
    shop_url: str = ""
    shop_name: str = ""
    title: str = ""
    price_text: str = ""  # as shown, e.g. "¥1,299.00"
    original_price_text: str = ""  # struck-through "original" price as shown (划线价)
    category: str = ""  # the site's own category label, e.g. "食品保健"
    description: str = ""
    promo: str = ""  # promotion banners, coupons
    service: str = ""  # after-sales / return policy text on the listing
    attributes: dict[str, str] = field(default_factory=dict)
    # filled by pipelines.normalize
    price: float | None = None
    original_price: float | None = None
    currency: str | None = None
    norm: dict[str, str] = field(default_factory=dict)  # field -> normalised text
    tokens: list[str] = field(default_factory=list)  # jieba tokens of title + description
    # filled by pipelines.history from earlier sweeps (e.g. prev_price, max_price_30d): numbers for `when:` rules
    history: dict[str, float] = field(default_factory=dict)
    # filled by pipelines.match
    findings: list[Finding] = field(default_factory=list)

    kind: SubjectKind = "listing"

    @property
    def subject_id(self) -> str:
        return f"{self.site}:{self.listing_id}"


@dataclass
class ShopItem(PartFields, PictureFields, PageFields):
    """A shop home page (店铺首页), where E-Commerce Law art. 15 wants the licence shown."""

    shop_id: str = ""
    name: str = ""
    operator: str = ""  # 经营者名称 as shown
    license_text: str = ""  # all text of the licence block, if any
    license_number: str = ""  # USCC / registration number as shown
    license_image: str = ""  # URL of a licence image, if any
    # read from the licence image by pipelines.images: ok (a valid USCC read) | invalid (a number that fails its
    # check) | unreadable (no number read) | "" (no licence image, or not read)
    license_image_status: str = ""
    license_image_number: str = ""  # the USCC read from the licence image
    license_image_name: str = ""  # 名称 read from the licence image
    food_license: str = ""  # 食品经营许可证 / 生产许可证 number as shown
    phone: str = ""
    address: str = ""
    description: str = ""  # shop introduction, main business
    service: str = ""  # shop-wide after-sales / return policy text
    notices: str = ""  # announcements, terms (公告, 活动规则)
    listing_count: int = 0
    # filled by pipelines.normalize / matcher
    norm: dict[str, str] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    kind: SubjectKind = "shop"

    @property
    def subject_id(self) -> str:
        return f"{self.site}:{self.shop_id}"


Item = ListingItem | ShopItem

#: Text fields rules may look in, per subject kind.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "listing": ("title", "description", "promo", "service", "category", "price_text", "original_price_text",
                "image_text"),
    "shop": ("name", "operator", "license_text", "license_number", "food_license", "description", "service", "notices",
             "image_text"),
}
