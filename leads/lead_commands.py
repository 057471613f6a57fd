"""`netsword leads ...`: the console's triage on the command line, into the same audit trail.

    netsword leads list [QUERY] [--status new] [--main 类别] [--region 广东] [--overdue] [--ids] [--json]
    netsword leads show demo:S001 [--json]
    netsword leads confirm demo:S001 demo:S002 [--note ...]
    netsword leads dismiss demo:S001 --reason duplicate [--finding <id>=false_positive ...]
    netsword leads assign demo:S001 --to wang          (--to "" takes it back)
    netsword leads refer demo:S001
    netsword leads handover demo:S001 --unit 某区市场监管局 --due 2026-07-01 [--note ...]
    netsword leads result demo:S001 "已立案调查"
    netsword leads list --status new --site demo --ids | netsword leads dismiss - --reason out_of_scope

Lead ids ``-`` are read from standard input, one a line. Every change is recorded with ``--by`` (default:
``cli:<login name>``) as its author.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from leads.commands import QUERY_CONTEXT, _query, _store, console, err, filter_options

REASON_CHOICE = click.Choice(["false_positive", "lawful", "duplicate", "out_of_scope", "gone", "insufficient"])


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _ids(lead_ids: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for raw in lead_ids:
        if raw == "-":
            out.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            out.append(raw)
    if not out:
        raise click.UsageError("没有线索编号 / no lead ids given")
    return out


def by_option(fn: Any) -> Any:
    return click.option("--by", default=None, help="who decides (default: cli:<login name>)")(fn)


@click.group("leads")
def leads() -> None:
    """线索核查 / triage leads (the console's actions, same audit trail)."""


@leads.command("list", context_settings=QUERY_CONTEXT)
@click.argument("query", required=False, default="")
@filter_options
@click.option("--lead-status", "lead_status", type=click.Choice(["new", "confirmed", "dismissed", "referred"]),
              default=None, help="lead status")
@click.option("--main", default=None, help="main category")
@click.option("--assignee", default=None, help="assigned to this user")
@click.option("--region", default=None, help="province of the shop address, e.g. 广东")
@click.option("--overdue", is_flag=True, help="only leads whose handover is overdue")
@click.option("--ids", "ids_only", is_flag=True, help="print lead ids only (for piping into another command)")
@click.option("--json", "as_json", is_flag=True)
def leads_list(query: str, lead_status: str | None, main: str | None, assignee: str | None, region: str | None,
               overdue: bool, ids_only: bool, as_json: bool, **filters: Any) -> None:
    """List leads (most serious first)."""
    from leads.dashboard import region_of
    from leads.handover import handover_class, is_overdue
    from leads.leads import build_leads

    store = _store()
    try:
        found = build_leads(store, _query(query, **filters), status=lead_status, main=main, assignee=assignee)
    finally:
        store.close()
    found = [x for x in found if (not region or region_of(x.address) == region)
             and (not overdue or is_overdue(x.state.handover))]
    if ids_only:
        click.echo("\n".join(x.lead_id for x in found))
        return
    if as_json:
        click.echo(json.dumps([_lead_json(x) for x in found], ensure_ascii=False, indent=2))
        return
    from leads import lead_status_label, severity_label

    table = Table(title=f"线索 {len(found)} 条")
    for col in ("线索编号", "店铺", "主要违法类别", "严重程度", "状态", "承办人", "交办"):
        table.add_column(col)
    for x in found:
        h = x.state.handover
        hand = "" if h is None else f"{h.unit} 期限{h.due}" + {"overdue": " 已超期", "done": " 已反馈"}.get(
            handover_class(h), "")
        table.add_row(escape(x.lead_id), escape(x.shop_name), x.main_category or "—", severity_label(x.max_severity),
                      lead_status_label(x.status), escape(x.assignee or "—"), escape(hand),
                      style="bold red" if handover_class(h) == "overdue" else None)
    console.print(table)


def _lead_json(x: Any) -> dict[str, Any]:
    from leads.handover import handover_class

    h = x.state.handover
    return {"lead_id": x.lead_id, "shop_name": x.shop_name, "operator": x.operator, "address": x.address,
            "main_category": x.main_category, "max_severity": x.max_severity, "status": x.status,
            "assignee": x.assignee, "findings": len(x.findings),
            "handover": None if h is None else {"unit": h.unit, "due": h.due, "state": handover_class(h),
                                                "result": h.result}}


@leads.command("show")
@click.argument("lead_id")
@click.option("--json", "as_json", is_flag=True)
def leads_show(lead_id: str, as_json: bool) -> None:
    """One lead: operator, findings (in plain words), handover, audit trail."""
    from leads import lead_status_label, severity_label, status_label
    from leads.leads import get_lead
    from leads.readable import explain_finding
    from leads.triage import TriageError

    store = _store()
    try:
        try:
            lead = get_lead(store, lead_id)
        except TriageError as exc:
            raise click.UsageError(str(exc)) from exc
        if lead is None:
            err.print(f"没有这条线索 / no such lead: {escape(lead_id)}")
            sys.exit(1)
        events = store.triage_events(lead_id)
    finally:
        store.close()
    if as_json:
        data = _lead_json(lead) | {"findings": [
            {"finding_id": f["finding_id"], "rule_id": f["rule_id"], "category": f["category"],
             "severity": f["severity"], "status": f["status"], "explanation": explain_finding(f), "url": f["url"],
             "reason": lead.state.reasons.get(f["finding_id"], "")} for f in lead.findings],
            "events": [{"at": e.at, "actor": e.actor, "action": e.action, "value": e.value, "previous": e.previous,
                        "finding_id": e.finding_id} for e in events]}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]{escape(lead.shop_name or lead.lead_id)}[/]  {escape(lead.lead_id)}  "
                  f"{lead_status_label(lead.status)}  主要违法类别：{lead.main_category or '—'}")
    console.print(f"经营者：{escape(lead.operator or '—')}  地址：{escape(lead.address or '—')}  "
                  f"承办人：{escape(lead.assignee or '—')}")
    if lead.state.handover is not None:
        h = lead.state.handover
        console.print(f"交办：{escape(h.unit)}，期限 {h.due}" + (f"，已反馈：{escape(h.result)}" if h.done_at else ""))
    for f in lead.findings:
        console.print(f"- [{severity_label(f['severity'])}] {f['category']} · {escape(f['title'] or f['rule_id'])} "
                      f"（{status_label(f['status'])}） {f['finding_id']}\n    {escape(explain_finding(f))}")
    for e in events:
        console.print(f"  {e.at} {escape(e.actor)} {e.action} {escape(e.previous)} → {escape(e.value[:200])}")


