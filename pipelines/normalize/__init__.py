"""The normalise stage: one canonical form of scraped text, prices and jieba tokens.

``NormalizePipeline`` is the ``ITEM_PIPELINES`` entry; the functions are what the rule engine,
the analyst tools and the stores use to put query text and listing text in the same form.

Modules: :mod:`.text` (NFKC, zero-width, traditional -> simplified, separators, notes),
:mod:`.quick` (the fast path for plain text), :mod:`.homoglyphs` (look-alike letters),
:mod:`.prices` (price strings -> numbers, with price-parser), :mod:`.tokens` (jieba),
:mod:`.pipeline` (the Scrapy stage).
"""

from __future__ import annotations

from .pipeline import NormalizePipeline, tokens_wanted
from .prices import _parse_price_cached, parse_price
from .text import (
    NOTE_HOMOGLYPH,
    NOTE_NFKC,
    NOTE_SEPARATORS,
    NOTE_T2S,
    NOTE_ZERO_WIDTH,
    Stripped,
    clear_text_cache,
    deobfuscate_text,
    normalize_many,
    normalize_text,
    normalize_with_notes,
    notes_for_fragment,
    strip_joined,
    strip_separators,
    to_simplified,
)
from .tokens import get_jieba, tokenize, word_bounds

__all__ = [
    "NOTE_HOMOGLYPH",
    "NOTE_NFKC",
    "NOTE_SEPARATORS",
    "NOTE_T2S",
    "NOTE_ZERO_WIDTH",
    "NormalizePipeline",
    "Stripped",
    "clear_caches",
    "deobfuscate_text",
    "get_jieba",
    "normalize_many",
    "normalize_text",
    "normalize_with_notes",
    "notes_for_fragment",
    "parse_price",
    "strip_joined",
    "strip_separators",
    "to_simplified",
    "tokenize",
    "tokens_wanted",
    "word_bounds",
]


def clear_caches() -> None:
    """Empty the per-process caches (normal forms of short texts, prices, jieba word boundaries).

    Results never depend on them; benchmarks call this so that runs over the same texts measure
    the work, not the cache."""
    clear_text_cache()
    _parse_price_cached.cache_clear()
    word_bounds.cache_clear()
