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
days (60) from the Store's run records. Stats: ``history/items``, ``history/with_history``,
``history/unknown``, ``history/recomputed``.

When the store cannot be read (Elasticsearch down: ``StoreUnavailable``) no listing is held back:
its history is *unknown* -- ``item.history`` is ``{HISTORY_UNKNOWN: 1.0}``, so a ``when:`` over
history names is false for it, and the store stage resolves none of its findings (an outage
closes nothing). Its subject id goes to ``<JOBDIR>/history_unknown.txt``. At the end of the sweep
(the store stage, closed first, has written or spooled everything), if the store can be read
again, each such listing is read back, given its history and matched again with the same rules,
and saved: findings over price history appear, findings the page no longer shows are resolved,
as in a sweep without an outage. If the store is still unreachable the file stays, the runner
leaves the sweep unfinished, and ``netsword crawl --resume`` (after ``netsword index replay``)
does it. Re-matched findings have the page snapshot as evidence, no screenshot of their own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.items import ListingItem
from netsword.clock import parse_utc
from pipelines.store import open_store
from pipelines.store.base import HISTORY_UNKNOWN, ListingVersion, Store, StoreUnavailable

logger = logging.getLogger(__name__)

#: The names this stage fills (each is also in ``pipelines.match.when.WHEN_NAMES``).
HISTORY_NAMES = ("prev_price", "prev_original_price", "max_price_7d", "min_price_7d", "max_price_30d",
                 "min_price_30d", "baseline_price", "baseline_reference_price", "max_price_since_baseline",
                 "history_days", "days_since_price_change")
WINDOWS = (7, 30)
PRICE_EPSILON = 0.005  # prices closer than this are the same price



def _days(a: datetime, b: datetime) -> float:
    return round((a - b).total_seconds() / 86400, 3)


def price_history(versions: Sequence[ListingVersion], *, now: datetime, price: float | None,
                  baseline: tuple[datetime, datetime] | None = None) -> dict[str, float]:
    """The history numbers of a page fetched at ``now`` showing ``price``, from its EARLIER versions
    (oldest first, the current sweep's left out); ``baseline`` = (start, end) of the baseline sweep."""
    dated = [(v, parse_utc(v.fetched_at), parse_utc(v.last_seen_at) or parse_utc(v.fetched_at)) for v in versions]
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


class UnknownHistory:
    """Subject ids of the listings this sweep matched without their price history: ``<job dir>/
    history_unknown.txt``, one a line, appended as they come (in memory only without a job dir)."""

    FILE = "history_unknown.txt"

    def __init__(self, job_dir: str | Path | None) -> None:
        self.path = Path(job_dir) / self.FILE if job_dir else None
        self._ids: dict[str, None] = {}

    def add(self, subject_id: str) -> None:
        if subject_id in self._ids:
            return
        self._ids[subject_id] = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(subject_id + "\n")

    def ids(self) -> list[str]:
        """This run's and, for a resumed sweep, those an earlier run of the sweep left."""
        found = dict.fromkeys(self._read())
        found.update(self._ids)
        return list(found)

    def _read(self) -> list[str]:
        if self.path is None or not self.path.exists():
            return []
        return [line.strip() for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def keep(self, subject_ids: Sequence[str]) -> None:
        """Only ``subject_ids`` are still to be re-matched (the file goes when none is)."""
        self._ids = dict.fromkeys(subject_ids)
        if self.path is None:
            return
        if not subject_ids:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(sid + "\n" for sid in subject_ids), encoding="utf-8")
        tmp.replace(self.path)


