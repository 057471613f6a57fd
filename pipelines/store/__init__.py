"""Where listings, shops, findings and snapshots live: ``open_store(url) -> Store``.

Supported URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
``sqlite:///:memory:`` or a plain file path (SQLite); ``elasticsearch://[user:pass@]host:9200[/prefix]``
(Elasticsearch 8.x, see ``elastic.py``). Engines register a factory in ``ENGINES`` under their URL scheme.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import Hit, HitFinding, ListingVersion, SearchQuery, SearchResult, Snapshot, Store, StoredFinding, Sweep


def _sqlite(rest: str, **kwargs: Any) -> Store:
    from .sqlite import SQLiteStore

    if not rest:
        raise ValueError("sqlite store URL needs a path: sqlite:///path/to.db")
    return SQLiteStore(rest, **kwargs)


def _elasticsearch(rest: str, **kwargs: Any) -> Store:
    from .elastic import open_elastic

    return open_elastic(rest, **kwargs)


#: URL scheme -> factory(rest of the URL after "scheme://", **kwargs)
ENGINES: dict[str, Callable[..., Store]] = {"sqlite": lambda rest, **kw: _sqlite(rest.removeprefix("/"), **kw),
                                            "elasticsearch": _elasticsearch}


def configured_store_url() -> str:
    """The store to use: ``$NETSWORD_STORE``, else ``store:`` in the config file (``$NETSWORD_CONFIG``,
    default ``$NETSWORD_HOME/netsword.yml``), else ``sqlite:///$NETSWORD_HOME/netsword.db``
    (``$NETSWORD_HOME`` defaults to ./var)."""
    if url := os.environ.get("NETSWORD_STORE"):
        return url
    home = Path(os.environ.get("NETSWORD_HOME") or "var").resolve()
    config = Path(os.environ.get("NETSWORD_CONFIG") or home / "netsword.yml")
    if config.is_file():
        import yaml

        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ValueError(f"{config}: not valid YAML: {e}") from e
        if not isinstance(data, dict):
            raise ValueError(f"{config}: expected a mapping such as 'store: elasticsearch://localhost:9200'")
        if data.get("store"):
            return str(data["store"])
    return f"sqlite:///{home / 'netsword.db'}"


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


__all__ = ["ENGINES", "Hit", "HitFinding", "ListingVersion", "SearchQuery", "SearchResult", "Snapshot", "Store",
           "StoredFinding", "Sweep", "configured_store_url", "open_store"]
