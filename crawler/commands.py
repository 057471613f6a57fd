"""`netsword demo`, `crawl`, `profile check`, `evidence verify` and `evidence stamp`: sweeps and what they keep."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crawler.limits import cutoff_counts
from crawler.runner import run_sweep
from netsword.config import data_home
from netsword.config import evidence_dir as default_evidence_dir
from netsword.config import store_url as default_store_url

if TYPE_CHECKING:
    from pipelines.evidence import Check, Trust

console = Console()
err = Console(stderr=True)


# --- demo ------------------------------------------------------------------------------
@click.command()
@click.option("--keep-serving", is_flag=True, help="keep the demo site up after the sweep (Ctrl-C to stop)")
@click.option("--site", type=click.Choice(["demo", "bazaar"]), default="demo", show_default=True,
              help="demo: 网剑演示商城; bazaar: 仿真集市 (login, JSON API, qualification pages: crawler/bazaar/)")
def demo(keep_serving: bool, site: str) -> None:
    """Serve a bundled marketplace on 127.0.0.1, sweep it, and print a summary."""
    if site == "bazaar":
        from crawler.bazaar.commands import run_demo

        run_demo(keep_serving)
        return
    from crawler.demo.evaluate import evaluate
    from crawler.demo.server import DemoServer
    from pipelines.store import open_store

    store_url = default_store_url()
    err.print(f"[bold]netsword demo[/]: data in {data_home()}")
    with DemoServer() as server:
        err.print(f"demo marketplace serving at {server.url} — sweeping it (static pages over HTTP, "
                  "the kids category in headless Chromium) ...")
        t0 = time.monotonic()
        result = run_sweep("demo", base_url=server.url, store_url=store_url, quiet=True)
        seconds = time.monotonic() - t0
        store = open_store(store_url)
        try:
            _print_summary(store, result, seconds)
            report = evaluate(store, sweep_id=result.sweep_id)
            console.print(f"Against the demo's ground truth: precision [bold]{report.precision:.2f}[/], "
                          f"recall [bold]{report.recall:.2f}[/] ({report.true_positives} of {report.expected} "
                          f"violations found, {report.false_positives} false alarms)")
            documents = _demo_documents(store, result.sweep_id)
        finally:
            store.close()
        _print_next_steps()
        _print_documents(documents)
        if keep_serving:
            err.print(f"demo site still at {server.url} — Ctrl-C to stop")
            server.serve_until_interrupted()


def _demo_documents(store, sweep_id: str) -> dict[str, str]:
    """The sweep's WACZ, and the WACZ and extraction record (DOCX, PDF) of its most serious lead."""
    import getpass

    from leads.leads import build_leads
    from leads.records.archive import lead_wacz, write_extraction_record
    from netsword.config import current
    from pipelines.evidence import validate_wacz, write_wacz

    cfg = current()
    out_dir = data_home() / "demo-documents"
    docs: dict[str, str] = {}
    try:
        wacz = write_wacz(cfg.evidence_dir, [sweep_id], out_dir / f"{sweep_id}.wacz", title=f"netsword {sweep_id}")
        valid = "valid" if validate_wacz(wacz.path)[0] else "INVALID"
        docs["sweep WACZ"] = f"{wacz.path}   ({wacz.pages} pages; {valid})"
        leads = [x for x in build_leads(store, {"sweep_id": sweep_id})
                 if any(f["subject_kind"] == "listing" for f in x.findings)]
        if leads:
            lead = leads[0]
            folder = out_dir / lead.lead_id.replace(":", "-")
            files = write_extraction_record(store, cfg.evidence_dir, [lead], folder, operator=getpass.getuser(),
                                            exit_ip=cfg.exit_ip)
            docs["lead"] = f"{lead.lead_id} {lead.shop_name} ({lead.main_category})"
            docs["extraction record"] = str(files.pdf or files.pdf_problem)
            docs["  (DOCX)"] = str(files.docx)
            lw = lead_wacz(store, cfg.evidence_dir, [lead], folder / "lead.wacz")
            docs["lead WACZ"] = f"{lw.path}   ({lw.pages} pages)"
    except Exception as exc:  # the sweep stands; say what could not be made
        docs["problem"] = f"{type(exc).__name__}: {exc}"
    return docs