class HistoryPipeline:
    """Scrapy item pipeline: ``item.history`` for every listing (order 150)."""

    def __init__(self, store_url: str, baseline_sweep: str = "", baseline_max_days: float = 60.0,
                 stats: Any = None, job_dir: str | Path | None = None, rules_dir: str | Path | None = None,
                 include_test: bool = False, ruleset: Any = None) -> None:
        self.store_url, self.baseline_sweep, self.baseline_max_days = store_url, baseline_sweep, baseline_max_days
        self.stats = stats
        self.store: Store | None = None
        self.baseline: tuple[datetime, datetime] | None = None
        self.unknown = UnknownHistory(job_dir)
        # the match stage's rules, to match again: its compiled RuleSet if given, else loaded when needed
        self.rules_dir, self.include_test, self.ruleset = rules_dir, include_test, ruleset
        self.site = self.sweep_id = ""
        self.crawler: Any = None
        self._baseline_read = False
        self._down = False  # the store is unreadable: said once per outage, not per listing

    @classmethod
    def from_crawler(cls, crawler: Any) -> HistoryPipeline:
        s = crawler.settings
        pipe = cls(s.get("STORE_URL"),
                   s.get("HISTORY_BASELINE_SWEEP") or os.environ.get("HISTORY_BASELINE_SWEEP") or "",
                   s.getfloat("HISTORY_BASELINE_MAX_DAYS", 60.0), crawler.stats, job_dir=s.get("JOBDIR") or None,
                   rules_dir=s.get("MATCH_RULES_DIR") or None, include_test=s.getbool("MATCH_INCLUDE_TEST", False),
                   ruleset=s.get("MATCH_RULESET"))
        pipe.crawler = crawler
        return pipe

    def open_spider(self, spider: Any = None) -> None:
        # Scrapy 2.19 passes no spider to open_spider: the crawler's
        spider = spider if spider is not None else getattr(self.crawler, "spider", None)
        self.store = open_store(self.store_url)
        self.site = getattr(spider, "site", "")
        self.sweep_id = getattr(spider, "sweep_id", "")
        try:
            self._read_baseline()
        except StoreUnavailable as exc:  # read again with the first listing the store can answer for
            self._unreadable(exc)

    def _read_baseline(self) -> None:
        if self._baseline_read:
            return
        sweep_id = self.baseline_sweep or self._latest_baseline(self.site, self.sweep_id)
        if sweep_id and sweep_id != self.sweep_id:
            self.baseline = self._sweep_window(sweep_id)
            if self.baseline is None:
                logger.warning("baseline sweep %s is not in the store: no baseline prices", sweep_id)
            else:
                logger.info("price history: baseline sweep %s (%s .. %s)", sweep_id, *self.baseline)
        self._baseline_read = True

    def _latest_baseline(self, site: str, current: str) -> str:
        assert self.store is not None
        try:
            runs = self.store.runs(site=site, kind="baseline", status=("ok", "incomplete"), limit=5)
        except NotImplementedError:
            return ""
        oldest = datetime.now(UTC) - timedelta(days=self.baseline_max_days)
        for run in runs:
            started = parse_utc(run.started_at)
            if run.run_id != current and started is not None and started >= oldest:
                return run.run_id
        return ""

    def _sweep_window(self, sweep_id: str) -> tuple[datetime, datetime] | None:
        assert self.store is not None
        for sweep in self.store.sweeps():
            if sweep.sweep_id == sweep_id:
                start = parse_utc(sweep.started_at)
                end = parse_utc(sweep.finished_at) or datetime.now(UTC)
                return (start, end) if start is not None else None
        return None

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, ListingItem) or self.store is None or not item.listing_id:
            return item
        self._inc("history/items")
        try:
            item.history = self._history(item)
        except StoreUnavailable as exc:
            return self._without_history(item, exc)
        if self._down:
            logger.warning("price history readable again")
            self._down = False
        if item.history:
            self._inc("history/with_history")
        return item

    def _history(self, item: ListingItem) -> dict[str, float]:
        assert self.store is not None
        self._read_baseline()
        versions = [v for v in self.store.listing_history(item.subject_id) if v.sweep_id != item.sweep_id]
        return price_history(versions, now=parse_utc(item.fetched_at) or datetime.now(UTC), price=item.price,
                             baseline=self.baseline)

    def _without_history(self, item: ListingItem, exc: StoreUnavailable) -> ListingItem:
        """The listing goes on, matched without its history; remembered to be matched again later."""
        item.history = {HISTORY_UNKNOWN: 1.0}
        if item.status < 400:  # an error page is no observation of the listing: nothing to match again
            self.unknown.add(item.subject_id)
        self._inc("history/unknown")
        self._unreadable(exc)
        return item

    def _unreadable(self, exc: StoreUnavailable) -> None:
        if not self._down:
            logger.warning("price history unreadable (%s): listings are matched without it until the store is "
                           "back, then matched again (at the end of the sweep, or by netsword crawl --resume)", exc)
        self._down = True

    def close_spider(self, spider: Any = None) -> None:
        if self.store is None:
            return
        try:
            self._match_again()
        finally:
            self._inc("netsword/store/spooled", self.store.spooled)
            self.store.close()
            self.store = None

    # ------------------------------------------------------------------ listings matched without history

    def _match_again(self) -> None:
        """Give the listings matched without history their history, match and save them again.

        Runs when the sweep ends: Scrapy closes pipelines in reverse order, so the store stage (400)
        has already written or spooled everything (a read here sends the spool first)."""
        ids = self.unknown.ids()
        if not ids:
            return
        assert self.store is not None
        self.store.retry()  # the store may be back within the back-off after the last failed read
        done = 0
        try:
            self._read_baseline()
            ruleset = self._ruleset()
            for sid in ids:
                self._inc("history/recomputed", int(self._match_one(sid, ruleset)))
                done += 1
        except StoreUnavailable as exc:
            logger.warning("%d listings of sweep %s were matched without their price history and the store is "
                           "still unreadable (%s); netsword crawl --resume matches them again once it is back",
                           len(ids) - done, self.sweep_id, exc)
        else:
            logger.warning("%d listings matched without their price history were matched again with it", done)
        self.unknown.keep(ids[done:])

    def _ruleset(self) -> Any:
        if self.ruleset is None:
            from pipelines.match import RuleSet

            self.ruleset = RuleSet.load(self.rules_dir, include_test=self.include_test)
        return self.ruleset

    def _match_one(self, subject_id: str, ruleset: Any) -> bool:
        """True if the listing was matched again; False if there was nothing to do (not stored as
        a listing, seen by another sweep since, or matched again already)."""
        assert self.store is not None
        item = self.store.get_listing(subject_id)
        if item is None or item.sweep_id != self.sweep_id or HISTORY_UNKNOWN not in item.history:
            if item is None:
                logger.warning("listing %s matched without price history is not in the store: nothing to match "
                               "again", subject_id)
            return False
        item.history = self._history(item)
        item.findings = ruleset.match(item)
        self.store.save(item)  # findings over history appear; what the page no longer shows is resolved
        return True

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None and n:
            self.stats.inc_value(key, n)