def _report(results: list[Any], verb: str) -> None:
    changed = sum(1 for r in results if r.changed)
    for r in results:
        if r.error:
            err.print(f"{escape(r.lead_id)}: {escape(r.error)}")
    failed = sum(1 for r in results if r.error)
    click.echo(f"{verb}：{changed} 条线索已更改，{len(results) - changed - failed} 条无变化")
    if any(r.error for r in results):
        sys.exit(1)


def _bulk(lead_ids: tuple[str, ...], action: str, by: str | None, verb: str, **kw: Any) -> None:
    from leads.triage import TriageError, bulk

    store = _store()
    try:
        results = bulk(store, _ids(lead_ids), action, _actor(by), **kw)
        store.flush()
    except TriageError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        store.close()
    _report(results, verb)


@leads.command("confirm")
@click.argument("lead_ids", nargs=-1, required=True)
@click.option("--note", default="")
@by_option
def leads_confirm(lead_ids: tuple[str, ...], note: str, by: str | None) -> None:
    """确认线索 / confirm leads."""
    _bulk(lead_ids, "confirm", by, "确认", note=note)


@leads.command("refer")
@click.argument("lead_ids", nargs=-1, required=True)
@click.option("--note", default="")
@by_option
def leads_refer(lead_ids: tuple[str, ...], note: str, by: str | None) -> None:
    """移送执法 / refer leads to enforcement."""
    _bulk(lead_ids, "refer", by, "移送", note=note)