def _print_documents(docs: dict[str, str]) -> None:
    if not docs:
        return
    console.print("[bold]Evidence documents[/] (WACZ: open in https://replayweb.page or `wacz validate -f`; "
                  "提取笔录 / extraction record: PDF and DOCX)")
    for label, value in docs.items():
        console.print(f"  {label + ':':<19}{escape(value)}", highlight=False, soft_wrap=True)


def _print_summary(store, result, seconds: float) -> None:
    counts = store.counts(sweep_id=result.sweep_id)
    table = Table(title=f"sweep {result.sweep_id}", show_header=False)
    summary = result.summary()
    table.add_row("pages fetched", str(summary["pages"]))
    table.add_row("  of them in the browser", str(summary["browser"]))
    table.add_row("  ok after a retry", str(summary["retried"]))
    table.add_row("pages failed", str(summary["failed"]))
    table.add_row("listings", str(counts["listings"]))
    table.add_row("shops", str(counts["shops"]))
    table.add_row("findings", str(counts["findings"]))
    table.add_row("seconds", f"{seconds:.1f}")
    console.print(table)
    by_cat = Table(title="findings per category (统计表类别)")
    by_cat.add_column("类别")
    by_cat.add_column("findings", justify="right")
    for category, n in sorted(counts["by_category"].items(), key=lambda kv: -kv[1]):
        by_cat.add_row(category, str(n))
    console.print(by_cat)


def _print_next_steps() -> None:
    home = data_home()
    console.print(f"""
[bold]Where to look[/]
  store (SQLite):   {home / 'netsword.db'}
  page snapshots:   {Path(default_evidence_dir()) / 'html'}   (sha256-named, gzip)
  screenshots:      {Path(default_evidence_dir()) / 'screenshots'}   (browser pages, flagged listings)
  WARC, manifests:  {Path(default_evidence_dir()) / 'warc'}, {Path(default_evidence_dir()) / 'manifests'}
[bold]Next, inside the venv[/] (source .venv/bin/activate):
  netsword search 高仿                       flagged listings mentioning 高仿
  netsword search --category 虚假违法互联网广告  by statistics-form category
  netsword export --format xlsx -o leads.xlsx  findings for enforcement, Chinese columns
  netsword rules explain "国家级 全网最佳 高 仿耐克"   what fires on a text, and why
  netsword evidence verify SWEEP_ID           re-hash a sweep's evidence""")


# --- crawl -----------------------------------------------------------------------------
def _with_profile_terms(site: str, terms: tuple[str, ...]) -> tuple[str, ...]:
    """``terms`` and the profile's own ``search.terms`` (each once)."""
    from crawler.profiles import find_profile
    from netsword.yamlsource import SourceError

    try:
        search = find_profile(site).search
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    if search is None or not search.terms:
        raise click.ClickException(f"站点 {site!r} 的配置没有 search.terms（--profile-terms 要用它）；"
                                   "在配置的 search: 下写 terms: [高仿, 原单]，或用 --search 指定关键词")
    return tuple(dict.fromkeys([*terms, *search.terms]))


@click.command()
@click.option("--site", required=True, help="site profile name (crawler/sites/NAME.yml)")
@click.option("--base-url", default=None, help="override the profile's base_url")
@click.option("--sweep-id", default=None, help="sweep id (default: SITE-<UTC time>)")
@click.option("--resume", is_flag=True, help="continue the site's last unfinished sweep (after a crash or kill)")
@click.option("--search", "terms", multiple=True, help="sweep only the search results for this term (repeatable)")
@click.option("--profile-terms", is_flag=True, help="sweep the search results for the profile's own search.terms")
@click.option("--full", is_flag=True, help="parse every page, also those unchanged since the last sweep")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="a Scrapy / netsword setting, as `scrapy crawl -s` (repeatable)")
@click.option("--distributed", is_flag=True,
              help="seed the sweep in Redis for `netsword worker` processes instead of crawling here")
