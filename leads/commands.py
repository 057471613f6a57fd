"""What analysts do with findings, on the command line: search, export, report, rules stats, users, serve."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netsword.config import store_url as default_store_url
from pipelines.store.commands import elastic_store, index

console = Console()
err = Console(stderr=True)
SEVERITY_CHOICE = click.Choice(["low", "medium", "high", "critical"])
STATUS_CHOICE = click.Choice(["open", "resolved", "confirmed", "dismissed", "referred"])


def _store() -> Any:
    """The store for an analyst's command: a person waits on its writes (users), not a batch job."""
    from pipelines.store import open_store

    return open_store(default_store_url()).make_interactive()


def filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The filters search, export and bundles share (see ``leads.search.build_query``)."""
    options = [
        click.option("--category", multiple=True, help="form category, e.g. 虚假违法互联网广告 (repeatable)"),
        click.option("--severity", multiple=True, type=SEVERITY_CHOICE, help="(repeatable)"),
        click.option("--site", multiple=True, help="site id (repeatable)"),
        click.option("--status", multiple=True, type=STATUS_CHOICE, help="finding status (repeatable)"),
        click.option("--sweep", default=None, help="only what this sweep saw"),
        click.option("--shop", default=None, help="shop id"),
        click.option("--from", "date_from", default=None, help="seen on or after this day (YYYY-MM-DD, Beijing)"),
        click.option("--to", "date_to", default=None, help="seen on or before this day (YYYY-MM-DD, Beijing)"),
        click.option("--price-min", type=float, default=None),
        click.option("--price-max", type=float, default=None),
        click.option("--include-resolved", is_flag=True, help="also findings a rescan no longer showed"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _query(text: str = "", **kw: Any) -> Any:
    from leads.search import build_query

    try:
        return build_query(text, **{k: (tuple(v) if isinstance(v, tuple) else v) for k, v in kw.items()})
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


# --- search / export -------------------------------------------------------------------
#: a query may start with "-" (`netsword search "-正品 高仿"`: exclude 正品): not an option
QUERY_CONTEXT = {"ignore_unknown_options": True}


@click.command(context_settings=QUERY_CONTEXT)
@click.argument("query", required=False, default="")
@filter_options
@click.option("--all", "include_clean", is_flag=True, help="include listings without findings")
@click.option("--limit", default=20, show_default=True, help="hits per page")
@click.option("--page", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print hits as JSON")
def search(query: str, limit: int, page: int, as_json: bool, **filters: Any) -> None:
    """Search flagged listings and shops (Chinese full text + filters), with facet counts."""
    from leads.search import format_table

    q = _query(query, per_page=limit, page=page, **filters)
    store = _store()
    try:
        result = store.search(q)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_table(result))


@click.command(context_settings=QUERY_CONTEXT)
@click.argument("query", required=False, default="")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json", "zip"]), default="xlsx",
              show_default=True, help="zip: evidence bundle (sheet + page snapshots + screenshots + SHA-256 manifest)")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--what", type=click.Choice(["findings", "leads"]), default="findings", show_default=True,
              help="CSV/JSON: one row per finding or per lead (XLSX has both sheets)")
@click.option("--operator", default="", help="zip: 提取人 named in the extraction record (the analyst)")
@click.option("--witness", default="", help="zip: 见证人 named in the extraction record")
@filter_options
def export(query: str, fmt: str, output: str, what: str, operator: str, witness: str, **filters: Any) -> None:
    """Export for enforcement teams: XLSX (sheets 线索 + 问题明细), CSV, JSON, or an evidence bundle (zip)."""
    from leads.bundle import write_bundle
    from leads.export import export as run_export
    from netsword.config import current

    q = _query(query, **filters)
    store = _store()
    try:
        if fmt == "zip":
            cfg = current()
            summary = write_bundle(store, output, q, evidence_dir=cfg.evidence_dir, operator=operator,
                                   witness=witness, exit_ip=cfg.exit_ip)
            console.print(f"{summary.findings} findings, {summary.snapshots} page snapshots, "
                          f"{summary.screenshots} screenshots written to {escape(output)}")
            if summary.documents:
                console.print(f"  with {', '.join(summary.documents)}", highlight=False)
            if summary.missing:
                err.print(f"[yellow]{len(summary.missing)} snapshots not found in the evidence folder[/]")
            for problem in summary.problems:
                err.print(f"[yellow]! {escape(problem)}[/]", highlight=False, soft_wrap=True)
            return
        n = run_export(store, output, fmt, q, what=what)
    finally:
        store.close()
    console.print(f"{n} {what if fmt != 'xlsx' else 'findings'} written to {escape(output)}")


def verify_bundle_command(path: str) -> int:
    """Print the check of an evidence bundle (a .zip); returns the exit code (0 = intact).

    For the one ``netsword evidence verify`` command, which dispatches on ``.zip``.
    """
    from leads.bundle import verify_bundle

    check = verify_bundle(path)
    for problem in check.problems:
        err.print(f"[red]✗[/] {escape(problem)}")
    if check.ok:
        console.print(f"[green]✓[/] {escape(path)}: {check.files_checked} files, every SHA-256 matches")
    else:
        console.print(f"[red]{escape(path)}: {len(check.problems)} problems[/]")
    return 0 if check.ok else 1


# --- rules stats (attached to the `rules` group in cli.py) ------------------------------
@click.command("stats")
@click.option("--json", "as_json", is_flag=True)
@filter_options
def rules_stats(as_json: bool, **filters: Any) -> None:
    """Per-rule precision from triage: confirmed + referred vs dismissed findings."""
    from leads.rulestats import rule_stats

    store = _store()
    try:
        stats = rule_stats(store, _query(**filters))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in stats], ensure_ascii=False, indent=2))
        return
    table = Table(title="规则精确率 / per-rule precision (已确认+已移送)/(已确认+已移送+已排除)")
    for col in ("规则", "类别", "问题数", "待核查", "已确认", "已移送", "已排除", "另行排除", "精确率"):
        table.add_column(col, justify="right" if col not in ("规则", "类别") else "left")
    for s in stats:
        precision = "—" if s.precision is None else f"{s.precision:.0%}"
        table.add_row(escape(f"{s.title}\n{s.rule_id}"), escape(s.category), str(s.findings), str(s.open),
                      str(s.confirmed), str(s.referred), str(s.dismissed), str(s.set_aside), precision)
    console.print(table)


@click.command("suggest")
@click.option("--benign", type=click.Path(dir_okay=False, exists=True), default=None,
              help="JSON-lines corpus whose cases with `expected: []` are benign text "
                   "(default: tests/corpus/eval/cases.jsonl of the checkout, when present)")
@click.option("--min-support", default=2, show_default=True, help="findings a candidate must come back in")
@click.option("--json", "as_json", is_flag=True)
@filter_options
def rules_suggest(benign: str | None, min_support: int, as_json: bool, **filters: Any) -> None:
    """Candidate `unless:` contexts (from dismissed findings) and terms (from confirmed ones) per rule,
    for an analyst to accept by editing the pack: nothing changes by itself."""
    from leads.suggest import benign_texts, suggest
    from netsword.config import ROOT
    from pipelines.match import RuleSet

    ruleset = RuleSet.load(include_test=True)
    terms = {r.id: [t for g in _groups(r) for t in g.terms] for r in ruleset.rules}
    default = ROOT / "tests" / "corpus" / "eval" / "cases.jsonl"
    texts = benign_texts(benign or (default if default.is_file() else None))
    store = _store()
    try:
        found = suggest(store, terms, benign=texts, q=_query(**filters), min_support=min_support)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in found], ensure_ascii=False, indent=2))
        return
    if not found:
        console.print("暂无建议：需要更多已确认/已排除的线索 / nothing to suggest yet: triage more findings")
    for s in found:
        console.print(f"[bold]{escape(s.rule_id)}[/] {escape(s.title)} · 已确认 {s.confirmed} · 已排除 {s.dismissed}")
        for c in s.unless:
            console.print(f"   unless 候选 / candidate: {escape(c.text)}  (已排除中 {c.support} 次，已确认中 0 次)")
        for c in s.terms:
            console.print(f"   词 候选 / term: {escape(c.text)}  (已确认中 {c.support} 次，已排除中 {c.against} 次，"
                          f"正常文本 {c.benign}/{len(texts)})")


def _groups(rule: Any) -> list[Any]:
    groups = [rule.any, *rule.all, *((rule.near.a, rule.near.b) if rule.near else ())]
    if rule.unless:
        groups.append(rule.unless.terms)
    return [g for g in groups if g is not None]


# --- the statistics form ----------------------------------------------------------------
def campaign_for_report(name: str) -> tuple[str, str | None, str | None]:
    """(title, first day, last day) of the campaign whose id or title is ``name`` (campaigns/*.yml);
    an unknown name is a usage error that lists the campaigns and suggests the closest."""
    import difflib

    from netsword.yamlsource import SourceError
    from scheduling.campaigns import load_campaigns

    try:
        loaded = load_campaigns()
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    for c in loaded:
        if name in (c.id, c.campaign.title):
            phases = c.campaign.phases
            return c.campaign.title, phases[0].start.isoformat(), phases[-1].end.isoformat()
    names = [n for c in loaded for n in (c.id, c.campaign.title)]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.3)
    known = "、".join(f"{c.id}（{c.campaign.title}）" for c in loaded) or "（无 / none）"
    raise click.UsageError(f"没有行动 {name!r} / no campaign {name!r} in campaigns/*.yml"
                           + (f"；是否指 / did you mean: {close[0]}" if close else "") + f"\n已有 / known: {known}")


@click.command()
@click.option("--campaign", required=True, help="campaign id or title from campaigns/*.yml, e.g. 2026-netsword")
@click.option("--from", "date_from", default=None, help="first day (YYYY-MM-DD, Beijing; default: the campaign's)")
@click.option("--to", "date_to", default=None, help="last day (YYYY-MM-DD, Beijing; default: the campaign's)")
@click.option("--unit", default="", help="填报单位")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="write the form as XLSX")
def report(campaign: str, date_from: str | None, date_to: str | None, unit: str, output: str | None) -> None:
    """The campaign statistics form (情况统计表): cases per category, counted once, under the main one."""
    from leads.report import build_form, format_text, write_xlsx

    title, first, last = campaign_for_report(campaign)
    store = _store()
    try:
        form = build_form(store, title, date_from or first, date_to or last, unit=unit)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        store.close()
    if output:
        write_xlsx(form, output)
        console.print(f"form written to {escape(output)}")
    else:
        click.echo(format_text(form))


# --- users ------------------------------------------------------------------------------
@click.group()
def user() -> None:
    """Console users (passwords hashed with argon2id)."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["analyst", "admin"]), default="analyst", show_default=True)
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--reset", is_flag=True, help="the user exists: set a new password and role")
def user_add(username: str, role: str, password_stdin: bool, reset: bool) -> None:
    """Create a console user (prompts for the password)."""
    from leads.users import UserError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    store = _store()
    try:
        add_user(store, username, password, role, replace_existing=reset)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    console.print(f"user {escape(username)} ({role}) saved")


@user.command("list")
def user_list() -> None:
    """Users, roles and whether they may log in."""
    store = _store()
    try:
        for u in store.users():
            state = "disabled" if u.disabled else "active"
            click.echo(f"{u.username}\t{u.role}\t{state}\t{u.created_at}")
    finally:
        store.close()


@user.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="enable again")
def user_disable(username: str, enable: bool) -> None:
    """Stop (or with --enable, allow again) a user's logins."""
    from leads.users import UserError, set_disabled

    store = _store()
    try:
        set_disabled(store, username, not enable)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    console.print(f"user {escape(username)} {'enabled' if enable else 'disabled'}")


# --- the web console --------------------------------------------------------------------
@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--secure-cookies", is_flag=True, help="session cookie only over HTTPS (behind a TLS proxy)")
def serve(host: str, port: int, secure_cookies: bool) -> None:
    """The analyst console (web): search, leads, triage, exports, the statistics form."""
    import uvicorn

    from leads.web.app import ConsoleConfig, create_app

    config = ConsoleConfig.from_env(secure_cookies=secure_cookies)
    store = _store()
    try:
        if not store.users():
            err.print("[yellow]no users yet: create one with `netsword user add NAME --role admin`[/]")
        app = create_app(config, store=store)
        err.print(f"netsword console at http://{host}:{port}/ (Ctrl-C to stop)")
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
    finally:
        store.close()


@index.command("leads")
@click.option("--store", "store_url", default=None, metavar="URL",
              help="elasticsearch://[user:pass@]host:9200[/prefix] (default: $NETSWORD_STORE or the config file)")
def index_leads(store_url: str | None) -> None:
    """Write the current leads (one per shop, main category, triage status) into the leads index for Kibana."""
    from leads.kibana import lead_documents

    store = elastic_store(store_url)
    try:
        n = store.index_leads(lead_documents(store))
    finally:
        store.close()
    click.echo(f"{n} leads written to {store.alias('leads')}")
