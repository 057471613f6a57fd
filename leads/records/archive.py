"""A lead's (or a batch's) pages as a WACZ, and its extraction record files, each in one call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from leads.leads import Lead
from leads.records.extraction import ExtractionRecord, build_extraction_record
from leads.records.pages import evidence_pages
from leads.records.render import write_record_docx, write_record_pdf
from pipelines.evidence import WaczSummary, write_wacz
from pipelines.store.base import Store


def lead_wacz(store: Store, evidence_dir: Path | str, leads: Sequence[Lead], out: Path | str, *,
              title: str = "") -> WaczSummary:
    """The WACZ of the leads' pages (their WARC records, pages.jsonl, CDXJ index, datapackage.json)."""
    pages = evidence_pages(store, evidence_dir, leads)
    sweeps = sorted({p.sweep_id for p in pages if p.sweep_id})
    urls = {p.url for p in pages if p.url}
    if not urls:
        raise ValueError("这些线索没有已保存的网页 / these leads have no kept pages")
    names = "、".join(lead.shop_name or lead.lead_id for lead in leads[:3])
    ids = " ".join(lead.lead_id for lead in leads[:5]) + (" ..." if len(leads) > 5 else "")
    return write_wacz(evidence_dir, sweeps, out, urls=urls, title=title or f"netsword {ids}",
                      description=f"netsword: {len(urls)} pages of {names}")


@dataclass
class RecordFiles:
    record: ExtractionRecord
    docx: Path
    pdf: Path | None  # None when no browser could print it
    pdf_problem: str = ""


def write_extraction_record(store: Store, evidence_dir: Path | str, leads: Sequence[Lead], folder: Path | str, *,
                            operator: str, witness: str = "", stem: str = "电子数据提取笔录", exit_ip: str = "",
                            unit: str = "") -> RecordFiles:
    """``<folder>/<stem>.docx`` and ``.pdf`` for these leads (the PDF left out, and said why, without a browser)."""
    from leads.records.render import RenderError

    record = build_extraction_record(store, evidence_dir, leads, operator=operator, witness=witness,
                                     exit_ip=exit_ip, unit=unit)
    folder = Path(folder)
    docx = write_record_docx(record, folder / f"{stem}.docx")
    try:
        pdf: Path | None = write_record_pdf(record, folder / f"{stem}.pdf")
        problem = ""
    except RenderError as exc:
        pdf, problem = None, str(exc)
    return RecordFiles(record, docx, pdf, problem)