@click.option("--redis", "redis", default=None, metavar="URL",
              help="with --distributed: the Redis server (default $NETSWORD_REDIS_URL, redis://127.0.0.1:6379/0)")
def crawl(site: str, base_url: str | None, sweep_id: str | None, resume: bool, terms: tuple[str, ...],
          full: bool, overrides: tuple[str, ...], distributed: bool = False, redis: str | None = None,
          profile_terms: bool = False) -> None:
    """Sweep one site through the whole pipeline into the store."""
    from crawler.runner import SweepError
    from netsword.yamlsource import SourceError

    terms = tuple(t.strip() for term in terms for t in term.split(",") if t.strip())  # --search 高仿,原单
    if profile_terms:
        terms = _with_profile_terms(site, terms)

    if resume and sweep_id:
        raise click.UsageError("--sweep-id cannot be used with --resume (the sweep keeps its id)")
    extra = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"-s wants NAME=VALUE, got {item!r}")
        extra[name.strip()] = value
    if distributed:
        from crawler.distributed.commands import seed

        if resume or full:
            raise click.UsageError("--resume/--full do not apply to --distributed (netsword runs resume SWEEP)")
        seed(site, base_url=base_url, sweep_id=sweep_id, search=list(terms) or None, redis=redis, extra=extra)
        return
    from crawler.sitelock import lock_path, site_lock

    with site_lock(data_home(), site) as locked:
        if not locked:
            raise click.ClickException(
                f"another sweep of site {site!r} is running (it holds {lock_path(data_home(), site)}); "
                "wait for it to finish, or stop it first (netsword crawl --resume continues a stopped sweep)")
        try:
            result = run_sweep(site, base_url=base_url, sweep_id=sweep_id, quiet=True, resume=resume,
                               search=list(terms) or None, full=full, extra_settings=extra)
        except (SweepError, SourceError) as exc:
            raise click.ClickException(str(exc)) from exc
    s = result.summary()
    get = result.stats.get
    cut = cutoff_counts(result.stats)
    cutoff = (f"; cut off {cut['depth'] + cut['pages']} links (too deep {cut['depth']}, over the page budget "
              f"{cut['pages']})" if cut["depth"] or cut["pages"] else "")
    unparseable = f", unparseable {get('netsword/pages/unparseable', 0)}" if get("netsword/pages/unparseable") else ""
    # the same counts as the progress line (crawler.progress): each listing, shop and finding once
    listings, shops, findings = (get(f"netsword/sweep/{k}", 0) for k in ("listings", "shops", "findings"))
    console.print(f"sweep {result.sweep_id}: {s['pages']} pages — ok {s['ok']} (after a retry {s['retried']}, "
                  f"unchanged {s['unchanged']}, in the browser {s['browser']}), failed {s['failed']}{unparseable}, "
                  f"skipped {s['skipped']}{cutoff}; {listings} listings, {shops} shops, {findings} findings")
    if get("netsword/wall"):  # a login / verification wall: the site is paused (crawler.walls)
        from crawler.walls import wall_summary

        err.print(wall_summary(site, result.stats), highlight=False, soft_wrap=True)
        raise SystemExit(4)  # the site is blocked: log in again (or pass the verification), then --resume
    if not result.stored:  # the store was unreachable: the sweep is kept, unfinished, for --resume
        err.print(_not_stored(site, result), highlight=False, soft_wrap=True)
        raise SystemExit(3)  # cli.EXIT_STORE: the store could not be reached
    stored = _sweep_counts(result.sweep_id)
    more = [f"{stored.get(k, 0)} {k}" for k, n in (("listings", listings), ("shops", shops), ("findings", findings))
            if stored.get(k, 0) > n]
    if more:
        console.print(f"  the whole sweep in the store (earlier runs, unchanged pages included): {', '.join(more)}")
    if not result.finished:
        err.print(f"sweep stopped early ({result.stats.get('finish_reason')}): netsword crawl --site {site} --resume")
        raise SystemExit(1)
    report = result.fill_report
    if s["failed"] and not (s["ok"] or s["unchanged"]) and not get("netsword/pages/wait_for_timeouts"):
        first = get("netsword/pages/first_failed", "")
        raise click.ClickException(
            f"site {site!r} is down: all {s['failed']} pages failed, none fetched (first: {first}); check that "
            f"{base_url or 'the profile base_url'} is up and reachable from here, then sweep again")
    if report is not None and report.broken:
        from crawler.fillrate import EXIT_BROKEN

        _print_broken(report, get("netsword/fill_alert", ""))
        raise SystemExit(EXIT_BROKEN)


