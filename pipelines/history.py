"""Price history for rules: fills ``ListingItem.history`` from the listing's earlier versions in the Store.

Runs between normalize (100) and match (200), so ``when:`` expressions can compare the page with
what the listing showed before (先涨后降, 划线价 never charged ...). Every value is a number; a
name is left out when the history cannot give it (a ``when`` using it is then false):

========================== ==============================================================
prev_price                 price of the latest earlier version
prev_original_price        its struck-through price
max_price_7d, min_price_7d highest / lowest price of the versions shown in the 7 days before
max_price_30d, ...30d      the same over 30 days
baseline_price             price shown during the baseline sweep (highest if several)
baseline_reference_price   the compared price shown during the baseline sweep: its struck-through
                           price, or its price when none was shown
max_price_since_baseline   highest price shown from the baseline sweep on, this page included
history_days               days since the earliest earlier version was fetched
days_since_price_change    days the current price has been shown without a change
========================== ==============================================================

"Earlier" means fetched before this page and in another sweep. The baseline sweep is the setting
(or environment variable) ``HISTORY_BASELINE_SWEEP`` (the scheduler passes the festival's own);
without it, the latest finished baseline run of the site in the last ``HISTORY_BASELINE_MAX_DAYS``
days (60) from the Store's run records. Stats: ``history/items``, ``history/with_history``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.items import ListingItem
from pipelines.store import open_store
from pipelines.store.base import ListingVersion, Store

logger = logging.getLogger(__name__)

#: The names this stage fills (each is also in ``pipelines.match.when.WHEN_NAMES``).
HISTORY_NAMES = ("prev_price", "prev_original_price", "max_price_7d", "min_price_7d", "max_price_30d",
                 "min_price_30d", "baseline_price", "baseline_reference_price", "max_price_since_baseline",
                 "history_days", "days_since_price_change")
WINDOWS = (7, 30)
PRICE_EPSILON = 0.005  # prices closer than this are the same price


def _ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _days(a: datetime, b: datetime) -> float:
    return round((a - b).total_seconds() / 86400, 3)


def price_history(versions: Sequence[ListingVersion], *, now: datetime, price: float | None,
                  baseline: tuple[datetime, datetime] | None = None) -> dict[str, float]:
    """The history numbers of a page fetched at ``now`` showing ``price``, from its EARLIER versions
    (oldest first, the current sweep's left out); ``baseline`` = (start, end) of the baseline sweep."""
    dated = [(v, _ts(v.fetched_at), _ts(v.last_seen_at) or _ts(v.fetched_at)) for v in versions]
    dated = [(v, a, b) for v, a, b in dated if a is not None and b is not None and a <= now]
    out: dict[str, float] = {}
    if not dated:
        return out
    prev = max(dated, key=lambda x: (x[2], x[1]))[0]
    if prev.price is not None:
        out["prev_price"] = prev.price
    if prev.original_price is not None:
        out["prev_original_price"] = prev.original_price
    for n in WINDOWS:
        since = now - timedelta(days=n)
        prices = [v.price for v, _, last in dated if v.price is not None and last >= since]
        if prices:
            out[f"max_price_{n}d"], out[f"min_price_{n}d"] = max(prices), min(prices)
    out["history_days"] = _days(now, min(a for _, a, _ in dated))
    if baseline is not None:
        start, end = baseline
        during = [v for v, a, last in dated if a <= end and last >= start]
        base_prices = [v.price for v in during if v.price is not None]
        references = [v.original_price if v.original_price is not None else v.price for v in during
                      if v.original_price is not None or v.price is not None]
        if base_prices:
            out["baseline_price"] = max(base_prices)
            later = [v.price for v, _, last in dated if v.price is not None and last >= start]
            out["max_price_since_baseline"] = max(later + ([price] if price is not None else []))
        if references:
            out["baseline_reference_price"] = max(references)
    if price is not None:
        since_change = now
        for v, a, _ in sorted(dated, key=lambda x: x[1], reverse=True):
            if v.price is None or abs(v.price - price) > PRICE_EPSILON:
                break
            since_change = a
        out["days_since_price_change"] = _days(now, since_change)
    return {k: float(v) for k, v in out.items()}


class HistoryPipeline:
    """Scrapy item pipeline: ``item.history`` for every listing (order 150)."""

    def __init__(self, store_url: str, baseline_sweep: str = "", baseline_max_days: float = 60.0,
                 stats: Any = None) -> None:
        self.store_url, self.baseline_sweep, self.baseline_max_days = store_url, baseline_sweep, baseline_max_days
        self.stats = stats
        self.store: Store | None = None
        self.baseline: tuple[datetime, datetime] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> HistoryPipeline:
        s = crawler.settings
        return cls(s.get("STORE_URL"),
                   s.get("HISTORY_BASELINE_SWEEP") or os.environ.get("HISTORY_BASELINE_SWEEP") or "",
                   s.getfloat("HISTORY_BASELINE_MAX_DAYS", 60.0), crawler.stats)

    def open_spider(self, spider: Any = None) -> None:
        self.store = open_store(self.store_url)
        site = getattr(spider, "site", "")
        current = getattr(spider, "sweep_id", "")
        sweep_id = self.baseline_sweep or self._latest_baseline(site, current)
        if sweep_id and sweep_id != current:
            self.baseline = self._sweep_window(sweep_id)
            if self.baseline is None:
                logger.warning("baseline sweep %s is not in the store: no baseline prices", sweep_id)
            else:
                logger.info("price history: baseline sweep %s (%s .. %s)", sweep_id, *self.baseline)

    def _latest_baseline(self, site: str, current: str) -> str:
        assert self.store is not None
        try:
            runs = self.store.runs(site=site, kind="baseline", status=("ok", "incomplete"), limit=5)
        except NotImplementedError:
            return ""
        oldest = datetime.now(UTC) - timedelta(days=self.baseline_max_days)
        for run in runs:
            started = _ts(run.started_at)
            if run.run_id != current and started is not None and started >= oldest:
                return run.run_id
        return ""

    def _sweep_window(self, sweep_id: str) -> tuple[datetime, datetime] | None:
        assert self.store is not None
        for sweep in self.store.sweeps():
            if sweep.sweep_id == sweep_id:
                start = _ts(sweep.started_at)
                end = _ts(sweep.finished_at) or datetime.now(UTC)
                return (start, end) if start is not None else None
        return None

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, ListingItem) or self.store is None or not item.listing_id:
            return item
        now = _ts(item.fetched_at) or datetime.now(UTC)
        versions = [v for v in self.store.listing_history(item.subject_id) if v.sweep_id != item.sweep_id]
        item.history = price_history(versions, now=now, price=item.price, baseline=self.baseline)
        self._inc("history/items")
        if item.history:
            self._inc("history/with_history")
        return item

    def close_spider(self, spider: Any = None) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)
