"""Leads: the cases enforcement teams act on. One lead = one shop (operator) with its findings.

A lead's id is the shop's subject id ``<site>:<shop_id>``. Its findings are the findings of
the shop page and of every listing of the shop that pass the query's filters; its main
category follows ``leads.categories``; its status, assignee and notes come from the
triage trail (``leads.triage``); its operator group from ``leads.clustering``.
Listings whose shop page was never fetched still make a lead (named from the listings).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leads.categories import NOT_COUNTED, main_category, seriousness
from leads.clustering import Clustering, OperatorGroup, cluster
from leads.triage import LeadState, lead_state, lead_states, split_lead_id
from pipelines.store.base import SEVERITY_RANK, SearchQuery, Store, as_query


@dataclass
class Lead:
    lead_id: str
    site: str
    shop_id: str
    shop_name: str = ""
    operator: str = ""
    license_number: str = ""
    phone: str = ""
    address: str = ""
    shop_url: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)  # Store.iter_findings dicts, worst first
    state: LeadState = field(default_factory=LeadState)
    group: OperatorGroup | None = None

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def assignee(self) -> str:
        return self.state.assignee

    @property
    def counted(self) -> list[dict[str, Any]]:
        """Findings that count towards the case (not dismissed)."""
        return [f for f in self.findings if f["status"] not in NOT_COUNTED]

    @property
    def main_category(self) -> str | None:
        return main_category(self.findings)

    @property
    def max_severity(self) -> str | None:
        return max((f["severity"] for f in self.counted), key=lambda s: SEVERITY_RANK.get(s, 0), default=None)

    @property
    def categories(self) -> dict[str, int]:
        """Counted findings per category, most serious category first."""
        counts = Counter(f["category"] for f in self.counted)
        worst = {c: max(seriousness(c, f["severity"]) for f in self.counted if f["category"] == c) for c in counts}
        return {c: counts[c] for c in sorted(counts, key=lambda c: worst[c], reverse=True)}

    @property
    def subjects(self) -> int:
        """How many listings (and the shop page) the findings are on."""
        return len({(f["subject_kind"], f["subject_id"]) for f in self.findings})

    @property
    def first_seen(self) -> str:
        return min((f["first_seen"] for f in self.findings), default="")

    @property
    def last_seen(self) -> str:
        return max((f["last_seen"] for f in self.findings), default="")

    def seriousness(self) -> tuple[int, int]:
        """Of the most serious counted finding (larger is worse); (0, 0) when nothing counts."""
        return max((seriousness(f["category"], f["severity"]) for f in self.counted), default=(0, 0))


def sort_leads(leads: list[Lead]) -> list[Lead]:
    """Most serious first; among equals the most recently seen first."""
    newest_first = sorted(leads, key=lambda lead: (lead.last_seen, lead.lead_id), reverse=True)
    return sorted(newest_first, key=Lead.seriousness, reverse=True)


def _new_lead(lead_id: str, f: Mapping[str, Any] | None = None) -> Lead:
    site, shop_id = split_lead_id(lead_id)
    lead = Lead(lead_id, site, shop_id)
    if f is not None:
        lead.shop_name = f.get("shop_name") or ""
        lead.operator = f.get("operator") or ""
        lead.license_number = f.get("license_number") or ""
    return lead


def _fill_shop(lead: Lead, store: Store, shops: Mapping[str, Any] | None) -> None:
    shop = shops.get(lead.lead_id) if shops is not None else store.get_shop(lead.lead_id)
    if shop is None:
        return
    lead.shop_name = shop.name or lead.shop_name
    lead.operator = shop.operator or lead.operator
    lead.license_number = shop.license_number or lead.license_number
    lead.phone, lead.address, lead.shop_url = shop.phone, shop.address, shop.url


def build_leads(store: Store, q: SearchQuery | Mapping[str, Any] | None = None, *,
                status: str | tuple[str, ...] | None = None, main: str | None = None,
                assignee: str | None = None, clustering: Clustering | None = None) -> list[Lead]:
    """Leads whose findings pass ``q`` (Store.iter_findings filters), most serious first.

    ``status``, ``main`` (main category) and ``assignee`` filter the leads themselves.
    """
    q = as_query(q)
    leads: dict[str, Lead] = {}
    for f in store.iter_findings(q):
        lead_id = f"{f['site']}:{f['shop_id']}"
        lead = leads.get(lead_id)
        if lead is None:
            lead = leads[lead_id] = _new_lead(lead_id, f)
        lead.findings.append(f)
    shops = {s.subject_id: s for s in store.iter_shops()}
    groups = clustering if clustering is not None else cluster(shops.values(), pictures=store.iter_listing_pictures())
    states = lead_states(store)
    wanted = (status,) if isinstance(status, str) else status
    out = []
    for lead in leads.values():
        _fill_shop(lead, store, shops)
        lead.state = states.get(lead.lead_id, LeadState())
        lead.group = groups.group_of(lead.lead_id)
        if wanted and lead.status not in wanted:
            continue
        if (main and lead.main_category != main) or (assignee is not None and lead.assignee != assignee):
            continue
        out.append(lead)
    return sort_leads(out)


def get_lead(store: Store, lead_id: str) -> Lead | None:
    """One lead with all its findings (resolved ones too); None when the shop is unknown and has no findings."""
    site, shop_id = split_lead_id(lead_id)
    lead = _new_lead(lead_id)
    lead.findings = list(store.iter_findings(SearchQuery(site=site, shop_id=shop_id, include_resolved=True)))
    if lead.findings:
        first = lead.findings[0]
        lead.shop_name, lead.operator = first.get("shop_name") or "", first.get("operator") or ""
        lead.license_number = first.get("license_number") or ""
    shop = store.get_shop(lead_id)
    if shop is None and not lead.findings:
        return None
    _fill_shop(lead, store, {lead_id: shop} if shop is not None else {})
    lead.state = lead_state(store, lead_id)
    lead.group = cluster(store.iter_shops(), pictures=store.iter_listing_pictures()).group_of(lead_id)
    return lead


def facet_counts(leads: list[Lead]) -> dict[str, dict[str, int]]:
    """Leads per status and per main category (for the console's lead list)."""
    status = Counter(lead.status for lead in leads)
    main = Counter(lead.main_category or "" for lead in leads)
    main.pop("", None)
    return {"status": dict(status.most_common()), "main_category": dict(main.most_common())}