def _print_broken(report, alert: str) -> None:
    """What broke in the profile (crawler.fillrate): the problems, the fill rate table, what to do."""
    err.print(f"[bold red]站点配置失效 / profile broken[/]: 站点 {escape(report.site)} 扫描 {escape(report.sweep_id)}",
              highlight=False, soft_wrap=True)
    for problem in report.all_problems():
        err.print(f"  ✗ {escape(problem)}", highlight=False, soft_wrap=True)
    err.print("必填字段填充率 / fill rate of required fields:", highlight=False)
    for line in report.table_lines():
        err.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    if alert:
        err.print(f"告警 / alert: {escape(alert)}", highlight=False, soft_wrap=True)
    err.print(f"检查 / check: netsword profile check {report.site} URL；修好后 / then: netsword profile test "
              f"{report.site}", highlight=False, soft_wrap=True)


def _not_stored(site: str, result) -> str:
    """One line: what of the sweep is not in the store yet, and what to do."""
    parts = []
    if result.waiting:
        parts.append(f"{result.waiting} writes wait in {result.spool} (the store was unreachable)")
    if result.history_pending:
        parts.append(f"{result.history_pending} listings wait to be matched again with their price history")
    early = "" if result.finished else f" and stopped early ({result.stats.get('finish_reason')})"
    return (f"sweep {result.sweep_id} is not complete{early}: {'; '.join(parts)}. When the store is back: "
            f"netsword index replay, then netsword crawl --site {site} --resume")


def _sweep_counts(sweep_id: str) -> dict:
    """Subjects and findings seen in the sweep (unchanged pages included), from the store ({} if unreadable)."""
    from pipelines.store import StoreUnavailable, open_store

    store = open_store(default_store_url())
    try:
        return store.counts(sweep_id=sweep_id)
    except StoreUnavailable:
        return {}
    finally:
        store.close()


# --- recheck ---------------------------------------------------------------------------
@click.command()
@click.option("--site", default=None, help="only this site's listings (default: every site, one after the other)")
@click.option("--lead", "lead_ids", multiple=True, help="only these leads (SITE:SHOP, repeatable; any status)")
@click.option("--base-url", default=None, help="override the profile's base_url")
def recheck(site: str | None, lead_ids: tuple[str, ...], base_url: str | None) -> None:
    """复查 / fetch the listings of confirmed and referred leads again: still online, changed or removed.

    Fresh evidence (a sweep of its own, sealed), the outcome on each lead, and removals counted on the
    statistics form (督促网络交易平台删除违法商品信息)."""
    import subprocess
    import sys

    from crawler.recheck import run_recheck
    from crawler.sitelock import site_lock
    from leads.recheck import OUTCOMES, targets
    from pipelines.store import open_store

    store = open_store(default_store_url())
    try:
        found = targets(store, site=site, lead_ids=lead_ids or None)
    finally:
        store.close()
    if not found:
        console.print("没有需要复查的商品（已确认、已移送线索的商品）/ nothing to re-check (no listings of confirmed "
                      "or referred leads)")
        return
    sites = sorted({t.site for t in found})
    if len(sites) > 1:  # one crawl per process (Twisted's reactor): each site in a child
        failed = 0
        for one in sites:
            cmd = [sys.executable, "-m", "cli", "recheck", "--site", one, *[a for x in lead_ids for a in ("--lead", x)]]
            failed += subprocess.run(cmd, check=False, cwd=str(Path(__file__).resolve().parents[1])).returncode != 0
        if failed:
            raise SystemExit(1)
        return
    with site_lock(data_home(), sites[0]) as locked:
        if not locked:
            raise click.ClickException(f"another sweep of site {sites[0]!r} is running; re-check when it is done")
        run = run_recheck(sites[0], found, base_url=base_url)
    table = Table(title=f"复查 / re-check {run.sweep_id}")
    for col in ("线索", "商品", "结果", "HTTP"):
        table.add_column(col)
    for t, r in run.results:
        table.add_row(escape(t.lead_id), escape(t.url), OUTCOMES.get(r.outcome, r.outcome), str(r.http_status or "—"))
    console.print(table)
    counts = ", ".join(f"{OUTCOMES.get(k, k)} {n}" for k, n in sorted(run.counts().items()))
    console.print(f"{len(run.results)} listings: {counts}; evidence {escape(run.evidence)} (sealed), sweep "
                  f"{escape(run.sweep_id)}", highlight=False, soft_wrap=True)
    if not run.finished:
        raise SystemExit(1)


