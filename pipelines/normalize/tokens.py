"""jieba tokens and word boundaries (the process-wide tokenizer, loaded once)."""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

from netsword.config import cache_dir

_jieba_lock = threading.Lock()
_jieba: Any = None


def get_jieba() -> Any:
    """The process-wide jieba tokenizer, initialised once (dictionary load ~1 s)."""
    global _jieba
    if _jieba is not None:
        return _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.dt.tmp_dir = str(cache_dir())
            jieba.dt.initialize()
            _jieba = jieba.dt
    return _jieba


def tokenize(text: str) -> list[str]:
    """jieba tokens (HMM off), whitespace tokens dropped."""
    if not text:
        return []
    return [w for w in get_jieba().lcut(text, HMM=False) if not w.isspace()]


@lru_cache(maxsize=4096)
def word_bounds(text: str) -> frozenset[int]:
    """Offsets in ``text`` where jieba (HMM off) puts a word boundary."""
    out = {0, len(text)}
    for _w, a, b in get_jieba().tokenize(text, HMM=False):
        out.add(a)
        out.add(b)
    return frozenset(out)
