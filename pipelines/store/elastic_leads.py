"""Lead documents for Kibana: ``netsword index leads`` writes one document per lead into ``<prefix>-leads``.

Leads are not stored by the engines: ``leads.leads.build_leads`` derives them from findings and
the triage trail on every request. Kibana cannot run that code, so this module snapshots them
(main category by the form's rule, status, assignee, counts) into the leads index; run it after
sweeps or triage sessions (the compose ``setup`` service runs it once). Leads that no longer
exist are deleted from the index.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .base import SEVERITY_RANK, utcnow


def lead_docs(store: Any) -> Iterator[dict[str, Any]]:
    from leads.clustering import cluster
    from leads.leads import build_leads

    leads = build_leads(store, {"include_resolved": True}, clustering=cluster(store.iter_shops()))
    for lead in leads:
        yield {"lead_id": lead.lead_id, "site": lead.site, "shop_id": lead.shop_id, "shop_key": lead.lead_id,
               "shop_name": lead.shop_name, "operator": lead.operator, "license_number": lead.license_number,
               "group_id": lead.group.group_id if lead.group else lead.lead_id,
               "main_category": lead.main_category, "categories": list(lead.categories),
               "severity": lead.max_severity, "severity_rank": SEVERITY_RANK.get(lead.max_severity or "", 0),
               "status": lead.status, "assignee": lead.assignee,
               "finding_ids": [f["finding_id"] for f in lead.findings], "finding_count": len(lead.counted),
               "notes": "\n".join(n.value for n in lead.state.notes), "created_at": lead.first_seen or None,
               "updated_at": lead.state.updated_at or lead.last_seen or utcnow(),
               "data": {"subjects": lead.subjects, "categories": lead.categories}}


def index_leads(store: Any) -> int:
    """Replace the leads index's documents with the current leads; returns how many were written."""
    from elasticsearch import helpers

    store.flush()
    alias = store.alias("leads")
    ids = []
    actions = []
    for doc in lead_docs(store):
        ids.append(doc["lead_id"])
        actions.append({"_op_type": "index", "_index": alias, "_id": doc["lead_id"], "_source": doc})
    helpers.bulk(store.es, actions, chunk_size=500, max_retries=5, initial_backoff=0.5)
    store.es.delete_by_query(index=alias, query={"bool": {"must_not": [{"ids": {"values": ids}}]}}, refresh=True)
    return len(ids)
