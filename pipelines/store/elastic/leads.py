"""The leads index for Kibana: ``ElasticStore.index_leads(documents)``.

The documents are built by the analysts' room (:mod:`leads.kibana`); this module only writes
them and removes leads that no longer exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ElasticLeadsIndex:
    """``index_leads`` (mixed into ElasticStore)."""

    es: Any

    def index_leads(self, documents: Iterable[dict[str, Any]]) -> int:
        """Replace the leads index's documents with ``documents`` (each with a ``lead_id``); returns how many."""
        from .flavour import bulk

        self.flush()  # type: ignore[attr-defined]
        alias = self.alias("leads")  # type: ignore[attr-defined]
        ids = []
        actions = []
        for doc in documents:
            ids.append(doc["lead_id"])
            actions.append({"_op_type": "index", "_index": alias, "_id": doc["lead_id"], "_source": doc})
        bulk(self.es, actions, chunk_size=500, max_retries=5, initial_backoff=0.5)
        self.es.delete_by_query(index=alias, query={"bool": {"must_not": [{"ids": {"values": ids}}]}}, refresh=True)
        return len(ids)
