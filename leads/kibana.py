"""Lead documents for Kibana: what ``netsword index leads`` hands to the Elasticsearch store.

Leads are not stored by the engines: :func:`leads.leads.build_leads` derives them from findings
and the triage trail on every request. Kibana cannot run that code, so this module snapshots
them (main category by the form's rule, status, assignee, counts) as plain documents; the store
writes them into ``<prefix>-leads`` (``ElasticStore.index_leads``) and deletes leads that no
longer exist. Run it after sweeps or triage sessions (the compose ``setup`` service runs it once).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from leads.clustering import cluster
from leads.leads import build_leads
from netsword.clock import utc_now
from pipelines.store.base import SEVERITY_RANK, Store


def lead_documents(store: Store) -> Iterator[dict[str, Any]]:
    """One document per lead (all leads, resolved ones too), ready for ``Store.index_leads``."""
    groups = cluster(store.iter_shops(), pictures=store.iter_listing_pictures())
    leads = build_leads(store, {"include_resolved": True}, clustering=groups)
    for lead in leads:
        yield {"lead_id": lead.lead_id, "site": lead.site, "shop_id": lead.shop_id, "shop_key": lead.lead_id,
               "shop_name": lead.shop_name, "operator": lead.operator, "license_number": lead.license_number,
               "group_id": lead.group.group_id if lead.group else lead.lead_id,
               "main_category": lead.main_category, "categories": list(lead.categories),
               "severity": lead.max_severity, "severity_rank": SEVERITY_RANK.get(lead.max_severity or "", 0),
               "status": lead.status, "assignee": lead.assignee,
               "finding_ids": [f["finding_id"] for f in lead.findings], "finding_count": len(lead.counted),
               "notes": "\n".join(n.value for n in lead.state.notes), "created_at": lead.first_seen or None,
               "updated_at": lead.state.updated_at or lead.last_seen or utc_now(),
               "data": {"subjects": lead.subjects, "categories": lead.categories}}
