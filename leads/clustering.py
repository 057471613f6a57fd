"""Seller clustering: shops that share a licence number, phone, address or picture are one operator group.

Explainable by construction: every link names the two shops, the field and the shared
value (``Link``), so an analyst can check it on the shop pages. Values are compared after
a light clean-up (``normalise_value``): NFKC, case, spaces and punctuation; phone numbers
by their digits without the +86 prefix. A value shared by more than ``max_share`` shops
(a platform hotline, a mall's address) links nothing and is listed in ``too_common``.

Pictures: shops whose listings show the same picture to the eye (the same perceptual hash,
``pipelines.images``: a photo scaled or saved again keeps it) are linked too; the link names the
hash and keeps one copy of the picture (``Link.image``, its path in the evidence) to show.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from crawler.items import ShopItem

#: Shop fields that link shops, with their label for analysts.
LINK_FIELDS: dict[str, str] = {"license_number": "统一社会信用代码/执照号", "phone": "联系电话", "address": "经营地址"}
#: the picture link (not a shop field: from the shops' listings' pictures)
PICTURE_FIELD, PICTURE_LABEL = "image_phash", "商品图片（感知哈希相同）"
_MIN_LEN = {"license_number": 8, "phone": 7, "address": 6}
_NOT_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")


def normalise_value(kind: str, value: str) -> str:
    """The comparable form of a licence number, phone or address; "" when too short to link anything."""
    text = unicodedata.normalize("NFKC", value or "").upper()
    if kind == "phone":
        text = "".join(_DIGITS.findall(text))
        for prefix in ("0086", "86"):
            if text.startswith(prefix) and len(text) - len(prefix) >= 10:
                text = text[len(prefix):]
                break
    else:
        text = _NOT_WORD.sub("", text)
    if len(text) < _MIN_LEN[kind] or len(set(text)) < 3:  # "00000000" or "1111111" links nothing
        return ""
    return text


@dataclass(frozen=True)
class Link:
    """Two shops (subject ids) share ``value`` (as shown on ``a``) in ``field``."""

    a: str
    b: str
    field: str
    value: str
    image: str = ""  # the shared picture's path in the evidence (picture links)

    @property
    def label(self) -> str:
        return PICTURE_LABEL if self.field == PICTURE_FIELD else LINK_FIELDS.get(self.field, self.field)


@dataclass
class OperatorGroup:
    group_id: str  # the smallest member id: stable while the group keeps that member
    members: list[str]
    links: list[Link]


@dataclass
class Clustering:
    groups: list[OperatorGroup]
    too_common: dict[tuple[str, str], int] = field(default_factory=dict)  # (field, value) -> shops sharing it
    _by_member: dict[str, OperatorGroup] = field(default_factory=dict, repr=False)

    def group_of(self, subject_id: str) -> OperatorGroup | None:
        """The group of a shop ("site:shop_id"), None when it shares nothing with another shop."""
        return self._by_member.get(subject_id)


PictureRow = tuple[str, str, str, list[dict[str, Any]]]  # (listing id, site, shop id, pictures)


def cluster(shops: Iterable[ShopItem], *, max_share: int = 10, pictures: Iterable[PictureRow] = ()) -> Clustering:
    """Operator groups of ``shops`` (only groups of two or more shops are returned); ``pictures``
    (``Store.iter_listing_pictures()``) adds the picture link."""
    shown: dict[str, dict[str, str]] = {}
    owners: dict[tuple[str, str], list[str]] = defaultdict(list)
    images: dict[str, str] = {}  # phash -> a picture's path
    for _listing, site, shop_id, pics in pictures:
        sid = f"{site}:{shop_id}"
        for pic in pics:
            ph = pic.get("phash") or ""
            if len(set(ph)) < 3 or pic.get("role") == "license":  # a blank picture; licences link by number
                continue
            if sid not in owners[(PICTURE_FIELD, ph)]:
                owners[(PICTURE_FIELD, ph)].append(sid)
                shown.setdefault(sid, {})[f"{PICTURE_FIELD}:{ph}"] = ph
                images.setdefault(ph, pic.get("path") or "")
    for shop in shops:
        sid = shop.subject_id
        shown.setdefault(sid, {})
        for kind in LINK_FIELDS:
            raw = getattr(shop, kind, "") or ""
            key = normalise_value(kind, raw)
            if key and sid not in owners[(kind, key)]:
                owners[(kind, key)].append(sid)
                shown[sid][kind] = raw.strip()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    links: list[Link] = []
    too_common: dict[tuple[str, str], int] = {}
    for (kind, key), members in owners.items():
        if len(members) < 2:
            continue
        if len(members) > max_share:
            too_common[(kind, key)] = len(members)
            continue
        members = sorted(members)
        for other in members[1:]:
            if kind == PICTURE_FIELD:
                links.append(Link(members[0], other, kind, key, images.get(key, "")))
            else:
                links.append(Link(members[0], other, kind, shown[members[0]][kind]))
            ra, rb = find(members[0]), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    grouped: dict[str, list[str]] = defaultdict(list)
    for sid in sorted(parent.keys() | {m for link in links for m in (link.a, link.b)}):
        grouped[find(sid)].append(sid)
    groups: list[OperatorGroup] = []
    by_member: dict[str, OperatorGroup] = {}
    for root, members in sorted(grouped.items()):
        mine = set(members)
        group = OperatorGroup(root, members, [link for link in links if link.a in mine])
        groups.append(group)
        by_member.update(dict.fromkeys(members, group))
    return Clustering(groups, too_common, by_member)
