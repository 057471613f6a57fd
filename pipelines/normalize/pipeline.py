"""The Scrapy item pipeline of the normalize stage: fills ``norm``, prices and ``tokens``."""

from __future__ import annotations

from typing import Any

from crawler.items import TEXT_FIELDS

from .prices import parse_price
from .text import normalize_many
from .tokens import tokenize


class NormalizePipeline:
    """Item pipeline: fills ``norm``, prices and ``tokens``. Works with or without Scrapy.

    ``tokens`` (jieba) is the slow part (about 1 MB/s). Only the search engine stores keep them (the
    ``tokens`` field, for Kibana and ad-hoc queries); the SQLite store indexes bigrams of its own and
    never stored them. ``NORMALIZE_TOKENS``: ``auto`` (default: when the sweep's store keeps them),
    True, False.
    """

    def __init__(self, tokens: bool = True) -> None:
        self.tokens = tokens

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        s = crawler.settings
        return cls(tokens=tokens_wanted(s.get("NORMALIZE_TOKENS", "auto"), s.get("STORE_URL", "")))

    def process_item(self, item: Any, spider: Any = None) -> Any:
        kind = getattr(item, "kind", None)
        if kind not in TEXT_FIELDS:
            return item
        fields = TEXT_FIELDS[kind]
        self._finish(item, normalize_many([getattr(item, f, "") or "" for f in fields]))
        return item

    def process_many(self, items: list[Any]) -> list[Any]:
        """:meth:`process_item` of each of ``items``, their text fields normalised together in one
        :func:`normalize_many` (rescans and batch tools; the same result)."""
        ours = [it for it in items if getattr(it, "kind", None) in TEXT_FIELDS]
        texts = [getattr(it, f, "") or "" for it in ours for f in TEXT_FIELDS[it.kind]]
        norms = iter(normalize_many(texts)) if texts else iter(())
        for it in ours:
            self._finish(it, [next(norms) for _ in TEXT_FIELDS[it.kind]])
        return items

    def _finish(self, item: Any, norms: list[str]) -> None:
        kind = item.kind
        item.norm = dict(zip(TEXT_FIELDS[kind], norms, strict=True))
        if kind == "listing":
            item.price, cur = parse_price(item.price_text)
            item.original_price, cur2 = parse_price(item.original_price_text)
            item.currency = cur or cur2
        if self.tokens:
            parts = (item.norm.get("title"), item.norm.get("name"), item.norm.get("description"))
            text = " ".join(t for t in parts if t)
            item.tokens = tokenize(text)


#: store URL schemes whose engines keep jieba's tokens (the search engine's ``tokens`` field)
TOKEN_STORES = ("elasticsearch", "opensearch")


def tokens_wanted(setting: Any, store_url: Any = "") -> bool:
    """Whether the pipeline tokenises: ``NORMALIZE_TOKENS`` True / False as said, ``auto`` when the store
    (``STORE_URL``) keeps the tokens."""
    text = str(setting).strip().lower()
    if text in ("auto", ""):
        return str(store_url or "").partition("://")[0].lower() in TOKEN_STORES
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"NORMALIZE_TOKENS must be auto, true or false, not {setting!r}")
