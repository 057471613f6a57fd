"""Re-checks (复查) after a lead was confirmed or referred: is each flagged listing still online?

``netsword recheck`` (:mod:`crawler.recheck`) fetches the listings of confirmed and referred leads
again, with fresh evidence (a sweep of its own: WARC, manifest, seal), and this module keeps what it
found: one audit-trail event per listing (``TriageEvent`` action ``recheck``, value the outcome as
JSON), shown on the lead, counted by the statistics form (督促删除违法商品信息: listings whose latest
re-check found them removed).

Outcomes: ``online`` (the same page), ``changed`` (online, the page changed), ``removed`` (the site
answers 404 / 410, or sends it elsewhere: the listing is gone), ``unreachable`` (no answer: not
known, checked again next time).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from leads.triage import lead_states
from netsword.clock import beijing_time
from pipelines.store.base import SearchQuery, Store, TriageEvent

ACTION = "recheck"
ACTOR = "netsword recheck"
OUTCOMES: dict[str, str] = {"online": "仍在线（未变化）", "changed": "仍在线（页面已变化）", "removed": "已删除/下架",
                            "unreachable": "无法访问（待再查）"}
#: lead statuses whose listings are re-checked
RECHECKED_STATUSES = ("confirmed", "referred")


@dataclass
class Target:
    lead_id: str
    subject_id: str
    url: str
    html_sha256: str  # of the page when it was flagged (the latest kept)
    site: str


@dataclass
class RecheckResult:
    subject_id: str
    url: str
    outcome: str
    http_status: int = 0
    sweep_id: str = ""
    html_sha256: str = ""  # of the page fetched now ("" when none)
    previous_sha256: str = ""
    evidence: str = ""  # the sealed re-check record (relative to the evidence root)
    at: str = ""  # of the event (UTC)

    @property
    def label(self) -> str:
        return OUTCOMES.get(self.outcome, self.outcome)


def targets(store: Store, *, site: str | None = None, lead_ids: Iterable[str] | None = None) -> list[Target]:
    """The listings of confirmed and referred leads (or of ``lead_ids``) that carry findings."""
    wanted = set(lead_ids or [])
    states = lead_states(store)
    chosen = wanted or {lid for lid, s in states.items() if s.status in RECHECKED_STATUSES}
    out: dict[str, Target] = {}
    for lead_id in sorted(chosen):
        lead_site, _, shop_id = lead_id.partition(":")
        if site and lead_site != site:
            continue
        q = SearchQuery(site=lead_site, shop_id=shop_id, include_resolved=True)
        for f in store.iter_findings(q):
            if f["subject_kind"] != "listing" or f["subject_id"] in out or not f.get("url"):
                continue
            listing = store.get_listing(f["subject_id"])
            sha = (listing.html_sha256 if listing is not None else "") or f.get("snapshot_sha256") or ""
            out[f["subject_id"]] = Target(lead_id, f["subject_id"], listing.url if listing else f["url"], sha,
                                          lead_site)
    return list(out.values())


def record(store: Store, lead_id: str, result: RecheckResult) -> TriageEvent:
    """Keep a re-check's result in the lead's audit trail."""
    data = asdict(result)
    data.pop("at", None)
    return store.add_triage_event(TriageEvent(lead_id, ACTION, json.dumps(data, ensure_ascii=False), ACTOR))


def parse(event: TriageEvent) -> RecheckResult | None:
    try:
        data = json.loads(event.value)
        return RecheckResult(**{k: v for k, v in data.items() if k in RecheckResult.__dataclass_fields__},
                             at=event.at)
    except (ValueError, TypeError):
        return None


def latest(events: Iterable[TriageEvent]) -> dict[str, RecheckResult]:
    """subject id -> its latest re-check, from a lead's events (oldest first)."""
    out: dict[str, RecheckResult] = {}
    for e in events:
        if e.action == ACTION and (r := parse(e)) is not None:
            out[r.subject_id] = r
    return out


def removals(store: Store, date_from: str | None = None, date_to: str | None = None) -> int | None:
    """Listings of confirmed or referred leads whose latest re-check found them removed, the re-check in
    the period (Beijing days, inclusive); None when nothing was ever re-checked (the form leaves it blank)."""
    events = store.triage_events()
    if not any(e.action == ACTION for e in events):
        return None
    states = lead_states(store)
    by_lead: dict[str, list[TriageEvent]] = {}
    for e in events:
        if e.action == ACTION:
            by_lead.setdefault(e.lead_id, []).append(e)
    n = 0
    for lead_id, evs in by_lead.items():
        if states.get(lead_id) is None or states[lead_id].status not in RECHECKED_STATUSES:
            continue
        for r in latest(evs).values():
            day = beijing_time(r.at)[:10]
            if r.outcome == "removed" and (not date_from or day >= date_from) and (not date_to or day <= date_to):
                n += 1
    return n
