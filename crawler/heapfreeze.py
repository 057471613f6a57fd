"""Keep Python's cyclic garbage collector off what the sweep loaded at start-up.

A sweep starts by loading hundreds of thousands of long-lived objects: the rule packs and their
automata, the price references, the profiles, Scrapy's and Twisted's machinery. CPython's collector
walks every one of them in each full (generation 2) collection, although none of them will ever be
garbage: measured on the bench site (``bench.bench_distributed``'s, 6,000 pages), the crawl's
full collections took about 120 ms each, 2.2 CPU-seconds in all, during which the reactor does
nothing else -- about 0.35 ms per page, on the one thread that paces the whole sweep.

:class:`FreezeStartupHeap` (an extension) does what CPython documents for long-lived processes
(``gc.freeze``): once the spider is open -- rule packs, stores and pipelines loaded -- it collects
once, then moves every surviving object to the collector's permanent generation. Collections
afterwards walk only what the sweep itself creates (pages, items, requests), and every piece of it
is still collected as before: only objects that exist at that moment are frozen, and they are
kept anyway until the sweep ends. ``gc.unfreeze`` runs when the spider closes.

Settings: ``NETSWORD_GC_FREEZE`` (True). Stats: ``netsword/gc/frozen`` (objects frozen).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)


class FreezeStartupHeap:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.frozen = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> FreezeStartupHeap:
        if not crawler.settings.getbool("NETSWORD_GC_FREEZE", True):
            raise NotConfigured("NETSWORD_GC_FREEZE is off")
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        gc.collect()  # what start-up left as garbage is freed, not frozen
        gc.freeze()
        self.frozen = True
        n = gc.get_freeze_count()
        self.crawler.stats.set_value("netsword/gc/frozen", n)
        logger.debug("start-up heap frozen: %d objects out of the collector's way", n)

    def spider_closed(self, spider: Any) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