# --- profile ---------------------------------------------------------------------------
@click.group()
def profile() -> None:
    """Site profiles (crawler/sites/*.yml): check them against real pages."""


@profile.command("check")
@click.argument("site")
@click.argument("url")
def profile_check(site: str, url: str) -> None:
    """Fetch URL with SITE's profile and show what each selector extracts (nothing is stored)."""
    from rich.markup import escape

    from crawler.profile_check import check_page
    from netsword.yamlsource import SourceError

    try:
        result = check_page(site, url)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    if not result.ok:
        err.print(f"[red]{escape(url)}[/]: {escape(result.error)}")
        raise SystemExit(1)
    console.print(f"{escape(result.final_url)} — page type [bold]{escape(result.page_type)}[/] "
                  f"(item: {result.item}, {result.render}), HTTP {result.status}", highlight=False)
    table = Table(show_lines=True)
    for col in ("字段 field", "选择器 selector", "匹配 matches", "值 value"):
        table.add_column(col, overflow="fold")
    for r in result.fields:
        value = r.value if len(r.value) <= 160 else r.value[:160] + "…"
        style = "red" if not r.value else ""
        table.add_row(r.name, escape(r.selector), str(r.matches), escape(value) or "(empty)", style=style)
    for name, value in result.generic.items():
        table.add_row(name, "(generic: JSON-LD / microdata / meta)", "", escape(value[:160]))
    for r in result.links:
        table.add_row(r.name, escape(r.selector), str(r.matches), escape(r.value) or "(no links)",
                      style="red" if not r.matches else "")
    console.print(table)
    empty = [r.name for r in result.fields if not r.value]
    if empty:
        err.print(f"空字段 / empty fields: {', '.join(empty)}")
    _print_check_more(result)


def _print_check_more(result) -> None:
    """What `profile check` adds to the selectors: page type, ids, subject, required fields, findings (Chinese)."""
    say = lambda text: console.print(text, highlight=False, soft_wrap=True)  # noqa: E731
    kind = result.item if result.item != "none" else "不生成商品或店铺"
    say(f"[bold]页面类型[/]: {escape(result.page_type)}（{kind}）")
    if result.item != "none":
        if not result.ids:
            say("[bold red]不会保存为商品[/]：没有标题（标题选择器没有取到值）/ not stored as a listing: no title")
        for name, (value, source) in result.ids.items():
            label = {"listing_id": "商品 id", "shop_id": "店铺 id"}.get(name, name)
            say(f"[bold]{label}[/] ({name}): {escape(value) or '（空）'} — {escape(source)}")
    if result.subject:
        say(f"[bold]所属主体[/] (belongs_to): {escape(result.subject)}")
    if result.required:
        parts = [f"{escape(req)} {'✓' if ok else '[red]✗ 空[/]'}" for req, ok in result.required]
        say(f"[bold]必填字段[/] (required): {'，'.join(parts)}")
    if result.findings_error:
        say(f"[red]规则包无法运行[/]: {escape(result.findings_error)}")
    elif result.item != "none":
        if not result.findings:
            say("[bold]会产生的问题线索[/]: 无 / no findings")
        else:
            table = Table(title="会产生的问题线索 / findings this page would raise", show_lines=True)
            for col in ("规则", "标题", "类别", "法律依据", "字段", "片段"):
                table.add_column(col, overflow="fold")
            for f in result.findings:
                table.add_row(escape(f.rule_id), escape(f.title), escape(f.category), escape(f.basis),
                              escape(f.field), escape(f.snippet[:160]))
            console.print(table)


