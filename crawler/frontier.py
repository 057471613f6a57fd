"""Resume: a sweep killed at any moment (even SIGKILL) continues with ``netsword crawl --resume``.

Scrapy's ``JOBDIR`` keeps its request queue and seen-set on disk, but writes their indexes only
on a clean shutdown: after a SIGKILL they are stale. netsword therefore keeps its own
**frontier** in the job folder (``<NETSWORD_HOME>/jobs/<site>/frontier.sqlite``): every request
the spider discovers, committed before the page it came from can reach the store (the spider
yields a page's links before its item, and :class:`FrontierMiddleware` commits the links when
the item passes). What is done is what the store has: :meth:`Store.sweep_urls`, the pages whose
state the store stage wrote in this sweep -- written after the page's subject, findings and
snapshot on the same connection, so a committed state implies all of them. So on resume

    pending = frontier - store.sweep_urls(sweep)

and nothing is lost (a page is in the store, or it is pending) and nothing is stored twice (the
store is idempotent per sweep; pages in flight at the kill are fetched again). Scrapy's own
queue and seen-set are cleared on resume and rebuilt from the pending requests.

Settings: ``JOBDIR`` (set by :func:`crawler.runner.run_sweep`), ``NETSWORD_RESUME``.
Stats: ``netsword/frontier/new``, ``.../known`` (duplicates dropped), ``.../pending_on_resume``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.exceptions import NotConfigured

from crawler.subpages import PARENT

logger = logging.getLogger(__name__)


class Frontier:
    """Every request of one job: fingerprint, URL, list page number, in discovery order."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
        self._db.execute("CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY, fp TEXT UNIQUE NOT NULL, "
                         "url TEXT NOT NULL, page_no INTEGER NOT NULL DEFAULT 1)")
        # the subject whose page linked to a sub-page (crawler.subpages: belongs_to via link), as JSON
        self._db.execute("CREATE TABLE IF NOT EXISTS parents (url TEXT PRIMARY KEY, parent TEXT NOT NULL)")
        self.known: set[str] = {r[0] for r in self._db.execute("SELECT fp FROM requests")}
        self._pending: list[tuple[str, str, int]] = []
        self._parents: list[tuple[str, str]] = []

    def add(self, fp: str, url: str, page_no: int = 1, parent: dict[str, str] | None = None) -> bool:
        """Remember a request (and the subject whose page linked to it, for a sub-page); False if known already."""
        if fp in self.known:
            return False
        self.known.add(fp)
        self._pending.append((fp, url, page_no))
        if parent:
            self._parents.append((url, json.dumps(parent, ensure_ascii=False)))
        return True

    def commit(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO requests(fp, url, page_no) VALUES (?,?,?)", rows)
            parents, self._parents = self._parents, []
            self._db.executemany("INSERT OR IGNORE INTO parents(url, parent) VALUES (?,?)", parents)
            self._db.execute("COMMIT")

    def rows(self) -> Iterator[tuple[str, int]]:
        """(url, page_no) of every request, in discovery order."""
        yield from self._db.execute("SELECT url, page_no FROM requests ORDER BY seq")

    def parent(self, url: str) -> dict[str, str] | None:
        row = self._db.execute("SELECT parent FROM parents WHERE url=?", (url,)).fetchone()
        return json.loads(row[0]) if row else None

    def __len__(self) -> int:
        return len(self.known)

    def close(self) -> None:
        self.commit()
        self._db.close()


class FrontierMiddleware:
    """Spider middleware: records discovered requests (dropping known ones) and replays the pending
    ones when a sweep is resumed."""

    def __init__(self, jobdir: str, resume: bool, store_url: str, stats: Any = None) -> None:
        self.jobdir, self.resume, self.store_url, self.stats = Path(jobdir), resume, store_url, stats
        self.frontier: Frontier | None = None
        self.crawler: Any = None
        self._new = self._known = 0  # links recorded / dropped as known since the stats were last told

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierMiddleware:
        s = crawler.settings
        if not s.get("JOBDIR"):
            raise NotConfigured("set JOBDIR (netsword crawl does) to keep a resumable frontier")
        mw = cls(s.get("JOBDIR"), s.getbool("NETSWORD_RESUME", False), s.get("STORE_URL"), crawler.stats)
        mw.crawler = crawler
        from scrapy import signals

        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def _open(self) -> Frontier:
        if self.frontier is None:
            self.frontier = Frontier(self.jobdir / "frontier.sqlite")
        return self.frontier

    def _fp(self, request: Request) -> str:
        return self.crawler.request_fingerprinter.fingerprint(request).hex()

    # -- start ----------------------------------------------------------------------------
    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        frontier = self._open()
        spider = self.crawler.spider
        if self.resume and len(frontier):
            for request in self._pending_requests(frontier, spider):
                yield request
        async for obj in start:
            for out in self._record([obj]):
                yield out
        frontier.commit()
        self._count()

    def _pending_requests(self, frontier: Frontier, spider: Any) -> Iterator[Request]:
        from pipelines.store import open_store

        store = open_store(self.store_url)
        try:
            done = store.sweep_urls(spider.sweep_id)
        finally:
            store.close()
        pending = 0
        for url, page_no in list(frontier.rows()):
            if url in done:
                continue
            request = spider.request_for(url, page_no=page_no, dont_filter=True)
            if request is not None:
                if parent := frontier.parent(url):
                    request.meta[PARENT] = parent
                pending += 1
                yield request
        self._inc("netsword/frontier/pending_on_resume", pending)
        logger.info("resuming sweep %s: %d pages stored, %d pending of %d known", spider.sweep_id, len(done),
                    pending, len(frontier))

    # -- spider output --------------------------------------------------------------------
    def process_spider_output(self, response: Any, result: Iterable[Any], spider: Any = None) -> Iterator[Any]:
        yield from self._record(result)

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any],
                                          spider: Any = None) -> AsyncIterator[Any]:
        async for obj in result:
            for out in self._record([obj]):
                yield out

    def _record(self, result: Iterable[Any]) -> Iterator[Any]:
        frontier = self._open()
        for obj in result:
            if isinstance(obj, Request):
                if obj.dont_filter or frontier.add(self._fp(obj), obj.url, obj.meta.get("netsword_page_no", 1),
                                                   obj.meta.get(PARENT)):
                    self._new += 1
                    yield obj
                else:
                    self._known += 1
            else:
                frontier.commit()  # the page's links are durable before its item can be stored
                self._count()
                yield obj

    def _count(self) -> None:
        """The links counted since the last item, to the stats (once per item, not per link)."""
        if self._new:
            self._inc("netsword/frontier/new", self._new)
        if self._known:
            self._inc("netsword/frontier/known", self._known)
        self._new = self._known = 0

    def spider_closed(self, spider: Any, reason: str = "") -> None:
        self._count()
        if self.frontier is not None:
            self.frontier.close()
            self.frontier = None

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)
