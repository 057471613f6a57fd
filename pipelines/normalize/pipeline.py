"""The Scrapy item pipeline of the normalize stage: fills ``norm``, prices and ``tokens``."""

from __future__ import annotations

from typing import Any

from crawler.items import TEXT_FIELDS

from .prices import parse_price
from .text import normalize_many
from .tokens import tokenize


class NormalizePipeline:
    """Item pipeline: fills ``norm``, prices and ``tokens``. Works with or without Scrapy.

    ``tokens`` (jieba) is the slow part (about 1 MB/s); ``NORMALIZE_TOKENS = False`` in the
    settings turns it off.
    """

    def __init__(self, tokens: bool = True) -> None:
        self.tokens = tokens

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        return cls(tokens=crawler.settings.getbool("NORMALIZE_TOKENS", True))

    def process_item(self, item: Any, spider: Any = None) -> Any:
        kind = getattr(item, "kind", None)
        if kind not in TEXT_FIELDS:
            return item
        fields = TEXT_FIELDS[kind]
        item.norm = dict(zip(fields, normalize_many([getattr(item, f, "") or "" for f in fields]), strict=True))
        if kind == "listing":
            item.price, cur = parse_price(item.price_text)
            item.original_price, cur2 = parse_price(item.original_price_text)
            item.currency = cur or cur2
        if self.tokens:
            parts = (item.norm.get("title"), item.norm.get("name"), item.norm.get("description"))
            text = " ".join(t for t in parts if t)
            item.tokens = tokenize(text)
        return item
