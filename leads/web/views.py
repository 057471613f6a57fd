"""The console's pages: each a thin call into ``leads`` and a template.

Every route here needs a logged-in user (router dependency ``current_user``) and, for
POSTs, the session's CSRF token (``csrf_protect``). Admin-only routes add ``require_admin``.
"""

from __future__ import annotations

import codecs
import re
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from crawler.items import CATEGORIES, SEVERITIES
from leads import LEAD_STATUS_LABELS, STATUS_LABELS
from leads.bundle import write_bundle
from leads.categories import MAIN_CATEGORY_RULE
from leads.charts import price_timeline, timeline_svg
from leads.dashboard import build_dashboard, region_of
from leads.evidence_files import evidence_files, is_sha256
from leads.export import export
from leads.leads import build_leads, facet_counts, get_lead
from leads.readable import split_when_snippet
from leads.report import build_form, write_xlsx
from leads.rulestats import rule_stats
from leads.triage import FINDING_DECISIONS, LEAD_STATUSES, TriageError, add_note, assign, decide_finding, set_status
from leads.users import ROLE_LABELS, UserError, add_user, end_sessions, set_disabled
from leads.web.auth import csrf_protect, csrf_token, current_user, require_admin
from leads.web.forms import PER_PAGE, SearchForm, pages
from leads.web.scope import lead_id_predicate
from netsword.clock import today_beijing
from pipelines.store.base import SearchQuery, Store, User

router = APIRouter(dependencies=[Depends(current_user), Depends(csrf_protect)])
CurrentUser = Annotated[User, Depends(current_user)]
Admin = Annotated[User, Depends(require_admin)]
#: The raw page of a snapshot: a sandbox with no scripts, no plugins, no network, no forms.
SNAPSHOT_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
                "frame-ancestors 'self'")
#: Python codec names (``codecs.lookup(...).name``) -> the charset labels browsers know (WHATWG Encoding).
BROWSER_CHARSETS = {"utf-8": "utf-8", "ascii": "utf-8", "gb18030": "gb18030", "gbk": "gbk", "gb2312": "gbk",
                    "big5": "big5", "big5hkscs": "big5-hkscs", "cp950": "big5", "shift_jis": "shift_jis",
                    "cp932": "shift_jis", "euc_jp": "euc-jp", "iso2022_jp": "iso-2022-jp", "euc_kr": "euc-kr",
                    "cp949": "euc-kr", "utf-16-le": "utf-16le", "utf-16-be": "utf-16be", "iso8859-1": "windows-1252",
                    "cp874": "windows-874", "koi8-r": "koi8-r", "koi8-u": "koi8-u", "mac-roman": "macintosh",
                    "cp866": "ibm866"}
EXPORT_FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "csv": "text/csv; charset=utf-8", "json": "application/json", "zip": "application/zip"}


def _store(request: Request) -> Store:
    return request.app.state.store


def flash(request: Request, message: str) -> None:
    request.session["flash"] = [*request.session.get("flash", []), message][-5:]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    context.update(user=request.state.user, csrf_token=csrf_token(request), flashes=request.session.pop("flash", []),
                   severities=SEVERITIES, categories=CATEGORIES, status_labels=STATUS_LABELS,
                   lead_status_labels=LEAD_STATUS_LABELS, role_labels=ROLE_LABELS)
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def lead_url(lead_id: str) -> str:
    from urllib.parse import quote

    return "/leads/" + quote(lead_id, safe=":")


# --------------------------------------------------------------------------- search and leads


@router.get("/")
def home(request: Request) -> Response:
    """The dashboard: the campaign at a glance, every chart a link to what it counts."""
    from leads.web.dashboard_charts import dashboard_charts, duration

    store = _store(request)
    d = build_dashboard(store, visible=lead_id_predicate(store, request.app.state.visible(request)))
    return render(request, "dashboard.html", d=d, charts=dashboard_charts(d), duration=duration, lead_url=lead_url)


