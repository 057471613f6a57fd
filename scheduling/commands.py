"""`netsword schedule`: list, run-now, history, and run (start) — the campaign scheduler."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from scheduling.campaigns import DEFAULT_TZ, KIND_LABELS, RUN_STATUS_LABELS

console = Console()
err = Console(stderr=True)

STATUS_LABELS = RUN_STATUS_LABELS
campaign_option = click.option("--campaign", "campaigns", multiple=True, type=click.Path(exists=True),
                               help="campaign file or folder (default: campaigns/ or $NETSWORD_CAMPAIGNS)")


def _tz() -> ZoneInfo:
    return ZoneInfo(os.environ.get("NETSWORD_TZ") or DEFAULT_TZ)


def _local(value: datetime | str | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if not value:
        return "—"
    dt = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(tz).strftime(fmt)


def _short_days(span: str) -> str:
    """"2026-12-12~2026-12-12" -> "12-12"; "2026-06-16~2026-06-18" -> "06-16~06-18"."""
    a, _, b = span.partition("~")
    return a[5:] if a == b else f"{a[5:]}~{b[5:]}"


def _load(campaigns: tuple[str, ...]) -> list[Any]:
    from netsword.yamlsource import SourceError
    from scheduling.campaigns import load_campaigns

    try:
        loaded = load_campaigns(list(campaigns) or None)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    if not loaded:
        raise click.ClickException("没有行动计划文件（campaigns/*.yml）")
    return loaded


@click.group()
def schedule() -> None:
    """Campaign calendar: festival sweeps, baselines, run history (APScheduler)."""


# --- list -------------------------------------------------------------------------------
@schedule.command("list")
@campaign_option
@click.option("--all", "show_all", is_flag=True, help="also jobs whose time is over")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def list_cmd(campaigns: tuple[str, ...], show_all: bool, as_json: bool) -> None:
    """Planned sweeps and their next runs (local time, Asia/Shanghai unless $NETSWORD_TZ)."""
    from scheduler import read_jobs, running_scheduler
    from scheduling.plan import KIND_ORDER, plan_jobs

    tz, now = _tz(), datetime.now(UTC)
    stored = read_jobs()
    if not as_json:
        pid = running_scheduler()
        err.print(f"调度器：运行中（pid {pid}）" if pid else "调度器：未运行（netsword schedule run 启动）")
    rows = []
    for loaded in _load(campaigns):
        c = loaded.campaign
        if not as_json:
            phase = c.phase_on(now.astimezone(c.tz).date()) or "不在行动期内"
            err.print(f"[bold]{c.title}[/]（{c.campaign}，{loaded.path}）当前阶段：{phase}")
            err.print("  阶段：" + "；".join(f"{p.name} {p.start}~{p.end}" for p in c.phases))
            err.print("  站点：" + "，".join(t.site for t in c.targets)
                      + ("；关注类别：" + "，".join(c.focus_categories) if c.focus_categories else ""))
        days = {f.festival.id: f for f in loaded.festivals}
        for pj in sorted(plan_jobs(loaded), key=lambda j: (days[j.festival].first_day, KIND_ORDER[j.kind], j.site)):
            job = stored.get(pj.job_id) if stored is not None else None
            if job is not None:
                nxt, state = job.next_run_time, "已排程" if job.next_run_time else "暂停"
            else:
                nxt = pj.next_run(now)
                nxt = nxt if nxt is not None and nxt >= now else None
                state = "调度器未启动" if stored is None else ("已结束" if nxt is None else "待同步")
            if nxt is None and not show_all:
                continue
            fd = days[pj.festival]
            rows.append({"job_id": pj.job_id, "festival": pj.festival_name, "kind": pj.kind, "site": pj.site,
                         "festival_days": f"{fd.first_day}~{fd.last_day}",
                         "phase": c.phase_on(fd.first_day) or "—", "next_run": nxt.isoformat() if nxt else None,
                         "when": pj.describe(), "state": state})
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    table = Table(title=f"扫描计划（时间为 {tz.key}；run-now 用第一列）")
    for col in ("任务", "节日", "类型", "下次运行", "规则", "状态"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["job_id"].split(":", 1)[1], f"{r['festival']}\n{_short_days(r['festival_days'])}",
                      KIND_LABELS.get(r["kind"], r["kind"]), _local(r["next_run"], tz, "%m-%d %H:%M:%S"),
                      r["when"], r["state"])
    console.print(table)
    if not rows:
        err.print("没有待运行的扫描（--all 显示已结束的）")


# --- run-now ----------------------------------------------------------------------------
@schedule.command("run-now")
@click.argument("job", required=False)
@click.option("--site", default=None, help="only this site (or: a manual sweep of SITE when no JOB is given)")
@click.option("--base-url", default=None, help="override the site's base URL")
@campaign_option
def run_now(job: str | None, site: str | None, base_url: str | None, campaigns: tuple[str, ...]) -> None:
    """Run a planned sweep now, in the foreground (JOB: a job id from `schedule list`, or a unique
    part of one such as `double12:baseline`). Waits if the site is being swept already."""
    from scheduling.plan import plan_all
    from scheduling.runs import SweepRequest, SweepRunner

    if job is None:
        if not site:
            raise click.UsageError("give a JOB (see `netsword schedule list`) or --site for a manual sweep")
        requests = [SweepRequest(site, base_url=base_url)]
    else:
        planned = plan_all(_load(campaigns))
        matches = [p for p in planned if p.job_id == job] or [
            p for p in planned if f":{job}:" in f":{p.job_id}:" or p.job_id.endswith(job)]
        if site:
            matches = [p for p in matches if p.site == site]
        if not matches:
            raise click.ClickException(f"没有与 {job!r} 对应的计划任务（netsword schedule list --all）")
        if len({(p.festival, p.kind, p.campaign) for p in matches}) > 1:
            raise click.ClickException(f"{job!r} 对应多个任务：{', '.join(p.job_id for p in matches[:6])}")
        requests = [SweepRequest(p.site, p.kind, p.campaign, p.festival, p.job_id, base_url or p.base_url,
                                 list(p.start_urls), p.campaign_file, list(p.search)) for p in matches]
    runner = SweepRunner()
    worst = 0
    for req in requests:
        err.print(f"{req.job_id or req.site}: {KIND_LABELS.get(req.kind, req.kind)} 开始 ...")
        run = runner.run(req)
        console.print(f"{run.run_id}: {STATUS_LABELS.get(run.status, run.status)}，页面 {run.pages}，"
                      f"发现 {run.findings}（新 {run.new_findings}），错误 {run.errors}"
                      + (f"；告警 {run.alert}" if run.alert else "") + (f"；{run.message}" if run.message else ""))
        if run.status not in ("ok", "incomplete"):
            worst = 1
    sys.exit(worst)


# --- history ----------------------------------------------------------------------------
@schedule.command("history")
@click.option("--site", default=None)
@click.option("--status", default=None, type=click.Choice(sorted(STATUS_LABELS)))
@click.option("--limit", default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def history(site: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """Sweep runs, newest first: start, end, pages, findings, errors, alert."""
    from dataclasses import asdict

    from netsword.config import store_url
    from pipelines.store import open_store
    from scheduling.runs import run_history

    store = open_store(store_url())
    try:
        runs = run_history(store, site=site, status=status, limit=limit)
    finally:
        store.close()
    if as_json:
        for r in runs:
            click.echo(json.dumps(asdict(r), ensure_ascii=False))
        return
    tz = _tz()
    table = Table(title=f"扫描记录（时间为 {tz.key}）")
    for col in ("扫描", "类型", "开始", "结束", "状态", "页面", "发现", "新", "错误", "告警/说明"):
        table.add_column(col, overflow="fold")
    for r in runs:
        note = r.alert or r.message
        table.add_row(r.run_id, KIND_LABELS.get(r.kind, r.kind), _local(r.started_at, tz, "%m-%d %H:%M:%S"),
                      _local(r.finished_at, tz, "%m-%d %H:%M:%S"), STATUS_LABELS.get(r.status, r.status),
                      str(r.pages), str(r.findings), str(r.new_findings), str(r.errors), note[:80])
    console.print(table)
    if not runs:
        err.print("还没有扫描记录")


# --- run ------------------------------------------------------------------------
@schedule.command("run")
@campaign_option
@click.option("--misfire-grace", default=3600, show_default=True, help="seconds a missed sweep may start late")
def run_cmd(campaigns: tuple[str, ...], misfire_grace: int) -> None:
    """Run the scheduler in the foreground (SIGTERM / Ctrl-C stop it gracefully; SIGHUP reloads)."""
    from scheduler import AlreadyRunning, serve, setup_logging

    _load(campaigns)  # validate before anything starts
    setup_logging()
    try:
        code = serve(list(campaigns) or None, home=None, misfire_grace=misfire_grace)
    except AlreadyRunning as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)

