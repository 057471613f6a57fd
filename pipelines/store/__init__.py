"""Where listings, shops, findings and snapshots live: ``open_store(url) -> Store``.

Supported URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
``sqlite:///:memory:`` or a plain file path (SQLite); ``elasticsearch://[user:pass@]host:9200[/prefix]``
(Elasticsearch 8.x, see ``elastic/``), ``opensearch://[user:pass@]host:9200[/prefix]`` (OpenSearch 2.x: the
same engine through the opensearch-py client, ``elastic/flavour.py``). Engines register a factory in
``ENGINES`` under their URL scheme.
``waiting_writes(url)`` says how many writes wait in a local spool for the store to come back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import (
    Hit,
    HitFinding,
    ListingVersion,
    SearchQuery,
    SearchResult,
    Snapshot,
    Store,
    StoredFinding,
    StoreUnavailable,
    Sweep,
)


def _sqlite(rest: str, **kwargs: Any) -> Store:
    from .sqlite import SQLiteStore

    if not rest:
        raise ValueError("sqlite store URL needs a path: sqlite:///path/to.db")
    try:
        return SQLiteStore(rest, **kwargs)
    except (OSError, sqlite3.OperationalError) as exc:
        raise StoreUnavailable(f"the SQLite store {rest} cannot be opened ({exc}): is its folder writable, "
                               "the disk not full?") from exc


def _elasticsearch(rest: str, **kwargs: Any) -> Store:
    from .elastic import open_elastic

    return open_elastic(rest, **kwargs)


def _opensearch(rest: str, **kwargs: Any) -> Store:
    from .elastic import open_elastic

    return open_elastic(rest, flavour="opensearch", **kwargs)


#: URL scheme -> factory(rest of the URL after "scheme://", **kwargs)
ENGINES: dict[str, Callable[..., Store]] = {"sqlite": lambda rest, **kw: _sqlite(rest.removeprefix("/"), **kw),
                                            "elasticsearch": _elasticsearch, "opensearch": _opensearch}


def open_store(url: str | Path, **kwargs: Any) -> Store:
    """Open (creating if needed) the store at ``url``; extra keyword arguments go to the engine."""
    text = str(url)
    if "://" not in text:
        return _sqlite(text, **kwargs)
    scheme, rest = text.split("://", 1)
    factory = ENGINES.get(scheme.lower())
    if factory is None:
        supported = ", ".join(f"{s}://..." for s in ENGINES)
        raise ValueError(f"unsupported store URL scheme {scheme!r} in {text!r}; supported: {supported} "
                         "(e.g. sqlite:///data/netsword.db) or a plain file path")
    return factory(rest, **kwargs)


def waiting_writes(url: str | Path) -> tuple[int, str]:
    """(operations waiting, the spool file) for the store at ``url``, without connecting to it; (0, "")
    for engines that never spool (SQLite)."""
    text = str(url)
    scheme, _, rest = text.partition("://")
    if scheme.lower() not in ("elasticsearch", "opensearch") or not rest:
        return 0, ""
    from .elastic import ElasticConfig
    from .elastic.spool import Spool

    path = ElasticConfig.from_url(rest, flavour=scheme.lower()).spool
    assert path is not None
    return Spool(path).pending(), str(path)


__all__ = ["ENGINES", "Hit", "HitFinding", "ListingVersion", "SearchQuery", "SearchResult", "Snapshot", "Store",
           "StoreUnavailable", "StoredFinding", "Sweep", "open_store", "waiting_writes"]
