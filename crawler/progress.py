"""A progress line every few seconds while a sweep runs: pages, listings, shops, findings, pages/s.

Listings, shops and findings are counted once each however many pages showed them (a shop's
home over three pages is one shop; a listing reached under two URLs is one listing), as the
store counts them for the sweep's summary (``Store.counts(sweep_id=)``): the live line, its
final ``done:`` line and ``netsword crawl``'s summary agree. Before, the line counted items
(pages), the summary subjects.

Stats: ``netsword/sweep/listings``, ``netsword/sweep/shops``, ``netsword/sweep/findings``.
"""

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
        self.subjects: dict[str, set[str]] = {"listing": set(), "shop": set()}
        self.findings: set[str] = set()
        self._task: task.LoopingCall | None = None
        self._t0 = 0.0

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressLog:
        interval = crawler.settings.getfloat("NETSWORD_PROGRESS_INTERVAL")
        if not interval:
            raise NotConfigured("set NETSWORD_PROGRESS_INTERVAL > 0 for progress lines")
        ext = cls(crawler.stats, interval)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self._t0 = time.monotonic()
        self._task = task.LoopingCall(self.log)
        self._task.start(self.interval, now=False)

    def item_scraped(self, item: Any, **kwargs: Any) -> None:
        """A stored item: its subject (also of an unchanged page) and its findings, each counted once."""
        kind = getattr(item, "kind", "") if hasattr(item, "findings") else getattr(item, "subject_kind", "")
        subject = getattr(item, "subject_id", "")
        if kind in self.subjects and subject and subject not in self.subjects[kind]:
            self.subjects[kind].add(subject)
            self.stats.set_value(f"netsword/sweep/{kind}s", len(self.subjects[kind]))
        for finding in getattr(item, "findings", ()) or ():
            if finding.finding_id not in self.findings:
                self.findings.add(finding.finding_id)
                self.stats.set_value("netsword/sweep/findings", len(self.findings))

    def line(self) -> str:
        get = self.stats.get_value
        pages = get("response_received_count", 0)
        rate = pages / max(time.monotonic() - self._t0, 1e-6)
        return (f"pages {pages} · listings {len(self.subjects['listing'])} · shops {len(self.subjects['shop'])}"
                f" · findings {len(self.findings)} · failed {get('netsword/pages/failed', 0)}"
                f" · {rate:.1f} pages/s")

    def log(self) -> None:
        logger.info(self.line())

    def spider_closed(self, spider: Any) -> None:
        if self._task and self._task.running:
            self._task.stop()
        logger.info("done: %s", self.line())
