"""The console's JSON API under ``/api`` (its OpenAPI description: ``/api/openapi.json``).

Every operation needs ``Authorization: Bearer <token>``; tokens are made and revoked by admins on the users
page (``leads.web.state``), each acting as one console user with that user's role and regions. The API
reads no cookies, so a browser session can never be used against it (no CSRF surface).

    GET  /api/search            hits with their findings (the console's search filters; ``q`` takes the syntax)
    GET  /api/leads             leads (same filters + lead_status, main, region)
    GET  /api/leads/{lead_id}   one lead with its findings in plain words, its handover and audit trail
    POST /api/triage            confirm / dismiss (reason) / refer / assign / handover, one lead or many
    GET  /api/export            the export files (csv, json, xlsx; zip = the sealed evidence bundle)
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.datastructures import QueryParams

from pipelines.store.base import User

bearer = HTTPBearer(auto_error=False, description="由管理员在“用户”页面创建的 API 令牌 / a token an admin made")


class ApiError(BaseModel):
    detail: str


class FindingOut(BaseModel):
    finding_id: str
    rule_id: str
    title: str
    category: str
    severity: str
    status: str
    explanation: str = Field(description="问题说明：分析员读的中文句子")
    snippet: str
    url: str
    subject_id: str
    subject_title: str = ""
    price: float | None = None
    dismiss_reason: str = ""


class HitOut(BaseModel):
    kind: str
    subject_id: str
    lead_id: str
    title: str
    url: str
    price: float | None
    max_severity: str | None
    last_seen: str
    explanations: list[str]


class SearchOut(BaseModel):
    total: int
    page: int
    hits: list[HitOut]


class HandoverOut(BaseModel):
    unit: str
    due: str
    state: str = Field(description="open | due-soon | overdue | done")
    result: str = ""


class LeadOut(BaseModel):
    lead_id: str
    shop_name: str
    operator: str
    address: str
    region: str
    main_category: str | None
    max_severity: str | None
    status: str
    assignee: str
    findings: int
    handover: HandoverOut | None = None


class EventOut(BaseModel):
    at: str
    actor: str
    action: str
    value: str
    previous: str
    finding_id: str


class LeadDetailOut(LeadOut):
    finding_list: list[FindingOut]
    events: list[EventOut]


class LeadsOut(BaseModel):
    total: int
    leads: list[LeadOut]


class _TriageBase(BaseModel):
    lead_ids: list[Annotated[str, Field(min_length=3, max_length=300)]] = Field(min_length=1, max_length=500)
    note: str = Field("", max_length=5000)


class StatusIn(_TriageBase):
    action: Literal["confirm", "refer"]


class DismissIn(_TriageBase):
    action: Literal["dismiss"]
    reason: Literal["false_positive", "lawful", "duplicate", "out_of_scope", "gone", "insufficient"] = Field(
        description="false_positive / lawful 计入规则误报；其余（重复、非本辖区、已下架、证据不足）不计入")


class AssignIn(_TriageBase):
    action: Literal["assign"]
    assignee: str = Field(max_length=64, description='a console user; "" takes the leads back')


class HandoverIn(_TriageBase):
    action: Literal["handover"]
    unit: str = Field(min_length=1, max_length=100, description="接收单位")
    due: date = Field(description="办理期限（北京时间的日期），不早于今天")


TriageIn = Annotated[StatusIn | DismissIn | AssignIn | HandoverIn, Field(discriminator="action")]


class TriageResultOut(BaseModel):
    lead_id: str
    changed: bool
    error: str = ""


class TriageOut(BaseModel):
    changed: int
    results: list[TriageResultOut]


ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ApiError, "description": "没有或无效的令牌"},
                                            404: {"model": ApiError, "description": "没有这条线索"},
                                            422: {"description": "参数有误"}}
TRIAGE_ERRORS = {**ERRORS, 409: {"model": ApiError, "description": "无法执行：如承办人不存在、办理期限已过"}}


def api_user(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
    state = request.app.state.console.state.console_state
    token = state.check_token(creds.credentials) if creds is not None else None
    user = request.app.state.console.state.store.get_user(token.username) if token is not None else None
    if user is None or user.disabled:
        raise HTTPException(401, "需要有效的 API 令牌 / a valid API token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.user = user
    return user


ApiUser = Annotated[User, Depends(api_user)]


def _console(request: Request) -> Any:
    return request.app.state.console


def _visible(request: Request, user: User) -> Any:
    from leads.web.scope import visible_predicate

    return visible_predicate(_console(request).state.console_state, user)


def _params(request: Request) -> QueryParams:
    return QueryParams([(k, v[:500]) for k, v in request.query_params.multi_items()])


def make_api(console: FastAPI) -> FastAPI:
    api = FastAPI(title="netsword 网剑 API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", description=__doc__)
    api.state.console = console

    @api.get("/search", response_model=SearchOut, responses=ERRORS)
    def search(request: Request, user: ApiUser, q: str = Query("", max_length=500),
               page: int = Query(1, ge=1, le=10000), per_page: int = Query(20, ge=1, le=200)) -> SearchOut:
        from leads.readable import explain_finding
        from leads.web.forms import SearchForm
        from leads.web.scope import lead_id_predicate

        store = _console(request).state.store
        form = SearchForm.parse(_params(request))
        result = store.search(form.query(per_page=per_page))
        keep = lead_id_predicate(store, _visible(request, user))
        hits = [h for h in result.hits if keep is None or keep(f"{h.site}:{h.shop_id}")]
        return SearchOut(total=result.total if keep is None else len(hits), page=page, hits=[
            HitOut(kind=h.kind, subject_id=h.subject_id, lead_id=f"{h.site}:{h.shop_id}", title=h.title, url=h.url,
                   price=h.price, max_severity=h.max_severity, last_seen=h.last_seen,
                   explanations=list(dict.fromkeys(explain_finding(f) for f in h.findings))) for h in hits])

    @api.get("/leads", response_model=LeadsOut, responses=ERRORS)
    def leads(request: Request, user: ApiUser, q: str = Query("", max_length=500),
              lead_status: Literal["", "new", "confirmed", "dismissed", "referred"] = "",
              region: str = Query("", max_length=20), page: int = Query(1, ge=1, le=10000),
              per_page: int = Query(50, ge=1, le=500)) -> LeadsOut:
        from leads.web.triage_views import filtered_leads

        store = _console(request).state.store
        _, chosen = filtered_leads(store, _params(request), _visible(request, user))
        shown = chosen[(page - 1) * per_page: page * per_page]
        return LeadsOut(total=len(chosen), leads=[_lead_out(x) for x in shown])

    @api.get("/leads/{lead_id}", response_model=LeadDetailOut, responses=ERRORS)
    def lead(request: Request, user: ApiUser, lead_id: str) -> LeadDetailOut:
        from leads.leads import get_lead
        from leads.readable import explain_finding
        from leads.triage import TriageError

        store = _console(request).state.store
        try:
            x = get_lead(store, lead_id)
        except TriageError:
            x = None
        visible = _visible(request, user)
        if x is None or (visible is not None and not visible(x)):
            raise HTTPException(404, "没有这条线索 / no such lead")
        return LeadDetailOut(**_lead_out(x).model_dump(), finding_list=[
            FindingOut(finding_id=f["finding_id"], rule_id=f["rule_id"], title=f["title"] or "",
                       category=f["category"], severity=f["severity"], status=f["status"],
                       explanation=explain_finding(f), snippet=f["snippet"] or "", url=f["url"] or "",
                       subject_id=f["subject_id"], subject_title=f.get("subject_title") or "", price=f.get("price"),
                       dismiss_reason=x.state.reasons.get(f["finding_id"], "")) for f in x.findings],
            events=[EventOut(at=e.at, actor=e.actor, action=e.action, value=e.value, previous=e.previous,
                             finding_id=e.finding_id) for e in store.triage_events(lead_id)])

    @api.post("/triage", response_model=TriageOut, responses=TRIAGE_ERRORS)
    def triage(request: Request, user: ApiUser, body: TriageIn) -> TriageOut | JSONResponse:
        from leads.handover import hand_over_many
        from leads.leads import get_lead
        from leads.triage import BulkResult, TriageError, bulk

        store = _console(request).state.store
        visible = _visible(request, user)
        allowed, results = [], []
        for lead_id in dict.fromkeys(body.lead_ids):
            try:
                x = get_lead(store, lead_id)
            except TriageError:
                x = None
            if x is None or (visible is not None and not visible(x)):
                results.append(BulkResult(lead_id, False, "没有这条线索 / no such lead"))
            else:
                allowed.append(lead_id)
        try:
            if isinstance(body, HandoverIn):
                results += hand_over_many(store, allowed, body.unit, body.due, user.username, body.note)
            else:
                results += bulk(store, allowed, body.action, user.username, reason=getattr(body, "reason", ""),
                                assignee=getattr(body, "assignee", ""), note=body.note)
        except TriageError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)
        store.flush()
        return TriageOut(changed=sum(1 for r in results if r.changed),
                         results=[TriageResultOut(lead_id=r.lead_id, changed=r.changed, error=r.error)
                                  for r in results])

    @api.get("/export", responses={**ERRORS, 200: {"description": "导出文件", "content": {
        "text/csv": {}, "application/json": {}, "application/zip": {},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
    def export_file(request: Request, user: ApiUser, fmt: Literal["csv", "json", "xlsx", "zip"] = "csv",
                    what: Literal["findings", "leads"] = "findings", q: str = Query("", max_length=500)) -> Any:
        from leads.bundle import write_bundle
        from leads.export import export
        from leads.web.forms import SearchForm
        from leads.web.scope import lead_id_predicate
        from leads.web.views import EXPORT_FORMATS

        console_app = _console(request)
        store = console_app.state.store
        query = SearchForm.parse(_params(request)).query()
        keep = lead_id_predicate(store, _visible(request, user))
        folder = Path(tempfile.mkdtemp(prefix="netsword-api-"))
        path = folder / f"export.{fmt}"
        if fmt == "zip":
            write_bundle(store, path, query, evidence_dir=console_app.state.config.evidence_dir, keep=keep)
        else:
            export(store, path, fmt, query, what=what, keep=keep)
        return FileResponse(path, media_type=EXPORT_FORMATS[fmt], filename=f"netsword-{what}.{fmt}",
                            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))

    return api


def _lead_out(x: Any) -> LeadOut:
    from leads.dashboard import region_of
    from leads.handover import handover_class

    h = x.state.handover
    return LeadOut(lead_id=x.lead_id, shop_name=x.shop_name, operator=x.operator, address=x.address,
                   region=region_of(x.address), main_category=x.main_category, max_severity=x.max_severity,
                   status=x.status, assignee=x.assignee, findings=len(x.findings),
                   handover=None if h is None else HandoverOut(unit=h.unit, due=h.due, state=handover_class(h),
                                                               result=h.result))
