"""`netsword evidence wacz`, `evidence record`, `evidence notice` (attached to the `evidence` group in cli.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

console = Console()


def _store() -> Any:
    from netsword.config import store_url
    from pipelines.store import open_store

    return open_store(store_url()).make_interactive()


def load_leads(store: Any, lead_ids: tuple[str, ...]) -> list[Any]:
    """The leads named (site:shop_id); a UsageError naming the first unknown one."""
    from leads.leads import get_lead
    from leads.triage import TriageError

    out = []
    for lead_id in lead_ids:
        try:
            lead = get_lead(store, lead_id)
        except TriageError as exc:
            raise click.UsageError(str(exc)) from exc
        if lead is None:
            raise click.UsageError(f"没有这条线索 / no such lead: {lead_id}")
        out.append(lead)
    return out


@click.command("wacz")
@click.argument("sweep_or_leads", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="the .wacz file to write")
@click.option("--evidence-dir", default=None, help="evidence root (default: $EVIDENCE_DIR or $NETSWORD_HOME/evidence)")
def evidence_wacz(sweep_or_leads: tuple[str, ...], output: str, evidence_dir: str | None) -> None:
    """WACZ 归档 / package a sweep (SWEEP_ID) or leads (SITE:SHOP ...) as a WACZ any replay tool opens.

    Made with Webrecorder's own `wacz` package and checked with its validator."""
    from netsword.config import evidence_dir as default_evidence_dir
    from pipelines.evidence import validate_wacz, write_wacz

    root = Path(evidence_dir or default_evidence_dir())
    try:
        if all(":" not in x for x in sweep_or_leads):
            summary = write_wacz(root, list(sweep_or_leads), output, title=" ".join(sweep_or_leads))
        else:
            from leads.records.archive import lead_wacz

            store = _store()
            try:
                summary = lead_wacz(store, root, load_leads(store, sweep_or_leads), output)
            finally:
                store.close()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    valid, said = validate_wacz(output)
    console.print(f"WACZ {escape(output)}: {summary.pages} pages from {', '.join(summary.warcs)}; "
                  f"sha256 {summary.sha256}", highlight=False, soft_wrap=True)
    for url in summary.missing:
        console.print(f"[yellow]! 不在 WARC 中 / not in a WARC:[/] {escape(url)}", highlight=False, soft_wrap=True)
    if not valid:
        raise click.ClickException(f"WACZ 未通过校验 / the WACZ does not validate: {said[-300:]}")
    console.print("✓ WACZ 校验通过（wacz validate）/ valid WACZ (wacz validate)")


@click.command("record")
@click.argument("lead_ids", nargs=-1, required=True)
@click.option("--operator", required=True, help="提取人 (the analyst)")
@click.option("--witness", default="", help="见证人 (left blank for a hand-written name when not given)")
@click.option("--unit", default="", help="提取单位")
@click.option("-o", "--output", "folder", required=True, type=click.Path(file_okay=False),
              help="folder for 电子数据提取笔录.docx and .pdf")
def evidence_record(lead_ids: tuple[str, ...], operator: str, witness: str, unit: str, folder: str) -> None:
    """电子数据提取笔录 / the extraction record (DOCX and PDF) of one lead or a batch."""
    from leads.records.archive import write_extraction_record
    from netsword.config import current

    cfg = current()
    store = _store()
    try:
        files = write_extraction_record(store, cfg.evidence_dir, load_leads(store, lead_ids), folder,
                                        operator=operator, witness=witness, unit=unit, exit_ip=cfg.exit_ip)
    finally:
        store.close()
    console.print(f"提取笔录 / extraction record {files.record.number}: {len(files.record.pages)} pages",
                  highlight=False)
    console.print(f"  DOCX {escape(str(files.docx))}", highlight=False, soft_wrap=True)
    if files.pdf is not None:
        console.print(f"  PDF  {escape(str(files.pdf))}", highlight=False, soft_wrap=True)
    else:
        raise click.ClickException(files.pdf_problem)


@click.command("notice")
@click.argument("lead_ids", nargs=-1, required=True)
@click.option("--unit", "receiving_unit", required=True, help="接收单位 (the unit the leads are handed to)")
@click.option("--due", required=True, type=click.DateTime(["%Y-%m-%d"]), help="办结期限 YYYY-MM-DD")
@click.option("--issuer", required=True, help="经办人 (who hands them over)")
@click.option("--issuing-unit", default="", help="交办单位")
@click.option("--evidence", default="", help="the evidence bundle handed with it (file name)")
@click.option("-o", "--output", "folder", required=True, type=click.Path(file_okay=False),
              help="folder for 线索交办通知书.docx and .pdf")
def evidence_notice(lead_ids: tuple[str, ...], receiving_unit: str, due: Any, issuer: str, issuing_unit: str,
                    evidence: str, folder: str) -> None:
    """线索交办通知书 / the handover notice (DOCX and PDF): leads to a receiving unit, with a due date."""
    from leads.records import RenderError, handover_notice, write_notice_docx, write_notice_pdf

    store = _store()
    try:
        leads = load_leads(store, lead_ids)
    finally:
        store.close()
    due_date: date = due.date()
    try:
        notice = handover_notice(leads, receiving_unit, due_date, issuer, issuing_unit=issuing_unit,
                                 evidence=evidence)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    docx = write_notice_docx(notice, Path(folder) / "线索交办通知书.docx")
    console.print(f"交办通知书 / handover notice {notice.number}: DOCX {escape(str(docx))}", highlight=False,
                  soft_wrap=True)
    try:
        pdf = write_notice_pdf(notice, Path(folder) / "线索交办通知书.pdf")
    except RenderError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"  PDF {escape(str(pdf))}", highlight=False, soft_wrap=True)