@leads.command("dismiss")
@click.argument("lead_ids", nargs=-1, required=True)
@click.option("--reason", required=True, type=REASON_CHOICE,
              help="false_positive 误报 / lawful 经核实合法 (both count against the rule); duplicate, out_of_scope, "
                   "gone, insufficient (do not)")
@click.option("--finding", "per_finding", multiple=True, metavar="FINDING_ID=REASON",
              help="another reason for one finding (repeatable)")
@click.option("--note", default="")
@by_option
def leads_dismiss(lead_ids: tuple[str, ...], reason: str, per_finding: tuple[str, ...], note: str,
                  by: str | None) -> None:
    """排除线索 / dismiss leads, with the reason recorded for each finding."""
    from leads.triage import BulkResult, TriageError, set_status

    reasons: dict[str, str] = {}
    for item in per_finding:
        fid, sep, code = item.partition("=")
        if not sep or code not in REASON_CHOICE.choices:
            raise click.UsageError(f"--finding 应为 FINDING_ID=原因 / expected FINDING_ID=REASON, got {item!r}")
        reasons[fid.strip()] = code
    store = _store()
    results = []
    try:
        for lead_id in dict.fromkeys(_ids(lead_ids)):
            try:
                changed = set_status(store, lead_id, "dismissed", _actor(by), note, reason=reason,
                                     reasons=reasons) is not None
                results.append(BulkResult(lead_id, changed))
            except TriageError as exc:
                results.append(BulkResult(lead_id, False, str(exc)))
        store.flush()
    finally:
        store.close()
    _report(results, "排除")


@leads.command("assign")
@click.argument("lead_ids", nargs=-1, required=True)
@click.option("--to", "assignee", required=True, help='a console user ("" takes the leads back)')
@by_option
def leads_assign(lead_ids: tuple[str, ...], assignee: str, by: str | None) -> None:
    """分配承办人 / assign leads to a console user."""
    _bulk(lead_ids, "assign", by, "分配", assignee=assignee)


@leads.command("handover")
@click.argument("lead_ids", nargs=-1, required=True)
@click.option("--unit", required=True, help="接收单位 / the receiving unit")
@click.option("--due", required=True, help="办理期限 / due day, YYYY-MM-DD (Beijing)")
@click.option("--note", default="")
@by_option
def leads_handover(lead_ids: tuple[str, ...], unit: str, due: str, note: str, by: str | None) -> None:
    """交办 / hand leads over to a receiving unit with a due date."""
    from leads.handover import hand_over_many
    from leads.triage import TriageError

    store = _store()
    try:
        results = hand_over_many(store, _ids(lead_ids), unit, due, _actor(by), note)
        store.flush()
    except TriageError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        store.close()
    _report(results, "交办")


@leads.command("result")
@click.argument("lead_id")
@click.argument("result")
@by_option
def leads_result(lead_id: str, result: str, by: str | None) -> None:
    """记录接收单位的办理结果 / record the receiving unit's result."""
    from leads.handover import record_result
    from leads.triage import TriageError

    store = _store()
    try:
        record_result(store, lead_id, result, _actor(by))
        store.flush()
    except TriageError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        store.close()
    click.echo("已记录办理结果")


@leads.command("check-searches")
@click.option("--console-url", default="", help="the console's address, for links in the alerts")
def leads_check_searches(console_url: str) -> None:
    """Run the saved searches for new matches and alert (the scheduler does this after every sweep)."""
    from leads.saved import check_saved_searches

    store = _store()
    try:
        results = check_saved_searches(store, console_url=console_url)
    finally:
        store.close()
    for s, n, status in results:
        click.echo(f"{s.owner}「{s.name}」：新发现 {n} 条{('，' + status) if status else ''}")
