"""Triage: a lead's status, assignee and notes, every change kept with who and when.

Lead statuses, in workflow order: ``new`` (待核查) -> ``confirmed`` (已确认) -> ``referred``
(已移送, handed to an enforcement team), or ``dismissed`` (已排除, a false alarm). The audit
trail (``Store.triage_events``) is append-only; a lead's current state is the fold of its
events (``fold``), so nothing is ever overwritten.

A lead's status also goes onto its findings (``FINDING_STATUS``): confirming a lead confirms
its open findings, dismissing it dismisses them. An analyst can also decide one finding
alone (a real case with one noisy rule hit): such a finding keeps its own status when the
lead's status changes later. Findings a rescan resolved keep "resolved". Finding statuses
feed the per-rule precision of ``leads.rulestats``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pipelines.store.base import SearchQuery, Store, TriageEvent

LEAD_STATUSES: tuple[str, ...] = ("new", "confirmed", "dismissed", "referred")
#: lead status -> the status its undecided findings get
FINDING_STATUS: dict[str, str] = {"new": "open", "confirmed": "confirmed", "dismissed": "dismissed",
                                  "referred": "referred"}
#: what an analyst may set on one finding
FINDING_DECISIONS: tuple[str, ...] = ("open", "confirmed", "dismissed")
NOTE_MAX = 5000


class TriageError(ValueError):
    """A triage request that cannot be applied (unknown status, unknown user, empty note ...)."""


@dataclass
class LeadState:
    status: str = "new"
    assignee: str = ""
    updated_at: str = ""
    updated_by: str = ""
    notes: list[TriageEvent] = field(default_factory=list)


def fold(events: Iterable[TriageEvent]) -> dict[str, LeadState]:
    """Current state per lead id from its events (oldest first)."""
    states: dict[str, LeadState] = {}
    for e in events:
        s = states.setdefault(e.lead_id, LeadState())
        if e.action == "status":
            s.status = e.value
        elif e.action == "assign":
            s.assignee = e.value
        elif e.action == "note":
            s.notes.append(e)
        s.updated_at, s.updated_by = e.at, e.actor
    return states


def lead_states(store: Store) -> dict[str, LeadState]:
    return fold(store.triage_events())


def lead_state(store: Store, lead_id: str) -> LeadState:
    return fold(store.triage_events(lead_id)).get(lead_id, LeadState())


def split_lead_id(lead_id: str) -> tuple[str, str]:
    site, sep, shop_id = lead_id.partition(":")
    if not sep or not site or not shop_id:
        raise TriageError(f"线索编号应为 平台:店铺编号 / a lead id is site:shop_id, got {lead_id!r}")
    return site, shop_id


def lead_finding_ids(store: Store, lead_id: str) -> dict[str, str]:
    """finding id -> status, for every finding of the lead (resolved ones too)."""
    site, shop_id = split_lead_id(lead_id)
    q = SearchQuery(site=site, shop_id=shop_id, include_resolved=True)
    return {d["finding_id"]: d["status"] for d in store.iter_findings(q)}


def set_status(store: Store, lead_id: str, status: str, actor: str, note: str = "") -> TriageEvent | None:
    """Move the lead to ``status`` (and its undecided findings with it); None when it already is there."""
    if status not in LEAD_STATUSES:
        raise TriageError(f"未知状态 / unknown status {status!r}; use one of {', '.join(LEAD_STATUSES)}")
    split_lead_id(lead_id)
    previous = lead_state(store, lead_id).status
    if status == previous:
        if note:
            add_note(store, lead_id, note, actor)
        return None
    ids = list(lead_finding_ids(store, lead_id))
    with store.transaction():
        store.set_finding_status(ids, FINDING_STATUS[status], only_from=("open", FINDING_STATUS[previous]))
        event = store.add_triage_event(TriageEvent(lead_id, "status", status, actor, previous=previous))
        if note:
            add_note(store, lead_id, note, actor)
    return event


def assign(store: Store, lead_id: str, assignee: str, actor: str) -> TriageEvent | None:
    """Give the lead to ``assignee`` (a console user; "" takes it back); None when nothing changes."""
    split_lead_id(lead_id)
    assignee = assignee.strip()
    if assignee and store.get_user(assignee) is None:
        raise TriageError(f"没有这个用户 / no such user: {assignee!r}")
    previous = lead_state(store, lead_id).assignee
    if assignee == previous:
        return None
    return store.add_triage_event(TriageEvent(lead_id, "assign", assignee, actor, previous=previous))


def add_note(store: Store, lead_id: str, text: str, actor: str) -> TriageEvent:
    split_lead_id(lead_id)
    text = text.strip()
    if not text:
        raise TriageError("备注为空 / the note is empty")
    if len(text) > NOTE_MAX:
        raise TriageError(f"备注过长（最多 {NOTE_MAX} 字）/ note longer than {NOTE_MAX} characters")
    return store.add_triage_event(TriageEvent(lead_id, "note", text, actor))


def decide_finding(store: Store, lead_id: str, finding_id: str, status: str, actor: str) -> TriageEvent | None:
    """Set one finding's status (open / confirmed / dismissed); None when it already has it."""
    if status not in FINDING_DECISIONS:
        raise TriageError(f"未知状态 / unknown finding status {status!r}; use one of {', '.join(FINDING_DECISIONS)}")
    current = lead_finding_ids(store, lead_id)
    if finding_id not in current:
        raise TriageError(f"线索 {lead_id} 没有问题 {finding_id} / the lead has no finding {finding_id}")
    if current[finding_id] == status:
        return None
    with store.transaction():
        store.set_finding_status([finding_id], status)
        return store.add_triage_event(TriageEvent(lead_id, "finding_status", status, actor,
                                                  previous=current[finding_id], finding_id=finding_id))
