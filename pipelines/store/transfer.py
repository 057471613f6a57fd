"""Copying a whole store to another engine (``netsword index copy``): SQLite -> Elasticsearch and back.

Each engine implements ``Store.dump()`` (engine-neutral records, plain JSON-able dicts) and
``Store.load(records)``, keeping everything the contract can observe: the latest observation of
each subject with its first seen and sweeps, every listing version, every finding with its life
cycle and triage status, snapshots, sweeps, page states, the triage audit trail and console users.

Record types: ``sweep``, ``listing`` / ``shop`` (``item``, ``first_seen``, ``first_sweep_id``,
``sweeps``, listings also ``versions``), ``finding`` (``finding`` + ``state``), ``snapshot``,
``page_state`` (``state``), ``triage_event`` (``event``), ``user`` (``user``), ``run`` (``run``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .base import Store

Record = dict[str, Any]


def dump(store: Store) -> Iterator[Record]:
    """Every record ``store`` keeps (its engine's ``dump``)."""
    return store.dump()


def load(store: Store, records: Iterable[Record]) -> int:
    """Write ``records`` into ``store``; returns how many were written."""
    return store.load(records)
