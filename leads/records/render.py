"""Writing the extraction record and the handover notice: DOCX (python-docx) and PDF (Chromium).

The PDF is Chromium's own print of an HTML rendering (Jinja2 templates in ``templates/``,
autoescaped: URLs and titles come from the scraped sites), A4, with the CJK font the set-up
installs (Noto Serif CJK, Debian ``fonts-noto-cjk``); no script can run (the page has none, its
CSP allows none). The DOCX is built with python-docx from the same data, East Asian text in
宋体 (Word and LibreOffice fall back to an installed CJK font where 宋体 is missing).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from leads.records.extraction import ExtractionRecord
from leads.records.handover import HandoverNotice
from netsword.chromium import find_chromium

TEMPLATES = Path(__file__).with_name("templates")
CJK_FONT = "宋体"


class RenderError(RuntimeError):
    """A PDF could not be made (no browser, the browser failed); the message says why."""


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def record_html(record: ExtractionRecord) -> str:
    return _env().get_template("extraction.html").render(r=record, css=_css())


def notice_html(notice: HandoverNotice) -> str:
    return _env().get_template("handover.html").render(n=notice, css=_css())


def _css() -> str:
    return (TEMPLATES / "base.css").read_text(encoding="utf-8")


def html_to_pdf(html: str, out: Path | str, *, browser: str | None = None, timeout: float = 120.0) -> Path:
    """Print ``html`` to the PDF ``out`` with headless Chromium (A4, no header/footer, no scripts)."""
    exe = browser or find_chromium()
    if not exe:
        raise RenderError("没有可用的 Chromium，无法生成 PDF / no Chromium to print the PDF with "
                          "(apt-get install chromium fonts-noto-cjk, or set NETSWORD_CHROMIUM)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netsword-pdf-") as d:
        page = Path(d) / "record.html"
        page.write_text(html, encoding="utf-8")
        tmp = Path(d) / "record.pdf"
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                f"--user-data-dir={Path(d) / 'profile'}",
                "--no-pdf-header-footer", f"--print-to-pdf={tmp}", page.as_uri()]
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RenderError(f"Chromium 打印 PDF 失败 / Chromium could not print the PDF: {exc}") from exc
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RenderError(f"Chromium 打印 PDF 失败 / Chromium could not print the PDF (exit {proc.returncode}): "
                              f"{proc.stderr.strip()[-300:]}")
        shutil.move(str(tmp), out)
    return out


def write_record_pdf(record: ExtractionRecord, out: Path | str, *, browser: str | None = None) -> Path:
    return html_to_pdf(record_html(record), out, browser=browser)


def write_notice_pdf(notice: HandoverNotice, out: Path | str, *, browser: str | None = None) -> Path:
    return html_to_pdf(notice_html(notice), out, browser=browser)


# --------------------------------------------------------------------------- DOCX


def _document() -> Any:
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    for section in doc.sections:
        section.page_height, section.page_width = Cm(29.7), Cm(21.0)
        section.left_margin = section.right_margin = Cm(1.8)
        section.top_margin = section.bottom_margin = Cm(1.8)
    style = doc.styles["Normal"]
    style.font.size = Pt(10.5)
    style.font.name = "Times New Roman"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), CJK_FONT)
    return doc


def _heading(doc: Any, text: str, size: int = 12, center: bool = False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    p = doc.add_paragraph()
    run = p.add_run(text)
    run.bold = True
    run.font.size = Pt(size)
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _table(doc: Any, header: Sequence[str] | None, rows: Sequence[Sequence[str]], *, size: float = 9) -> None:
    from docx.shared import Pt

    cols = len(header) if header else max(len(r) for r in rows)
    table = doc.add_table(rows=0, cols=cols)
    table.style = "Table Grid"
    for i, row in enumerate(([header] if header else []) + list(rows)):
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=False):
            cell.text = ""
            run = cell.paragraphs[0].add_run(str(value))
            run.font.size = Pt(size)
            run.bold = bool(header) and i == 0
    doc.add_paragraph()


def _right(doc: Any, text: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    doc.add_paragraph(text).alignment = WD_ALIGN_PARAGRAPH.RIGHT


def write_record_docx(record: ExtractionRecord, out: Path | str) -> Path:
    """The extraction record as a Word document."""
    doc = _document()
    _heading(doc, record.title, 20, center=True)
    _right(doc, f"编号：{record.number}")
    rows = [("案由（线索）", record.case),
            ("提取时间", f"{record.started} 至 {record.ended}（网页抓取时间，北京时间）；笔录制作：{record.made_at}"),
            ("提取地点", record.place), ("提取人", record.operator), ("见证人", record.witness or "")]
    if record.unit:
        rows.append(("提取单位", record.unit))
    _table(doc, None, rows, size=10)
    _heading(doc, "一、当事人（网店经营者）")
    _table(doc, ("线索编号", "店铺", "经营者", "统一社会信用代码", "主要违法类别", "问题数"),
           [(x.lead_id, x.shop_name, x.operator, x.license_number, x.main_category, str(x.findings))
            for x in record.leads])
    _heading(doc, "二、提取环境")
    _table(doc, None, record.environment, size=10)
    _heading(doc, "三、提取方法")
    doc.add_paragraph(record.method)
    _heading(doc, "四、提取的电子数据")
    rows = []
    for i, p in enumerate(record.pages, 1):
        where = "\n".join(x for x in (p.url, p.title, p.fetched_at, f"IP {p.server_ip}" if p.server_ip else "",
                                       f"证书 {p.cert_sha256}" if p.cert_sha256 else "") if x)
        files = f"{p.bundle_html}\nSHA-256 {p.html_sha256}"
        if p.screenshot_file:
            files += f"\n{p.bundle_screenshot}" + (f"\nSHA-256 {p.screenshot_sha256}" if p.screenshot_sha256 else "")
        stamp = (f"{p.sweep_id}\n令牌序列号 {p.seal.token_serial}\n{p.seal.token_time}"
                 if p.seal and p.seal.token_serial else f"{p.sweep_id}\n无可信时间戳（本机时钟）")
        rows.append((str(i), where, files, p.capture_zh, stamp))
    _table(doc, ("序号", "网址 / 抓取时间 / 服务器", "文件名与 SHA-256", "截图", "扫描与时间戳"), rows, size=7.5)
    _heading(doc, "五、扫描清单及封存")
    _table(doc, ("扫描编号", "清单 SHA-256", "时间来源", "时间戳令牌序列号 / 时间"),
           [(s.sweep_id, s.manifest_sha256, s.time_source, f"{s.token_serial or '—'} {s.token_time}")
            for s in record.seals], size=8)
    _heading(doc, "六、完整性保护")
    doc.add_paragraph(record.integrity)
    for n in record.notes:
        doc.add_paragraph(f"注：{n}")
    doc.add_paragraph(f"以上电子数据共 {len(record.pages)} 项，提取过程如实记录。")
    doc.add_paragraph()
    doc.add_paragraph("提取人（签名）：____________________　　　　见证人（签名）：____________________")
    doc.add_paragraph("日期：______年____月____日　　　　　　　　日期：______年____月____日")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out


def write_notice_docx(notice: HandoverNotice, out: Path | str) -> Path:
    """The handover notice as a Word document."""
    doc = _document()
    _heading(doc, notice.title, 20, center=True)
    _right(doc, f"编号：{notice.number}")
    doc.add_paragraph(f"{notice.receiving_unit}：")
    doc.add_paragraph(f"　　我单位在网络交易监测中发现下列 {len(notice.leads)} 条违法线索，现交由你单位依法核查处理，"
                      f"请于 {notice.due_zh} 前办结并反馈结果。")
    _table(doc, ("序号", "线索编号", "店铺", "经营者", "统一社会信用代码", "主要违法类别", "问题数"),
           [(str(i), x.lead_id, x.shop_name, x.operator, x.license_number, x.main_category, str(x.findings))
            for i, x in enumerate(notice.leads, 1)])
    if notice.evidence:
        doc.add_paragraph(f"附件：证据包 {notice.evidence}"
                          "（含网页快照、截图、扫描清单、电子数据提取笔录、WACZ 归档）。")
    for i, q in enumerate(notice.requests, 1):
        doc.add_paragraph(f"　　{i}. {q}")
    if notice.note:
        doc.add_paragraph(f"备注：{notice.note}")
    doc.add_paragraph()
    doc.add_paragraph(f"交办单位：{notice.issuing_unit}（盖章）　　　　经办人：{notice.issuer}")
    doc.add_paragraph(f"交办日期：{notice.made_at[:10]}　　　　办结期限：{notice.due_zh}")
    doc.add_paragraph("接收单位签收：____________________　　　　签收日期：______年____月____日")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out
