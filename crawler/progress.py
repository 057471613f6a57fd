"""A progress line every few seconds while a sweep runs: pages, items, findings, pages/s."""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger("netsword.progress")


class ProgressLog:
    """Logs ``pages 120 · listings 90 · shops 10 · findings 15 · 48.0 pages/s``."""

    def __init__(self, stats: Any, interval: float) -> None:
        self.stats, self.interval = stats, interval
        self._task: task.LoopingCall | None = None
        self._t0 = 0.0

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressLog:
        interval = crawler.settings.getfloat("NETSWORD_PROGRESS_INTERVAL")
        if not interval:
            raise NotConfigured("set NETSWORD_PROGRESS_INTERVAL > 0 for progress lines")
        ext = cls(crawler.stats, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self._t0 = time.monotonic()
        self._task = task.LoopingCall(self.log)
        self._task.start(self.interval, now=False)

    def line(self) -> str:
        get = self.stats.get_value
        pages = get("response_received_count", 0)
        rate = pages / max(time.monotonic() - self._t0, 1e-6)
        return (f"pages {pages} · listings {get('netsword/listings', 0)} · shops {get('netsword/shops', 0)}"
                f" · findings {get('netsword/findings', 0)} · failed {get('netsword/pages/failed', 0)}"
                f" · {rate:.1f} pages/s")

    def log(self) -> None:
        logger.info(self.line())

    def spider_closed(self, spider: Any) -> None:
        if self._task and self._task.running:
            self._task.stop()
        logger.info("done: %s", self.line())
