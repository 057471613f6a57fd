"""The runs page: sweep records (every user), live distributed sweeps with their workers and log (every user),
and run control (admins): start a site's sweep now, stop and resume a distributed sweep.

The work is done by :mod:`scheduling.control` (the commands' own paths); these views only read forms, call it
and say what happened. Everything shown from Redis (sweep ids, worker names, host names, log lines) is scraped
text as far as the console is concerned: escaped, bidi controls made visible.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from leads.web.auth import csrf_protect, current_user
from leads.web.views import Admin, _store, back, flash, render

router = APIRouter(dependencies=[Depends(current_user), Depends(csrf_protect)])
LOG_LINES = 200


def _redis_url(request: Request) -> str:
    return request.app.state.config.redis_url


@router.get("/runs")
def runs_page(request: Request) -> Response:
    """Live distributed sweeps (when Redis is configured), then the run records, newest first."""
    from scheduling.campaigns import KIND_LABELS, RUN_STATUS_LABELS
    from scheduling.control import STATE_LABELS, ControlError, known_sites, live_sweeps
    from scheduling.runs import run_history

    site = request.query_params.get("site") or None
    runs = run_history(_store(request), site=site, limit=200)
    live, live_error = [], ""
    if _redis_url(request):
        try:
            live = live_sweeps(_redis_url(request))
        except ControlError as exc:
            live_error = str(exc)
    return render(request, "runs.html", runs=runs, site=site or "", kind_labels=KIND_LABELS,
                  run_status_labels=RUN_STATUS_LABELS, live=live, live_error=live_error,
                  distributed=bool(_redis_url(request)), state_labels=STATE_LABELS, sites=known_sites())


@router.get("/runs/live/{sweep_id}")
def live_sweep_page(request: Request, sweep_id: str) -> Response:
    """One distributed sweep: its workers and their heartbeats, and the last lines of its log."""
    from scheduling.control import STATE_LABELS, ControlError, sweep

    if not _redis_url(request):
        return render(request, "error.html", status_code=404, status=404,
                      message="未配置分布式扫描（NETSWORD_REDIS_URL）")
    try:
        st, lines = sweep(_redis_url(request), sweep_id[:200], lines=LOG_LINES)
    except ControlError as exc:
        return render(request, "error.html", status_code=404, status=404, message=str(exc))
    return render(request, "run_live.html", st=st, lines=lines, state_labels=STATE_LABELS, log_lines=LOG_LINES)


@router.post("/runs/start")
def runs_start(request: Request, admin: Admin, site: str = Form(""), base_url: str = Form("")) -> Response:
    from scheduling.control import ControlError, start_sweep

    config = request.app.state.config
    try:
        started = start_sweep(site.strip()[:64], redis_url=config.redis_url, home=config.home,
                              store_url=config.store_url, base_url=base_url.strip()[:500])
    except ControlError as exc:
        flash(request, f"未启动：{exc}")
        return back("/runs")
    flash(request, started.message)
    return back(_live_url(started.ident) if started.mode == "distributed" else "/runs")


def _live_url(sweep_id: str) -> str:
    from urllib.parse import quote

    return "/runs/live/" + quote(sweep_id, safe="")


def _control(request: Request, sweep_id: str, action: str, to_live: bool) -> Response:
    from scheduling.control import STATE_LABELS, ControlError, resume_sweep, stop_sweep

    if not _redis_url(request):
        flash(request, "未配置分布式扫描（NETSWORD_REDIS_URL）")
        return back("/runs")
    sweep_id = sweep_id[:200]
    act, new, verb = (stop_sweep, "stopped", "已停止") if action == "stop" else (resume_sweep, "running", "已恢复")
    try:
        old = act(_redis_url(request), sweep_id)
        flash(request, f"扫描 {sweep_id} {verb}（{STATE_LABELS.get(old, old)} → {STATE_LABELS[new]}）")
    except ControlError as exc:
        flash(request, str(exc))
    return back(_live_url(sweep_id) if to_live else "/runs")


@router.post("/runs/stop")
def runs_stop(request: Request, admin: Admin, sweep_id: str = Form(""), back_to: str = Form("")) -> Response:
    """Workers leave the sweep within a heartbeat; its queue waits in Redis for resume."""
    return _control(request, sweep_id, "stop", back_to == "live")


@router.post("/runs/resume")
def runs_resume(request: Request, admin: Admin, sweep_id: str = Form(""), back_to: str = Form("")) -> Response:
    return _control(request, sweep_id, "resume", back_to == "live")