@router.get("/search")
def search_page(request: Request) -> Response:
    form = SearchForm.parse(request.query_params)
    store = _store(request)
    result = store.search(form.query())
    keep = lead_id_predicate(store, request.app.state.visible(request))
    if keep is not None:  # an account scoped to its unit's regions: only their hits, no counts of others
        result.hits = [h for h in result.hits if keep(f"{h.site}:{h.shop_id}")]
        result.total, result.facets = len(result.hits), {}
    sweeps = store.sweeps()
    return render(request, "search.html", form=form, result=result, pages=pages(result.total, form.page),
                  sweeps=sweeps, lead_url=lead_url, per_page=PER_PAGE)


@router.get("/leads")
def leads_page(request: Request, lead_status: str = "", main: str = "", assignee: str = "", region: str = "",
               page: int = 1) -> Response:
    form = SearchForm.parse(request.query_params)
    store = _store(request)
    visible = request.app.state.visible(request)
    every = [lead for lead in build_leads(store, form.query()) if visible is None or visible(lead)]
    facets = facet_counts(every)
    chosen = [lead for lead in every if (not lead_status or lead.status == lead_status)
              and (not main or lead.main_category == main) and (not assignee or lead.assignee == assignee)
              and (not region or region_of(lead.address) == region) and (visible is None or visible(lead))]
    page = max(1, page)
    shown = chosen[(page - 1) * PER_PAGE: page * PER_PAGE]
    return render(request, "leads.html", form=form, leads=shown, total=len(chosen), facets=facets,
                  lead_status=lead_status, main=main, assignee=assignee, region=region, page=page,
                  pages=pages(len(chosen), page), lead_url=lead_url, users=[u for u in store.users() if not u.disabled])


@router.get("/leads/{lead_id:path}")
def lead_page(request: Request, lead_id: str) -> Response:
    store = _store(request)
    try:
        lead = get_lead(store, lead_id)
    except TriageError:
        lead = None
    visible = request.app.state.visible(request)
    if lead is None or (visible is not None and not visible(lead)):
        raise HTTPException(404, "没有这条线索 / no such lead")  # another unit's lead: as if there were none
    events = store.triage_events(lead_id)
    shots = {sha: evidence_files(store, request.app.state.config.evidence_dir, sha).screenshot_path is not None
             for sha in {f["snapshot_sha256"] for f in lead.findings if f["snapshot_sha256"]}}
    from leads.recheck import latest, parse
    from leads.web.documents import doc_url

    return render(request, "lead.html", lead=lead, events=list(reversed(events)), shots=shots,
                  users=[u for u in store.users() if not u.disabled], lead_statuses=LEAD_STATUSES,
                  finding_decisions=FINDING_DECISIONS, main_rule=MAIN_CATEGORY_RULE, lead_url=lead_url,
                  doc_url=doc_url, rechecks=list(latest(events).values()), recheck_of=parse,
                  timelines=lead_timelines(store, lead.findings))


def lead_timelines(store: Store, findings: list[dict[str, Any]]) -> dict[str, Any]:
    """subject id -> its price timeline (title, svg) for the listings with a price finding."""
    out: dict[str, Any] = {}
    for f in findings:
        sid = f["subject_id"]
        if f["subject_kind"] != "listing" or sid in out or split_when_snippet(f["snippet"] or "") is None:
            continue
        t = price_timeline(store, sid, title=f.get("subject_title") or "")
        if t is not None:
            out[sid] = SimpleNamespace(title=t.title, svg=timeline_svg(t))
    return out


@router.get("/charts/price.svg")
def price_chart(request: Request, subject: str = "") -> Response:
    """A listing's price timeline as a standalone SVG file (the exhibit, to download or print)."""
    t = price_timeline(_store(request), subject) if subject else None
    if t is None:
        raise HTTPException(404, "没有价格记录 / no price history")
    return Response(str(timeline_svg(t)), media_type="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'",
                             "Content-Disposition": 'inline; filename="price-timeline.svg"'})


# --------------------------------------------------------------------------- triage


def _triage(request: Request, lead_id: str, action: Any) -> Response:
    visible = request.app.state.visible(request)
    if visible is not None:
        try:
            lead = get_lead(_store(request), lead_id)
        except TriageError:
            lead = None
        if lead is None or not visible(lead):
            raise HTTPException(404, "没有这条线索 / no such lead")
    try:
        changed = action()
    except TriageError as exc:
        flash(request, str(exc))
        return back(lead_url(lead_id))
    _store(request).flush()
    flash(request, "已保存" if changed is not None else "没有变化")
    return back(lead_url(lead_id))


