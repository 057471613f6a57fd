"""The last pipeline stage: everything that reached here goes into the Store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crawler.items import ListingItem, PageItem, ShopItem
from pipelines.store import open_store


class StorePipeline:
    """Writes listings, shops, findings and snapshot records; opens and closes the sweep record."""

    def __init__(self, url: str, stats: Any = None) -> None:
        self.url, self.stats = url, stats
        self.store: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler.settings.get("STORE_URL"), crawler.stats)

    def open_spider(self, spider: Any = None) -> None:
        self.store = open_store(self.url)
        settings = {"robots_obeyed": bool(spider.crawler.settings.getbool("ROBOTSTXT_OBEY"))} if spider else {}
        if spider is not None:
            self.store.start_sweep(spider.sweep_id, spider.site, _now(), settings)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, ListingItem | ShopItem):
            # subject + snapshot record + findings; findings the page no longer shows are resolved
            self.store.save(item)
            self._inc(f"netsword/{item.kind}s")
            self._inc("netsword/findings", len(item.findings))
        elif isinstance(item, PageItem) and item.html_sha256:
            self.store.record_snapshot(item.html_sha256, item.url, item.html_path, item.fetched_at,
                                       item.status, item.sweep_id, item.rendered)
        return item

    def close_spider(self, spider: Any = None) -> None:
        if self.store is None:
            return
        if spider is not None:
            stats = {k: v for k, v in (self.stats.get_stats() if self.stats else {}).items()
                     if isinstance(v, int | float | str)}
            self.store.finish_sweep(spider.sweep_id, _now(), stats)
        self.store.close()

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
