"""What analysts do with findings: search, triage, export, report.

Shared display labels live here so every output (terminal, spreadsheets, web) says the
same thing.
"""

from __future__ import annotations

#: Severity as written on forms and spreadsheets.
SEVERITY_LABELS: dict[str, str] = {"critical": "严重", "high": "高", "medium": "中", "low": "低"}

#: Finding status as shown to analysts; unknown statuses (set by triage) are shown as they are.
STATUS_LABELS: dict[str, str] = {"open": "待核查", "resolved": "复查已消除", "confirmed": "已确认",
                                 "dismissed": "已排除（误报）", "referred": "已移送"}

#: Lead (case) status as shown to analysts, in workflow order (see ``leads.triage``).
LEAD_STATUS_LABELS: dict[str, str] = {"new": "待核查", "confirmed": "已确认", "dismissed": "已排除",
                                      "referred": "已移送"}


def severity_label(severity: str | None) -> str:
    return SEVERITY_LABELS.get(severity or "", severity or "")


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "")


def lead_status_label(status: str | None) -> str:
    return LEAD_STATUS_LABELS.get(status or "", status or "")