@router.post("/triage/status")
def triage_status(request: Request, user: CurrentUser, lead_id: str = Form(...), status: str = Form(...),
                  note: str = Form(""), reason: str = Form("")) -> Response:
    if status == "dismissed" and not reason:
        flash(request, "请选择排除原因 / choose why the lead is dismissed")
        return back(lead_url(lead_id))
    return _triage(request, lead_id, lambda: set_status(_store(request), lead_id, status, user.username, note,
                                                        reason=reason))


@router.post("/triage/assign")
def triage_assign(request: Request, user: CurrentUser, lead_id: str = Form(...), assignee: str = Form("")) -> Response:
    return _triage(request, lead_id, lambda: assign(_store(request), lead_id, assignee, user.username))


@router.post("/triage/note")
def triage_note(request: Request, user: CurrentUser, lead_id: str = Form(...), note: str = Form("")) -> Response:
    return _triage(request, lead_id, lambda: add_note(_store(request), lead_id, note, user.username))


@router.post("/triage/finding")
def triage_finding(request: Request, user: CurrentUser, lead_id: str = Form(...), finding_id: str = Form(...),
                   status: str = Form(...), reason: str = Form("")) -> Response:
    if status == "dismissed" and not reason:
        flash(request, "请选择排除原因 / choose why the finding is dismissed")
        return back(lead_url(lead_id))
    return _triage(request, lead_id,
                   lambda: decide_finding(_store(request), lead_id, finding_id, status, user.username, reason=reason))


# --------------------------------------------------------------------------- evidence


def _evidence(request: Request, sha256: str) -> Any:
    if not is_sha256(sha256):
        raise HTTPException(404, "没有这个快照 / no such snapshot")
    store = _store(request)
    keep = lead_id_predicate(store, request.app.state.visible(request))
    if keep is not None and not any(  # an account scoped to its regions: only its leads' pages
            keep(f"{f['site']}:{f['shop_id']}") for f in store.iter_findings(SearchQuery(include_resolved=True))
            if f["snapshot_sha256"] == sha256):
        raise HTTPException(404, "没有这个快照 / no such snapshot")
    return evidence_files(store, request.app.state.config.evidence_dir, sha256)


@router.get("/evidence/{sha256}")
def snapshot_page(request: Request, sha256: str) -> Response:
    ev = _evidence(request, sha256)
    if ev.snapshot is None and ev.html_path is None:
        raise HTTPException(404, "没有这个快照 / no such snapshot")
    return render(request, "snapshot.html", ev=ev)


