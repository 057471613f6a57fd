"""Bounds on one sweep, against crawler traps (calendars, endless filter combinations, session ids).

:class:`LimitsMiddleware` (spider middleware) gives every request a depth: start pages 0, a
followed link its page's depth + 1, a list's next page its page's depth (pagination has its own
``max_pages`` in the profile). A link deeper than ``NETSWORD_MAX_DEPTH`` is cut off, and so is
every new link once ``NETSWORD_MAX_PAGES`` requests were let through in the sweep (the same URL
twice counts once). The first cut-off of each kind is logged with its URL and what to change;
``netsword crawl`` prints the counts in its summary.

A profile overrides both (and ``DOWNLOAD_MAXSIZE``) with ``limits: {max_depth: 20, max_pages:
100000, max_page_mb: 30}`` (see :class:`crawler.profiles.Limits`; the spider applies them).
A resumed sweep counts its pages and depths again from the pages still pending.

Settings: ``NETSWORD_MAX_DEPTH`` (10), ``NETSWORD_MAX_PAGES`` (20,000).
Stats: ``netsword/cutoff/depth``, ``netsword/cutoff/pages``, ``netsword/depth/max``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Request

logger = logging.getLogger(__name__)

DEPTH = "netsword_depth"


def cutoff_counts(stats: dict[str, Any]) -> dict[str, int]:
    """Links cut off in a sweep, by kind (from its stats)."""
    return {"depth": int(stats.get("netsword/cutoff/depth", 0)), "pages": int(stats.get("netsword/cutoff/pages", 0))}


class LimitsMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler, self.stats = crawler, crawler.stats
        self.max_depth = crawler.settings.getint("NETSWORD_MAX_DEPTH")
        self.max_pages = crawler.settings.getint("NETSWORD_MAX_PAGES")
        self.seen: set[bytes] = set()
        self._warned: set[str] = set()
        self._deepest = -1

    @classmethod
    def from_crawler(cls, crawler: Any) -> LimitsMiddleware:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for obj in start:
            for out in self._limit(None, [obj]):
                yield out

    def process_spider_output(self, response: Any, result: Iterable[Any], spider: Any = None) -> Iterator[Any]:
        yield from self._limit(response, result)

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any],
                                          spider: Any = None) -> AsyncIterator[Any]:
        async for obj in result:
            for out in self._limit(response, [obj]):
                yield out

    def _limit(self, response: Any, result: Iterable[Any]) -> Iterator[Any]:
        for obj in result:
            if not isinstance(obj, Request):
                yield obj
                continue
            depth = self._depth(response, obj)
            obj.meta[DEPTH] = depth
            if self.max_depth and depth > self.max_depth:
                self._cut("depth", obj, f"{depth} links from a start page, more than max_depth {self.max_depth}")
                continue
            fp = self.crawler.request_fingerprinter.fingerprint(obj)
            if fp not in self.seen:
                if self.max_pages and len(self.seen) >= self.max_pages:
                    self._cut("pages", obj, f"the sweep reached max_pages {self.max_pages}")
                    continue
                self.seen.add(fp)
            if depth > self._deepest:  # the stats collector is called per new maximum, not per link
                self._deepest = depth
                self.stats.max_value("netsword/depth/max", depth)
            yield obj

    @staticmethod
    def _depth(response: Any, request: Request) -> int:
        if response is None:
            return 0
        parent = response.meta.get(DEPTH, 0)
        next_page = request.meta.get("netsword_page_no", 1) > response.meta.get("netsword_page_no", 1)
        return parent if next_page else parent + 1

    def _cut(self, kind: str, request: Request, why: str) -> None:
        self.stats.inc_value(f"netsword/cutoff/{kind}")
        if kind not in self._warned:
            self._warned.add(kind)
            site = getattr(self.crawler.spider, "site", "SITE")
            key = "max_depth" if kind == "depth" else "max_pages"
            logger.warning("cut off: %s (%s); more like it are counted, not logged. If the site is that deep, "
                           "raise `limits: {%s: ...}` in the profile of %s", request.url, why, key, site)