@profile.command("test")
@click.argument("site")
def profile_test(site: str) -> None:
    """用样本页面测试站点配置 / run SITE's profile against its saved pages (crawler/sites/SITE.fixtures/), offline.

    Exit 1 when a page does not give what its fixture expects (page type, ids, non-empty fields, values,
    findings, links, wait_for selectors)."""
    from crawler.profile_test import run_fixtures

    report = run_fixtures(site)
    if report.problem:
        err.print(f"[red]✗[/] {escape(report.problem)}", highlight=False, soft_wrap=True)
        raise SystemExit(1)
    for page in report.pages:
        if page.ok:
            console.print(f"[green]✓[/] {escape(page.file)}（{escape(page.page_type)}）{page.checks} 项通过 / "
                          "checks ok", highlight=False, soft_wrap=True)
            continue
        console.print(f"[red]✗[/] {escape(page.file)}（{escape(page.page_type or '?')}，{escape(page.where)}）"
                      f"{escape(page.url)}", highlight=False, soft_wrap=True)
        for problem in page.problems:
            console.print(f"    - {escape(problem)}", highlight=False, soft_wrap=True)
    total = len(report.pages)
    if report.ok:
        console.print(f"站点 {escape(site)}：{total} 个样本页面全部通过 / all {total} fixture pages pass "
                      f"({escape(report.folder)})", highlight=False, soft_wrap=True)
        return
    err.print(f"[red]站点配置测试未通过 / profile test failed[/]：站点 {escape(site)} {report.failed}/{total} "
              f"个样本页面不符合预期 / fixture pages broke ({escape(report.folder)})", highlight=False, soft_wrap=True)
    raise SystemExit(1)


@profile.command("fixture")
@click.argument("site")
@click.argument("url")
@click.option("--name", default=None, help="file name of the saved page (default: page type and id)")
def profile_fixture(site: str, url: str, name: str | None) -> None:
    """保存样本页面 / fetch URL with SITE's profile and save it as a fixture for `profile test`, with what it
    gives now (page type, ids, non-empty fields, title, findings, links) as the expectations."""
    from crawler.profile_check import check_page
    from crawler.profile_test import fixtures_dir, save_fixture

    result = check_page(site, url)
    if not result.ok:
        err.print(f"[red]{escape(url)}[/]: {escape(result.error)}", highlight=False, soft_wrap=True)
        raise SystemExit(1)
    path = save_fixture(site, url, result, name=name)
    console.print(f"已保存 / saved {escape(str(path))}（{escape(result.page_type)}）；预期写在 / expectations in "
                  f"{escape(str(fixtures_dir(site) / 'fixtures.yml'))}", highlight=False, soft_wrap=True)


# --- evidence --------------------------------------------------------------------------
@click.group()
def evidence() -> None:
    """Evidence kept by sweeps: HTML snapshots, screenshots, WARC files, manifests, seals."""


def _check_line(check: Check) -> None:
    style = {"ok": "green", "fail": "red", "warn": "yellow"}[check.status]
    console.print(f"[{style}]{check.mark}[/] {escape(check.text())}", highlight=False, soft_wrap=True)


@evidence.command("verify")
@click.argument("sweep_or_bundle")
@click.option("--evidence-dir", default=None, help="evidence root (default: $EVIDENCE_DIR or $NETSWORD_HOME/evidence)")
@click.option("--public-key", default=None, type=click.Path(exists=True, dir_okay=False),
              help="the signing unit's public key (PEM); default: this unit's own (netsword keys show)")
@click.option("--tsa-certs", default=None, type=click.Path(exists=True, dir_okay=False),
              help="the TSA's certificate chain (PEM); default: tsa_certs, else (bundles) the bundle's own")
