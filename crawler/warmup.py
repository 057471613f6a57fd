"""Loading what the pipeline will need while the sweep starts, not in the middle of its first page.

jieba's dictionary (the ``tokens`` of :class:`~pipelines.normalize.NormalizePipeline`) takes about
half a CPU-second to load and is loaded lazily, by the first listing that reaches the pipeline:
the reactor then stops for that long with requests in flight. :class:`Warmup` (an extension)
starts loading it on a background thread as soon as the crawler is set up, beside the rest of
the start-up (engine, stores, rule packs); the first listing waits only for whatever is left
(``get_jieba`` holds a lock while it loads). Nothing is loaded when the pipeline is off
(``ITEM_PIPELINES`` without it, or no tokens: ``NORMALIZE_TOKENS`` false, or ``auto`` with a store
that does not keep them).

Settings: ``NETSWORD_WARMUP`` (True).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)

NORMALIZE = "pipelines.normalize.NormalizePipeline"


class Warmup:
    def __init__(self, jieba: bool) -> None:
        self.thread: threading.Thread | None = None
        if jieba:
            self.thread = threading.Thread(target=_load_jieba, name="netsword-warmup", daemon=True)
            self.thread.start()

    @classmethod
    def from_crawler(cls, crawler: Any) -> Warmup:
        s = crawler.settings
        if not s.getbool("NETSWORD_WARMUP", True):
            raise NotConfigured("NETSWORD_WARMUP is off")
        pipelines = s.getdict("ITEM_PIPELINES")
        from pipelines.normalize import tokens_wanted

        jieba = pipelines.get(NORMALIZE) is not None and tokens_wanted(s.get("NORMALIZE_TOKENS", "auto"),
                                                                       s.get("STORE_URL", ""))
        if not jieba:
            raise NotConfigured("nothing to load ahead (no tokenising NormalizePipeline)")
        return cls(jieba=jieba)


def _load_jieba() -> None:
    try:
        from pipelines.normalize import get_jieba

        get_jieba()
    except Exception as exc:  # the pipeline loads it itself (and reports a real problem) later
        logger.debug("jieba warm-up failed: %s", exc)
