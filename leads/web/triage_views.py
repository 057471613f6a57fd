"""Triage in bulk and the review queue.

* ``POST /triage/bulk``: confirm, dismiss (with a reason code, recorded per finding), refer or assign the
  leads ticked on the lead list, or every lead the list's search finds (``scope=search``).
* ``GET /review``: the review queue: leads nobody has decided yet (待核查), most serious first, one at a
  time; ``POST /review/decide`` decides and opens the next. Keys (``/static/review.js``, the console's only
  script, same-origin, on the queue page only): c 确认, x 排除 (with the chosen reason), 1-6 choose the reason,
  a 分配给我, n / j next, p / k previous.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams

from leads.dashboard import region_of
from leads.handover import hand_over, hand_over_many, notice_for, record_result
from leads.leads import Lead, build_leads, get_lead
from leads.triage import BULK_ACTIONS, DISMISS_REASONS, TriageError, assign, bulk, set_status
from leads.web.auth import csrf_protect, current_user
from leads.web.forms import SearchForm
from leads.web.render import CSS_HASH
from leads.web.views import CurrentUser, _store, back, flash, lead_timelines, lead_url, render
from pipelines.store.base import Store

router = APIRouter(dependencies=[Depends(current_user), Depends(csrf_protect)])
STATIC = Path(__file__).parent / "static"
#: the review queue's page may run the console's one same-origin script (and nothing inline)
REVIEW_CSP = (f"default-src 'none'; script-src 'self'; style-src '{CSS_HASH}'; img-src 'self'; frame-src 'self'; "
              "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
LEAD_FILTERS = ("lead_status", "main", "assignee", "region")
BULK_LABELS = {"confirm": "确认", "dismiss": "排除", "refer": "移送", "assign": "分配", "handover": "交办"}


def filtered_leads(store: Store, params: QueryParams, visible: Any = None) -> tuple[SearchForm, list[Lead]]:
    """The leads the lead list shows for these query parameters (search filters + lead filters)."""
    form = SearchForm.parse(params)
    lead_status, main = params.get("lead_status", ""), params.get("main", "")
    assignee, region = params.get("assignee", ""), params.get("region", "")
    every = build_leads(store, form.query())
    chosen = [lead for lead in every if (not lead_status or lead.status == lead_status)
              and (not main or lead.main_category == main) and (not assignee or lead.assignee == assignee)
              and (not region or region_of(lead.address) == region) and (visible is None or visible(lead))]
    return form, chosen


@router.post("/triage/bulk")
async def triage_bulk(request: Request, user: CurrentUser) -> Response:
    data = await request.form()
    action = str(data.get("action") or "")
    back_to = str(data.get("back") or "/leads")
    if not back_to.startswith("/") or back_to.startswith("//"):
        back_to = "/leads"
    if action not in (*BULK_ACTIONS, "handover"):
        flash(request, "请选择批量操作 / choose an action")
        return back(back_to)
    store = _store(request)
    visible = request.app.state.visible(request)
    if data.get("scope") == "search":
        params = QueryParams([(k, str(v)) for k, v in data.multi_items() if k not in ("csrf_token", "action",
                                                                                      "scope", "lead_id")])
        ids = [lead.lead_id for lead in filtered_leads(store, params, visible)[1]]
    else:
        ids = [str(v) for v in data.getlist("lead_id") if str(v)]
        ids = [i for i in ids if visible is None or _visible_id(store, i, visible)]
    if not ids:
        flash(request, "没有选中线索 / no leads selected")
        return back(back_to)
    try:
        if action == "handover":
            results = hand_over_many(store, ids, str(data.get("unit") or ""), str(data.get("due") or ""),
                                     user.username, str(data.get("note") or ""))
        else:
            results = bulk(store, ids, action, user.username, reason=str(data.get("reason") or ""),
                           assignee=str(data.get("assignee") or ""), note=str(data.get("note") or "")[:5000])
    except TriageError as exc:
        flash(request, str(exc))
        return back(back_to)
    store.flush()
    changed = sum(1 for r in results if r.changed)
    failed = [r for r in results if r.error]
    text = f"批量{BULK_LABELS[action]}：{changed} 条线索已更改，{len(results) - changed - len(failed)} 条无变化"
    if failed:
        text += f"，{len(failed)} 条失败（{failed[0].lead_id}：{failed[0].error}）"
    flash(request, text)
    return back(back_to)


def _visible_id(store: Store, lead_id: str, visible: Any) -> bool:
    lead = get_lead(store, lead_id)
    return lead is not None and visible(lead)


# --------------------------------------------------------------------------- handover (交办)


def _lead_or_404(request: Request, lead_id: str) -> Lead:
    visible = request.app.state.visible(request)
    try:
        lead = get_lead(_store(request), lead_id)
    except TriageError:
        lead = None
    if lead is None or (visible is not None and not visible(lead)):
        raise HTTPException(404, "没有这条线索 / no such lead")
    return lead


@router.post("/handover")
def handover_post(request: Request, user: CurrentUser, lead_id: str = Form(...), unit: str = Form(""),
                  due: str = Form(""), note: str = Form("")) -> Response:
    _lead_or_404(request, lead_id)
    try:
        hand_over(_store(request), lead_id, unit, due, user.username, note)
    except TriageError as exc:
        flash(request, str(exc))
        return back(lead_url(lead_id))
    _store(request).flush()
    flash(request, f"已交办 {' '.join(unit.split())}，期限 {due}")
    return back(lead_url(lead_id))


@router.post("/handover/result")
def handover_result(request: Request, user: CurrentUser, lead_id: str = Form(...), result: str = Form("")) -> Response:
    _lead_or_404(request, lead_id)
    try:
        record_result(_store(request), lead_id, result, user.username)
    except TriageError as exc:
        flash(request, str(exc))
        return back(lead_url(lead_id))
    _store(request).flush()
    flash(request, "已记录办理结果")
    return back(lead_url(lead_id))


@router.get("/handover/notice")
def handover_notice(request: Request, lead_id: str = "") -> Response:
    """The handover notice document, from the evidence-records generator (``leads.handover.notice_for``)."""
    import shutil
    import tempfile

    from fastapi.responses import FileResponse
    from starlette.background import BackgroundTask

    lead = _lead_or_404(request, lead_id)
    out = Path(tempfile.mkdtemp(prefix="netsword-notice-"))
    path = notice_for(_store(request), lead, out)
    if path is None:
        shutil.rmtree(out, ignore_errors=True)
        raise HTTPException(404, "尚未交办，或未安装交办函生成器 / not handed over, or no notice generator installed")
    return FileResponse(path, filename=path.name, background=BackgroundTask(shutil.rmtree, out, ignore_errors=True))


# --------------------------------------------------------------------------- review queue


def review_queue(store: Store, visible: Any = None) -> list[Lead]:
    """Leads nobody has decided yet (待核查) with something to decide, most serious first."""
    return [lead for lead in build_leads(store, status="new")
            if lead.main_category and (visible is None or visible(lead))]


def _neighbours(queue: list[Lead], lead_id: str) -> tuple[str | None, str | None, int]:
    ids = [lead.lead_id for lead in queue]
    if lead_id in ids:
        i = ids.index(lead_id)
        return (ids[i - 1] if i else None), (ids[i + 1] if i + 1 < len(ids) else None), i + 1
    return None, (ids[0] if ids else None), 0


def review_url(lead_id: str | None) -> str:
    return "/review" if lead_id is None else "/review/" + lead_url(lead_id).removeprefix("/leads/")


@router.get("/review")
def review_start(request: Request) -> Response:
    queue = review_queue(_store(request), request.app.state.visible(request))
    if not queue:
        return render(request, "review.html", lead=None, queue=queue)
    return back(review_url(queue[0].lead_id))


@router.get("/review/{lead_id:path}")
def review_page(request: Request, lead_id: str) -> Response:
    store = _store(request)
    visible = request.app.state.visible(request)
    lead = _lead_or_404(request, lead_id)
    queue = review_queue(store, visible)
    prev_id, next_id, position = _neighbours(queue, lead_id)
    response = render(request, "review.html", lead=lead, queue=queue, position=position, prev_id=prev_id,
                      next_id=next_id, review_url=review_url, lead_url=lead_url, reasons=DISMISS_REASONS,
                      timelines=lead_timelines(store, lead.findings))
    response.headers["Content-Security-Policy"] = REVIEW_CSP
    return response


@router.post("/review/decide")
def review_decide(request: Request, user: CurrentUser, lead_id: str = Form(...), action: str = Form(...),
                  reason: str = Form(""), note: str = Form("")) -> Response:
    store = _store(request)
    visible = request.app.state.visible(request)
    lead = _lead_or_404(request, lead_id)
    queue = review_queue(store, visible)
    _, next_id, _ = _neighbours(queue, lead_id)
    try:
        if action == "confirm":
            set_status(store, lead_id, "confirmed", user.username, note)
        elif action == "dismiss":
            set_status(store, lead_id, "dismissed", user.username, note, reason=reason)
        elif action == "take":
            assign(store, lead_id, user.username, user.username)
            store.flush()
            flash(request, "已分配给你")
            return back(review_url(lead_id))
        elif action != "skip":
            raise TriageError(f"未知操作 / unknown action {action!r}")
    except TriageError as exc:
        flash(request, str(exc))
        return back(review_url(lead_id))
    store.flush()
    if action != "skip":
        flash(request, f"已{'确认' if action == 'confirm' else '排除'}：{lead.shop_name or lead_id}")
    return back(review_url(next_id))


@router.get("/static/review.js")
def review_script() -> Response:
    return Response((STATIC / "review.js").read_bytes(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


# --------------------------------------------------------------------------- saved searches


@router.get("/searches")
def searches_page(request: Request, user: CurrentUser) -> Response:
    from leads.saved import SavedSearches, new_matches

    saved = SavedSearches.load(request.app.state.config.home)
    store = _store(request)
    return render(request, "searches.html", saved=[(s, len(new_matches(store, s))) for s in saved.of(user.username)])


@router.post("/searches")
def searches_add(request: Request, user: CurrentUser, name: str = Form(""), query: str = Form("")) -> Response:
    from urllib.parse import parse_qsl

    from leads.saved import SavedSearches

    saved = SavedSearches.load(request.app.state.config.home)
    try:
        s = saved.add(user.username, name, parse_qsl(query[:4000]), _store(request))
        saved.save()
    except ValueError as exc:
        flash(request, str(exc))
        return back("/search?" + query[:4000])
    flash(request, f"已保存检索「{s.name}」：有新结果时提醒")
    return back("/searches")


@router.post("/searches/delete")
def searches_delete(request: Request, user: CurrentUser, search_id: str = Form("")) -> Response:
    from leads.saved import SavedSearches

    saved = SavedSearches.load(request.app.state.config.home)
    if saved.remove(user.username, search_id):
        saved.save()
        flash(request, "已删除")
    return back("/searches")