def evidence_verify(sweep_or_bundle: str, evidence_dir: str | None, public_key: str | None,
                    tsa_certs: str | None) -> None:
    """核验证据 / check a sweep's evidence (or an evidence bundle .zip): files, hash chain, signature, timestamp.

    Says what holds and what fails, in Chinese and English; exit 1 when anything fails.
    """
    from pipelines.evidence import TrustError, load_trust

    try:
        trust = load_trust(public_key, tsa_certs)
    except TrustError as exc:
        raise click.ClickException(str(exc)) from exc
    if sweep_or_bundle.lower().endswith(".zip"):
        _verify_bundle(sweep_or_bundle, trust)
        return
    from pipelines.evidence import verify_sweep

    root = evidence_dir or default_evidence_dir()
    report = verify_sweep(root, sweep_or_bundle, trust)
    console.print(f"扫描 / sweep {escape(report.sweep_id)} ({escape(str(root))})", highlight=False, soft_wrap=True)
    for line in report.missing:
        console.print(f"[red]✗ 缺失 / MISSING[/] {escape(line)}", highlight=False, soft_wrap=True)
    for line in report.changed:
        console.print(f"[red]✗ 已改动 / CHANGED[/] {escape(line)}", highlight=False, soft_wrap=True)
    for check in report.checks:
        _check_line(check)
    for line in report.notes:
        err.print(f"note: {escape(line)}", highlight=False, soft_wrap=True)
    failed = sum(c.failed for c in report.checks)
    verdict = "ok / 通过" if report.ok else f"NOT ok / 未通过: {failed} failed"
    console.print(f"sweep {escape(report.sweep_id)}: {report.manifest_lines} manifest lines, {report.files_checked} "
                  f"files checked — {verdict}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise SystemExit(1)


def _verify_bundle(path: str, trust: Trust) -> None:
    try:
        from leads.bundle import verify_bundle
    except ImportError as exc:
        raise click.ClickException("bundle verification needs leads.bundle (not installed here)") from exc
    check = verify_bundle(path, trust)
    console.print(f"证据包 / bundle {escape(path)}", highlight=False, soft_wrap=True)
    for item in check.checks:
        _check_line(item)
    failed = len(check.problems)
    verdict = "ok / 通过" if check.ok else f"NOT ok / 未通过: {failed} failed"
    console.print(f"bundle {escape(path)}: {check.files_checked} files checked — {verdict}", highlight=False,
                  soft_wrap=True)
    if not check.ok:
        raise SystemExit(1)


@evidence.command("stamp")
@click.argument("sweep")
@click.option("--evidence-dir", default=None, help="evidence root (default: $EVIDENCE_DIR or $NETSWORD_HOME/evidence)")
@click.option("--tsa-url", default=None, help="time-stamping authority (default: tsa_url, $NETSWORD_TSA_URL)")
def evidence_stamp(sweep: str, evidence_dir: str | None, tsa_url: str | None) -> None:
    """补盖可信时间戳 / fetch the timestamp token a sealed sweep lacks (its TSA was down), and sign again."""
    from netsword.config import current
    from pipelines.evidence import Sealer, SealError, TimestampError, manifest_path, stamp_later

    cfg = current(tsa_url=tsa_url)
    path = manifest_path(evidence_dir or default_evidence_dir(), sweep)
    if not path.is_file():
        raise click.ClickException(f"没有扫描 {sweep} 的清单 / no manifest for sweep {sweep!r} at {path}")
    try:
        record = stamp_later(path, Sealer.from_config(cfg))
    except (SealError, TimestampError) as exc:
        raise click.ClickException(str(exc)) from exc
    stamp = record["timestamp"]
    console.print(f"扫描 / sweep {escape(sweep)}: 时间戳令牌 / timestamp token {escape(stamp['file'])} — "
                  f"{escape(stamp['time_beijing'])} 北京时间 / Beijing time, TSA {escape(stamp['tsa_url'])}",
                  highlight=False, soft_wrap=True)
