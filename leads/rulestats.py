"""Per-rule precision from analysts' decisions: which rules make noise (`netsword rules stats`).

precision = (confirmed + referred) / (confirmed + referred + dismissed), over the findings of
the rule that an analyst decided (directly, or through the lead's status, see
``leads.triage``). Undecided findings (open, resolved) do not enter it; a rule nobody
decided on yet has no precision (None), not 0 or 1. A finding dismissed for a reason that
does not blame the rule (a duplicate lead, out of the unit's area, the listing gone: see
``leads.triage.DISMISS_REASONS``) is counted as ``set_aside``, not as dismissed; dismissals
without a recorded reason (made before reasons existed) count as dismissed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipelines.store.base import SearchQuery, Store, as_query


@dataclass
class RuleStat:
    rule_id: str
    title: str
    pack: str
    category: str
    findings: int = 0
    open: int = 0
    resolved: int = 0
    confirmed: int = 0
    referred: int = 0
    dismissed: int = 0
    set_aside: int = 0  # dismissed for a reason that does not blame the rule

    @property
    def decided(self) -> int:
        return self.confirmed + self.referred + self.dismissed

    @property
    def precision(self) -> float | None:
        return (self.confirmed + self.referred) / self.decided if self.decided else None

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "decided": self.decided, "precision": self.precision}


def rule_stats(store: Store, q: SearchQuery | Mapping[str, Any] | None = None) -> list[RuleStat]:
    """One row per rule with findings passing ``q`` (resolved ones included); noisiest decided rules first,
    then rules without decisions by number of findings."""
    q = as_query(q)
    if not q.status:
        q = replace(q, include_resolved=True)
    from leads.triage import DISMISS_REASONS, lead_states

    reasons = {fid: code for state in lead_states(store).values() for fid, code in state.reasons.items()}
    stats: dict[str, RuleStat] = {}
    for f in store.iter_findings(q):
        s = stats.get(f["rule_id"])
        if s is None:
            s = stats[f["rule_id"]] = RuleStat(f["rule_id"], f["title"], f["pack"], f["category"])
        s.findings += 1
        reason = DISMISS_REASONS.get(reasons.get(f["finding_id"], ""))
        if f["status"] == "dismissed" and reason is not None and not reason.against_rule:
            s.set_aside += 1
        elif f["status"] in ("open", "resolved", "confirmed", "referred", "dismissed"):
            setattr(s, f["status"], getattr(s, f["status"]) + 1)
    return sorted(stats.values(), key=lambda s: (s.precision is None, s.precision or 0, -s.findings, s.rule_id))
