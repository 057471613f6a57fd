"""Handover (交办): a lead, or a batch of leads, handed to a receiving unit (a district bureau, an enforcement
team) to be dealt with by a due date; the unit's result recorded when it reports back.

Both are triage events (``handover`` with JSON {unit, due, note}; ``handover_done`` with the result), so
they are in the lead's audit trail and survive like every decision. A lead's current handover is
``LeadState.handover``; it is overdue when the due day (Beijing) has passed without a result.

The handover notice document (交办函) is made by the evidence-records generator where one is installed:
``set_notice_generator(fn)`` registers it (``fn(store, lead, handover, out_dir) -> Path``), and
``notice_for`` calls it; without one, no document is made and the console says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from leads.dates import parse_day
from leads.triage import BulkResult, Handover, TriageError, lead_state, split_lead_id
from netsword.clock import today_beijing
from pipelines.store.base import Store, TriageEvent

UNIT_MAX = 100
DUE_SOON_DAYS = 3
NoticeGenerator = Callable[[Store, Any, Handover, Path], Path]
_generator: NoticeGenerator | None = None


def set_notice_generator(fn: NoticeGenerator | None) -> None:
    """Install the handover-notice document generator (the evidence-records room's); None removes it."""
    global _generator
    _generator = fn


def notice_for(store: Store, lead: Any, out_dir: Path) -> Path | None:
    """The handover notice of the lead's current handover, made by the installed generator; None when no
    generator is installed or the lead was not handed over."""
    h = lead.state.handover
    if _generator is None or h is None:
        return None
    return _generator(store, lead, h, out_dir)


def has_notice_generator() -> bool:
    return _generator is not None


def _due(value: str | date) -> str:
    try:
        day = value if isinstance(value, date) else parse_day(str(value).strip())
    except ValueError:
        day = None
    if day is None:
        raise TriageError(f"办理期限应为日期 YYYY-MM-DD / the due date must be YYYY-MM-DD, got {value!r}")
    if day < today_beijing():
        raise TriageError(f"办理期限 {day} 已过 / the due date {day} is in the past")
    return day.isoformat()


def hand_over(store: Store, lead_id: str, unit: str, due: str | date, actor: str, note: str = "") -> TriageEvent:
    """Hand the lead to ``unit`` until ``due`` (a day, Beijing). A new handover replaces the current one."""
    split_lead_id(lead_id)
    unit = " ".join(unit.split())
    if not unit or len(unit) > UNIT_MAX:
        raise TriageError(f"请填写接收单位（最多 {UNIT_MAX} 字）/ name the receiving unit (at most {UNIT_MAX} "
                          "characters)")
    value = json.dumps({"unit": unit, "due": _due(due), "note": note.strip()[:2000]}, ensure_ascii=False)
    previous = lead_state(store, lead_id).handover
    return store.add_triage_event(TriageEvent(lead_id, "handover", value, actor,
                                              previous=previous.unit if previous else ""))


def hand_over_many(store: Store, lead_ids: Iterable[str], unit: str, due: str | date, actor: str,
                   note: str = "") -> list[BulkResult]:
    _due(due)  # refuse a bad date once, before anything is written
    out = []
    for lead_id in dict.fromkeys(lead_ids):
        try:
            hand_over(store, lead_id, unit, due, actor, note)
            out.append(BulkResult(lead_id, True))
        except TriageError as exc:
            out.append(BulkResult(lead_id, False, str(exc)))
    return out


def record_result(store: Store, lead_id: str, result: str, actor: str) -> TriageEvent:
    """The receiving unit's result (办理结果) for the lead's current handover."""
    h = lead_state(store, lead_id).handover
    if h is None:
        raise TriageError("该线索尚未交办 / the lead was not handed over")
    result = result.strip()
    if not result:
        raise TriageError("请填写办理结果 / write the result")
    return store.add_triage_event(TriageEvent(lead_id, "handover_done", result[:5000], actor, previous=h.unit))


def handover_class(h: Handover | None, today: date | None = None) -> str:
    """"done" (result recorded), "overdue" (due day passed), "due-soon" (within 3 days), "open", or "" (none)."""
    if h is None:
        return ""
    if h.done_at:
        return "done"
    today = today or today_beijing()
    try:
        due = date.fromisoformat(h.due)
    except ValueError:
        return "open"
    if due < today:
        return "overdue"
    return "due-soon" if due <= today + timedelta(days=DUE_SOON_DAYS) else "open"


def is_overdue(h: Handover | None, today: date | None = None) -> bool:
    return handover_class(h, today) == "overdue"
