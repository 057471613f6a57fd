"""The lead page's documents: extraction record (DOCX/PDF), handover notice, WACZ, and replay from the WACZ.

Routes take the lead as a query parameter (``/leads/{id}`` swallows every path below it). A lead's
WACZ is built once per set of pages (kept as ``<evidence>/wacz/<key>.wacz``, the key the SHA-256 of the
lead and its snapshot hashes) and replayed from there: the archived response is looked up in the WACZ's
CDXJ index, read out of its WARC and served like a page snapshot, in the sandbox (no scripts, no
network) -- what the sweep kept, not the live site.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from leads.leads import Lead, get_lead
from leads.triage import TriageError
from leads.web.auth import csrf_protect, current_user
from leads.web.views import SNAPSHOT_CSP, _store, lead_url, render, snapshot_body
from netsword.digests import sha256_bytes

router = APIRouter(dependencies=[Depends(current_user), Depends(csrf_protect)])
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def doc_url(kind: str, lead_id: str, **params: str) -> str:
    extra = "".join(f"&{k}={quote(v)}" for k, v in params.items())
    return f"/lead-docs/{kind}?lead={quote(lead_id, safe=':')}{extra}"


def _lead(request: Request, lead_id: str) -> Lead:
    try:
        lead = get_lead(_store(request), lead_id)
    except TriageError:
        lead = None
    if lead is None:
        raise HTTPException(404, "没有这条线索 / no such lead")
    return lead


def _evidence_dir(request: Request) -> Path:
    return Path(request.app.state.config.evidence_dir)


def _download(path: Path, name: str, media_type: str) -> Response:
    return FileResponse(path, media_type=media_type, filename=name,
                        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True))


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="netsword-doc-"))


def _document(name: str, stem: str, fmt: str, write_docx: Any, write_pdf: Any, doc: Any) -> Response:
    """``doc`` written as DOCX or PDF into a folder of its own, sent as ``name`` and removed after; 503 when no
    Chromium can print the PDF."""
    from leads.records import RenderError

    folder = _tmp()
    if fmt == "docx":
        return _download(write_docx(doc, folder / f"{stem}.docx"), name, DOCX)
    try:
        return _download(write_pdf(doc, folder / f"{stem}.pdf"), name, "application/pdf")
    except RenderError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(503, str(exc)) from exc


def _safe_name(lead_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in lead_id)[:60]


@router.get("/lead-docs/record.{fmt}")
def record_download(request: Request, fmt: str, lead: str = "") -> Response:
    from leads.records import build_extraction_record, write_record_docx, write_record_pdf
    from netsword.config import current

    if fmt not in ("docx", "pdf"):
        raise HTTPException(404, "不支持的格式 / unsupported format")
    the_lead = _lead(request, lead)
    record = build_extraction_record(_store(request), _evidence_dir(request), [the_lead],
                                     operator=request.state.user.username, exit_ip=current().exit_ip)
    return _document(f"电子数据提取笔录-{_safe_name(the_lead.lead_id)}.{fmt}", "record", fmt, write_record_docx,
                     write_record_pdf, record)


@router.get("/lead-docs/notice.{fmt}")
def notice_download(request: Request, fmt: str, lead: str = "", unit: str = "", due: str = "") -> Response:
    from leads.records import handover_notice, write_notice_docx, write_notice_pdf

    if fmt not in ("docx", "pdf"):
        raise HTTPException(404, "不支持的格式 / unsupported format")
    try:
        due_date = date.fromisoformat(due)
    except ValueError as exc:
        raise HTTPException(400, "办结期限应为 YYYY-MM-DD / the due date is YYYY-MM-DD") from exc
    try:
        notice = handover_notice([_lead(request, lead)], unit[:200], due_date, request.state.user.username)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _document(f"线索交办通知书-{_safe_name(lead)}.{fmt}", "notice", fmt, write_notice_docx, write_notice_pdf,
                     notice)


def lead_wacz_path(request: Request, lead: Lead) -> Path:
    """The lead's WACZ in the cache (built when its pages changed)."""
    from leads.records.archive import lead_wacz

    shas = sorted({f["snapshot_sha256"] for f in lead.findings if f.get("snapshot_sha256")})
    key = sha256_bytes(("\n".join([lead.lead_id, *shas])).encode())[:32]
    path = _evidence_dir(request) / "wacz" / f"{key}.wacz"
    if not path.is_file():
        try:
            lead_wacz(_store(request), _evidence_dir(request), [lead], path)
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc
    return path


@router.get("/lead-docs/archive.wacz")
def wacz_download(request: Request, lead: str = "") -> Response:
    the_lead = _lead(request, lead)
    path = lead_wacz_path(request, the_lead)
    return FileResponse(path, media_type="application/wacz+zip", filename=f"{_safe_name(the_lead.lead_id)}.wacz")


@router.get("/lead-docs/replay")
def replay_page(request: Request, lead: str = "", url: str = "") -> Response:
    from pipelines.evidence import archived_urls

    the_lead = _lead(request, lead)
    path = lead_wacz_path(request, the_lead)
    urls = [u for u in archived_urls(path) if u.startswith(("http://", "https://"))]
    chosen = url if url in urls else (urls[0] if urls else "")
    return render(request, "replay.html", lead=the_lead, urls=urls, chosen=chosen, doc_url=doc_url, lead_url=lead_url,
                  wacz_sha256=sha256_bytes(path.read_bytes()))


@router.get("/lead-docs/replay/page")
def replay_raw(request: Request, lead: str = "", url: str = "") -> Response:
    from pipelines.evidence import read_archived

    path = lead_wacz_path(request, _lead(request, lead))
    page: Any = read_archived(path, url)
    if page is None:
        raise HTTPException(404, "WACZ 中没有这个网页 / not in the WACZ")
    headers = {"Content-Security-Policy": SNAPSHOT_CSP, "X-Frame-Options": "SAMEORIGIN",
               "Content-Disposition": "inline; filename=archived.html"}
    if "html" in page.content_type or not page.content_type:
        body, charset = snapshot_body(page.body)
        return Response(body, status_code=200, headers={**headers, "Content-Type": f"text/html; charset={charset}"})
    if page.content_type.startswith("image/png"):
        return Response(page.body, headers={**headers, "Content-Type": "image/png"})
    return Response(page.body, headers={**headers, "Content-Type": "text/plain; charset=utf-8"})