def browser_charset(encoding: str) -> str | None:
    """The label browsers know (WHATWG Encoding) for a Python encoding name; None when there is none."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    if name in BROWSER_CHARSETS:
        return BROWSER_CHARSETS[name]
    if m := re.fullmatch(r"cp(125\d)", name):
        return f"windows-{m.group(1)}"
    if m := re.fullmatch(r"iso8859-(\d+)", name):
        return f"iso-8859-{m.group(1)}" if m.group(1) in ("2", "3", "4", "5", "6", "7", "8", "10", "13", "14",
                                                          "15", "16") else None
    return None


def snapshot_body(body: bytes) -> tuple[bytes, str]:
    """(bytes, charset) to serve a stored page with: its own bytes and the charset the crawler decoded it
    with; the decoded text as UTF-8 when browsers have no name for that charset."""
    from pipelines.evidence import decode_html

    encoding, text = decode_html(body)
    charset = browser_charset(encoding)
    if charset is None:
        return text.encode("utf-8"), "utf-8"
    return body, charset


@router.get("/evidence/{sha256}/page")
def snapshot_raw(request: Request, sha256: str) -> Response:
    stored = _evidence(request, sha256).read_html()
    if stored is None:
        raise HTTPException(404, "快照文件不存在 / snapshot file missing")
    body, charset = snapshot_body(stored)
    headers = {"Content-Security-Policy": SNAPSHOT_CSP, "X-Frame-Options": "SAMEORIGIN",
               "Content-Disposition": "inline; filename=snapshot.html"}
    return Response(body, headers={**headers, "Content-Type": f"text/html; charset={charset}"})


@router.get("/evidence/{sha256}/screenshot.png")
def screenshot(request: Request, sha256: str) -> Response:
    path = _evidence(request, sha256).screenshot_path
    if path is None:
        raise HTTPException(404, "没有截图 / no screenshot")
    return FileResponse(path, media_type="image/png", headers={"Content-Security-Policy": "default-src 'none'"})


# --------------------------------------------------------------------------- exports and the form


def _tmp_path(name: str) -> Path:
    """A path in a fresh private temporary folder (removed after the download)."""
    return Path(tempfile.mkdtemp(prefix="netsword-")) / name


def _download(path: Path, name: str, media_type: str) -> Response:
    return FileResponse(path, media_type=media_type, filename=name,
                        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True))


@router.get("/export")
def export_download(request: Request, fmt: str = "xlsx", what: str = "findings") -> Response:
    if fmt not in EXPORT_FORMATS or what not in ("findings", "leads"):
        raise HTTPException(400, "不支持的导出格式 / unsupported export format")
    q = SearchForm.parse(request.query_params).query()
    store = _store(request)
    path = _tmp_path(f"export.{fmt}")
    stamp = today_beijing().strftime("%Y%m%d")
    keep = lead_id_predicate(store, request.app.state.visible(request))
    if fmt == "zip":
        write_bundle(store, path, q, evidence_dir=request.app.state.config.evidence_dir, keep=keep)
        return _download(path, f"netsword-evidence-{stamp}.zip", EXPORT_FORMATS[fmt])
    export(store, path, fmt, q, what=what, keep=keep)
    return _download(path, f"netsword-{what if fmt != 'xlsx' else 'leads'}-{stamp}.{fmt}", EXPORT_FORMATS[fmt])


def _form_args(request: Request) -> dict[str, str]:
    qp = request.query_params
    return {"campaign": qp.get("campaign", "")[:100], "date_from": qp.get("from", ""), "date_to": qp.get("to", ""),
            "unit": qp.get("unit", "")[:100]}


@router.get("/report")
def report_page(request: Request) -> Response:
    args = _form_args(request)
    try:
        form = build_form(_store(request), **args)
    except ValueError as exc:
        flash(request, str(exc))
        form = build_form(_store(request), args["campaign"], unit=args["unit"])
    return render(request, "report.html", form=form, args=args)


@router.get("/report.xlsx")
def report_download(request: Request) -> Response:
    try:
        form = build_form(_store(request), **_form_args(request))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    path = write_xlsx(form, _tmp_path("form.xlsx"))
    return _download(path, f"netsword-form-{today_beijing():%Y%m%d}.xlsx", EXPORT_FORMATS["xlsx"])


@router.get("/rules")
def rules_page(request: Request) -> Response:
    return render(request, "rules.html", stats=rule_stats(_store(request)))


# --------------------------------------------------------------------------- users and logout


@router.get("/users")
def users_page(request: Request, admin: Admin) -> Response:
    from leads.web.admin_views import users_context

    return render(request, "users.html", **users_context(request))


@router.post("/users")
def users_add(request: Request, admin: Admin, username: str = Form(...), password: str = Form(...),
              role: str = Form("analyst")) -> Response:
    try:
        add_user(_store(request), username, password, role)
        flash(request, f"已添加用户 {username}")
    except UserError as exc:
        flash(request, str(exc))
    return back("/users")


@router.post("/users/disable")
def users_disable(request: Request, admin: Admin, username: str = Form(...), enable: str = Form("")) -> Response:
    if username == admin.username:
        flash(request, "不能停用自己 / you cannot disable yourself")
        return back("/users")
    try:
        set_disabled(_store(request), username, not enable)
        flash(request, f"已{'启用' if enable else '停用'}用户 {username}")
    except UserError as exc:
        flash(request, str(exc))
    return back("/users")


@router.post("/logout")
def logout(request: Request, user: CurrentUser) -> Response:
    """Ends every session of the user (this one, other browsers', copied cookies)."""
    end_sessions(_store(request), user.username)
    request.session.clear()
    return back("/login")
