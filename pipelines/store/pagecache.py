"""The job folder's copy of the page states (``<JOBDIR>/pages.sqlite``), for when the store cannot be read.

The store stage writes every :class:`~pipelines.store.base.PageState` here as well as into the
store; :class:`crawler.incremental.IncrementalMiddleware` reads it only while the store raises
``StoreUnavailable``, so a sweep during an Elasticsearch outage still asks "changed since?" and
skips unchanged pages. The store stays the authority whenever it answers.

Rows are kept per store (its URL without credentials and options), so the states of another
store are never used, and the file outlives the sweep: ``crawler.runner`` keeps it when it
clears the job folder for a new sweep of the site. A lost copy only costs full fetches, and a
state whose snapshot file is gone is ignored by the middleware. The one stale case that matters:
a store emptied under the same URL (indices dropped by hand) while the copy remembers its pages.
An unchanged page read from the copy during an outage then marks as seen a subject the store no
longer has; the replay applies that as nothing (the subject stays missing until a ``--full`` sweep).

Rows are written in batches (one transaction per :data:`BATCH` states, and before any read and at
close), not one commit per page on the reactor: a killed sweep loses at most the last batch of the
copy, which costs those pages a full fetch in an outage, nothing else.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

from .base import PageState

FILE = "pages.sqlite"
_NAMES = tuple(f.name for f in fields(PageState))
_FIELDS = frozenset(_NAMES)
#: page states kept in memory before they are written in one transaction
BATCH = 200


def store_key(url: str) -> str:
    """The store's URL without user, password and options: the same store, however it is reached."""
    text = str(url)
    if "://" not in text:
        return f"sqlite:///{Path(text).resolve()}"
    parts = urlsplit(text)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"


class LocalPageStates:
    """url -> the last PageState written for it in the sweeps of one site, per store."""

    def __init__(self, job_dir: str | Path, store_url: str) -> None:
        self.path = Path(job_dir) / FILE
        self.store = store_key(store_url)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, str] = {}  # url -> state (JSON) not yet written

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a copy: the last rows may go with a power cut
            db.execute("CREATE TABLE IF NOT EXISTS page_states (store TEXT NOT NULL, url TEXT NOT NULL, "
                       "state TEXT NOT NULL, PRIMARY KEY (store, url))")
            self._db = db
        return self._db

    def put(self, state: PageState) -> None:
        row = json.dumps({name: getattr(state, name) for name in _NAMES}, ensure_ascii=False)
        with self._lock:
            self._pending[state.url] = row
            if len(self._pending) >= BATCH:
                self._write()

    def _write(self) -> None:
        """(Under the lock.) The pending states, in one transaction."""
        if not self._pending:
            return
        db = self._conn()
        with db:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO page_states(store, url, state) VALUES (?,?,?)",
                           [(self.store, url, row) for url, row in self._pending.items()])
        self._pending.clear()

    def get(self, url: str) -> PageState | None:
        if self._db is None and not self._pending and not self.path.exists():
            return None
        with self._lock:
            self._write()
            row = self._conn().execute("SELECT state FROM page_states WHERE store=? AND url=?",
                                       (self.store, url)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return PageState(**{k: v for k, v in data.items() if k in _FIELDS})

    def close(self) -> None:
        with self._lock:
            self._write()
            if self._db is not None:
                self._db.close()
                self._db = None
