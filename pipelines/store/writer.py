"""The store stage's writes, by operation name: on the reactor, or in a process of its own.

:class:`StoreWriter` opens the store (:func:`pipelines.store.open_store`) and does what the store stage asks
of it -- subjects with their findings, snapshot records, sub-page parts, page states, unchanged pages, the
sweep record's opening. :class:`~pipelines.store.pipeline.StorePipeline` calls it directly (``STORE_WRITER =
"inline"``) or through :class:`netsword.sidecar.OffReactor` (``"process"``, the default: JSON encoding, SQL
and the store's own bookkeeping then run on the other core, not on the crawl's reactor; ``"thread"``).
Counters it cannot know beforehand (an unchanged page of an unknown subject) go back as :attr:`counts`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from netsword.sidecar import CallTarget

from . import open_store
from .base import PageState
from .sqlite import SQLiteStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreWriterConfig:
    url: str
    sqlite_batch_size: int = 0  # writes per commit of a SQLite store; 0: the store's own default
    #: commit after every batch of calls (``end_batch``) instead of the store's own batches: a worker gives its
    #: leases back once an item leaves the stage, and holds a shared SQLite file's lock only while it writes a batch
    commit_each_batch: bool = False


class StoreWriter(CallTarget):
    """The store, written in the order asked. Not thread-safe: one caller at a time."""

    OPERATIONS = frozenset({"ping", "start_sweep", "save", "record_snapshot", "put_part", "put_page_state", "unchanged",
                            "close"})
    WHAT = "store"

    def __init__(self, config: StoreWriterConfig) -> None:
        self.config = config
        self.store: Any = open_store(config.url)
        if config.sqlite_batch_size > 0 and isinstance(self.store, SQLiteStore):
            self.store.batch_size = config.sqlite_batch_size
        self.counts: Counter[str] = Counter()
        self._closed = False

    def durable(self) -> bool:
        """No write waits in the store's open batch (SQLite) or send buffer (an engine)."""
        return not self.store.unsaved

    def end_batch(self) -> None:
        if self.config.commit_each_batch and self.store.unsaved:
            self.store.flush()

    # -- operations -----------------------------------------------------------------------
    def ping(self) -> str:
        return type(self.store).__name__

    def start_sweep(self, sweep_id: str, site: str, at: str, settings: dict[str, Any]) -> None:
        self.store.start_sweep(sweep_id, site, at, settings)

    def save(self, item: Any, resolve: bool) -> None:
        self.store.save(item, resolve=resolve)

    def record_snapshot(self, *args: Any) -> None:
        self.store.record_snapshot(*args)

    def put_part(self, item: Any) -> None:
        self.store.put_part(item)

    def put_page_state(self, state: PageState) -> None:
        self.store.put_page_state(state)

    def unchanged(self, item: Any, state: PageState | None) -> None:
        """A page that did not change since the last sweep: its snapshot seen again, its subject seen in this
        sweep, its page state (built from the item, not read back) written again."""
        store = self.store
        store.record_snapshot(item.html_sha256, item.url, item.html_path, item.fetched_at, item.status,
                              item.sweep_id, item.rendered)
        if item.subject_id and not store.mark_seen(item.subject_kind, item.subject_id, item.sweep_id,
                                                   item.fetched_at) and not self._revive_parts(item):
            logger.warning("unchanged page of an unknown %s %s: %s", item.subject_kind, item.subject_id, item.url)
            self.counts["netsword/unchanged_unknown"] += 1
        if state is not None:
            store.put_page_state(state)

    def _revive_parts(self, item: Any) -> bool:
        """An unchanged page of a subject with sub-pages that was never assembled (its sweep was killed and not
        resumed): its stored parts join this sweep, whose end assembles it (crawler.subpages)."""
        try:
            parts = self.store.parts(item.subject_kind, item.subject_id)
        except NotImplementedError:
            return False
        for part in parts:
            part.sweep_id = item.sweep_id
            self.store.put_part(part)
        return bool(parts)

    def close(self) -> int:
        """Commit and close the store; the writes it spooled (an engine that could not be reached)."""
        if not self._closed:
            self._closed = True
            self.store.close()
        return int(getattr(self.store, "spooled", 0) or 0)
