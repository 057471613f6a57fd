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

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pipelines.store.base import SearchQuery, Store, TriageEvent

LEAD_STATUSES: tuple[str, ...] = ("new", "confirmed", "dismissed", "referred")
#: lead status -> the status its undecided findings get
FINDING_STATUS: dict[str, str] = {"new": "open", "confirmed": "confirmed", "dismissed": "dismissed",
                                  "referred": "referred"}
#: what an analyst may set on one finding
FINDING_DECISIONS: tuple[str, ...] = ("open", "confirmed", "dismissed")
NOTE_MAX = 5000


@dataclass(frozen=True)
class DismissReason:
    code: str
    label: str
    against_rule: bool  # the rule was wrong here: counts against its precision


#: why a finding was dismissed; only reasons that say the rule was wrong count against the rule's precision
DISMISS_REASONS: dict[str, DismissReason] = {r.code: r for r in (
    DismissReason("false_positive", "误报：文字不构成违法（规则误命中）", True),
    DismissReason("lawful", "经核实合法（有资质、授权或依据）", True),
    DismissReason("duplicate", "重复线索（已在其他线索中处理）", False),
    DismissReason("out_of_scope", "非本辖区或非本次行动范围", False),
    DismissReason("gone", "商品已下架或店铺已关闭", False),
    DismissReason("insufficient", "证据不足，暂无法认定", False),
)}


class TriageError(ValueError):
    """A triage request that cannot be applied (unknown status, unknown user, empty note ...)."""


@dataclass
class Handover:
    """The lead handed to a receiving unit (交办), to be dealt with by ``due`` (a Beijing day, YYYY-MM-DD)."""

    unit: str
    due: str
    at: str
    by: str
    note: str = ""
    done_at: str = ""  # when the receiving unit's result was recorded ("" = still open)
    result: str = ""


@dataclass
class LeadState:
    status: str = "new"
    assignee: str = ""
    updated_at: str = ""
    updated_by: str = ""
    notes: list[TriageEvent] = field(default_factory=list)
    #: finding id -> the reason code of its dismissal (``DISMISS_REASONS``)
    reasons: dict[str, str] = field(default_factory=dict)
    handover: Handover | None = None
    handovers: list[Handover] = field(default_factory=list)  # every handover, oldest first


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
        elif e.action == "dismiss_reason":
            s.reasons[e.finding_id] = e.value
        elif e.action == "handover":
            h = handover_of(e)
            s.handover = h
            s.handovers.append(h)
        elif e.action == "handover_done" and s.handover is not None:
            s.handover.done_at, s.handover.result = e.at, e.value
        s.updated_at, s.updated_by = e.at, e.actor
    return states


def handover_of(e: TriageEvent) -> Handover:
    """The handover a "handover" event records (its value: JSON with unit, due, note)."""
    try:
        v = json.loads(e.value)
    except ValueError:
        v = {"unit": e.value}
    v = v if isinstance(v, dict) else {"unit": str(v)}
    return Handover(str(v.get("unit", "")), str(v.get("due", "")), e.at, e.actor, str(v.get("note", "")))


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


def check_reason(code: str) -> str:
    if code not in DISMISS_REASONS:
        raise TriageError(f"请选择排除原因 / choose a dismissal reason: {', '.join(DISMISS_REASONS)} (got {code!r})")
    return code


def set_status(store: Store, lead_id: str, status: str, actor: str, note: str = "", *, reason: str = "",
               reasons: Mapping[str, str] | None = None) -> TriageEvent | None:
    """Move the lead to ``status`` (and its undecided findings with it); None when it already is there.

    Dismissing: ``reason`` (a ``DISMISS_REASONS`` code) is recorded for every finding the dismissal
    closes, ``reasons`` (finding id -> code) per finding overrides it; the console and the CLI always
    give one, so rule precision only counts the findings whose rule was wrong."""
    if status not in LEAD_STATUSES:
        raise TriageError(f"未知状态 / unknown status {status!r}; use one of {', '.join(LEAD_STATUSES)}")
    split_lead_id(lead_id)
    for code in [reason, *(reasons or {}).values()]:
        if code:
            check_reason(code)
    previous = lead_state(store, lead_id).status
    if status == previous:
        if note:
            add_note(store, lead_id, note, actor)
        return None
    current = lead_finding_ids(store, lead_id)
    moving = [fid for fid, st in current.items() if st in ("open", FINDING_STATUS[previous])]
    with store.transaction():
        store.set_finding_status(list(current), FINDING_STATUS[status], only_from=("open", FINDING_STATUS[previous]))
        event = store.add_triage_event(TriageEvent(lead_id, "status", status, actor, previous=previous))
        if status == "dismissed":
            for fid in moving:
                code = (reasons or {}).get(fid) or reason
                if code:
                    store.add_triage_event(TriageEvent(lead_id, "dismiss_reason", code, actor, finding_id=fid))
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


def decide_finding(store: Store, lead_id: str, finding_id: str, status: str, actor: str, *,
                   reason: str = "") -> TriageEvent | None:
    """Set one finding's status (open / confirmed / dismissed, with its ``reason`` code); None when it already
    has it (a new reason for an already dismissed finding is still recorded)."""
    if status not in FINDING_DECISIONS:
        raise TriageError(f"未知状态 / unknown finding status {status!r}; use one of {', '.join(FINDING_DECISIONS)}")
    if reason:
        check_reason(reason)
    current = lead_finding_ids(store, lead_id)
    if finding_id not in current:
        raise TriageError(f"线索 {lead_id} 没有问题 {finding_id} / the lead has no finding {finding_id}")
    if current[finding_id] == status:
        if status == "dismissed" and reason and lead_state(store, lead_id).reasons.get(finding_id) != reason:
            return store.add_triage_event(TriageEvent(lead_id, "dismiss_reason", reason, actor, finding_id=finding_id))
        return None
    with store.transaction():
        store.set_finding_status([finding_id], status)
        event = store.add_triage_event(TriageEvent(lead_id, "finding_status", status, actor,
                                                   previous=current[finding_id], finding_id=finding_id))
        if status == "dismissed" and reason:
            store.add_triage_event(TriageEvent(lead_id, "dismiss_reason", reason, actor, finding_id=finding_id))
        return event


@dataclass
class BulkResult:
    lead_id: str
    changed: bool
    error: str = ""


BULK_ACTIONS = ("confirm", "dismiss", "assign", "refer")


def bulk(store: Store, lead_ids: Iterable[str], action: str, actor: str, *, reason: str = "", assignee: str = "",
         note: str = "") -> list[BulkResult]:
    """One action on many leads (each lead its own audit events, as if done one by one); a lead that
    cannot take it is reported, the others still done."""
    if action not in BULK_ACTIONS:
        raise TriageError(f"未知操作 / unknown action {action!r}; use one of {', '.join(BULK_ACTIONS)}")
    if action == "dismiss":
        check_reason(reason)
    if action == "assign" and assignee and store.get_user(assignee) is None:
        raise TriageError(f"没有这个用户 / no such user: {assignee!r}")
    out = []
    for lead_id in dict.fromkeys(lead_ids):
        try:
            if action == "assign":
                changed = assign(store, lead_id, assignee, actor) is not None
            else:
                status = {"confirm": "confirmed", "dismiss": "dismissed", "refer": "referred"}[action]
                changed = set_status(store, lead_id, status, actor, note, reason=reason) is not None
            out.append(BulkResult(lead_id, changed))
        except TriageError as exc:
            out.append(BulkResult(lead_id, False, str(exc)))
    return out
