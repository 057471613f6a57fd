"""The 线索交办通知书 (handover notice): leads handed to a receiving unit, with a due date.

:func:`handover_notice` is the one entry point the console's handover workflow calls: the leads,
the receiving unit, the due date and who issues it; :mod:`leads.records.render` writes the notice
as DOCX and PDF (``write_notice_docx``, ``write_notice_pdf``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from leads.leads import Lead
from leads.records.extraction import LeadLine, lead_line
from netsword.clock import beijing_time, utc_now
from netsword.digests import sha256_bytes

if TYPE_CHECKING:
    from leads.triage import Handover


@dataclass
class HandoverNotice:
    number: str
    receiving_unit: str
    due_date: date
    issuer: str  # the person issuing (analyst)
    issuing_unit: str
    made_at: str  # Beijing time
    leads: list[LeadLine]
    evidence: str = ""  # the evidence bundle handed with it (file name), if any
    note: str = ""
    requests: list[str] = field(default_factory=lambda: [
        "请依法核查处理上述线索，并在办结期限前将核查处理结果（立案、责令整改、督促删除违法商品信息等）书面反馈交办单位。",
        "附件证据包可用 netsword evidence verify 或 sha256sum、openssl 核验其完整性和时间。",
        "如线索不属于贵单位管辖，请于收到本通知之日起 5 个工作日内退回并说明理由。"])

    @property
    def title(self) -> str:
        return "线索交办通知书"

    @property
    def due_zh(self) -> str:
        return f"{self.due_date.year}年{self.due_date.month}月{self.due_date.day}日"


def handover_notice(leads: Sequence[Lead], receiving_unit: str, due_date: date, issuer: str, *,
                    issuing_unit: str = "", evidence: str = "", note: str = "", number: str = "") -> HandoverNotice:
    """The notice handing ``leads`` to ``receiving_unit``, to be dealt with by ``due_date``, issued by ``issuer``."""
    if not receiving_unit.strip():
        raise ValueError("接收单位为空 / the receiving unit is empty")
    if not leads:
        raise ValueError("没有线索 / no leads to hand over")
    made = utc_now()
    ids = ",".join(lead.lead_id for lead in leads)
    tag = sha256_bytes(f"{ids}|{receiving_unit}|{made}".encode())[:6].upper()
    number = number or f"NS-JB-{made[:10].replace('-', '')}-{tag}"
    return HandoverNotice(number, receiving_unit.strip(), due_date, issuer, issuing_unit or "（交办单位）",
                          beijing_time(made), [lead_line(lead) for lead in leads], evidence, note)


def notice_document(store: object, lead: Lead, handover: Handover, out_dir: Path) -> Path:
    """The console's handover workflow's notice (``leads.handover.set_notice_generator``): the lead's current
    handover (its unit, due day, who handed it over, note) written as DOCX into ``out_dir``."""
    from leads.records.render import write_notice_docx

    notice = handover_notice([lead], handover.unit, date.fromisoformat(handover.due), handover.by,
                             note=handover.note)
    name = f"线索交办通知书-{lead.lead_id.replace(':', '-').replace('/', '-')}.docx"
    return write_notice_docx(notice, Path(out_dir) / name)
