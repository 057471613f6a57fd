"""`netsword rules ...` (lint, test, explain) and `netsword rescan`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)

RULES_DIR_OPTION = click.option("--rules-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                                help="rule packs folder (default: $NETSWORD_RULES_DIR or rules/)")


def _load(rules_dir: Path | None, **kw: Any) -> Any:
    """The compiled rules, or a readable error (file:line, hint) and exit code 2."""
    from pipelines.match.engine import RuleError, RuleSet

    try:
        return RuleSet.load(rules_dir, **kw)
    except RuleError as e:
        err.print(f"[red]rule packs do not load / 规则包加载失败[/]\n{escape(str(e))}\n"
                  "run `netsword rules lint` for every problem / 运行 netsword rules lint 查看全部问题",
                  soft_wrap=True)  # file:line:col stays on one line, whatever the terminal width
        sys.exit(2)


# --- rules -----------------------------------------------------------------------------
@click.group()
def rules() -> None:
    """Rule packs: lint them, test their examples, explain what fires on a text."""


@rules.command("lint")
@click.argument("rules_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--rules-dir", "rules_dir_option", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="rule packs folder, as for `rules test` (default: $NETSWORD_RULES_DIR or rules/)")
@click.option("--min-severity", type=click.Choice(["error", "high", "medium", "low"]), default="low",
              help="hide issues below this severity")
@click.option("--strict", is_flag=True, help="also fail on medium issues")
@click.option("--json", "as_json", is_flag=True, help="issues as JSON")
def rules_lint(rules_dir: Path | None, rules_dir_option: Path | None, min_severity: str, strict: bool,
               as_json: bool) -> None:
    """Check the rule packs: schema errors (file:line + fix hint), duplicate ids, unknown keys,
    terms that can never match, regexes that cannot match, too few examples ...

    Exit code 1 when there is an error or a high issue (with --strict: also medium).
    """
    from pipelines.match.lint import LINT_SEVERITIES, lint_rules

    if rules_dir and rules_dir_option and rules_dir != rules_dir_option:
        raise click.UsageError("give the rules folder once: as an argument or with --rules-dir")
    issues = lint_rules(rules_dir or rules_dir_option)
    rank = {s: i for i, s in enumerate(LINT_SEVERITIES)}
    shown = [i for i in issues if rank[i.severity] <= rank[min_severity]]
    failing = {"error", "high", "medium"} if strict else {"error", "high"}
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in shown], ensure_ascii=False, indent=2))
    else:
        colour = {"error": "red", "high": "red", "medium": "yellow", "low": "cyan"}
        for i in shown:
            where = f"{i.location}: " if i.location else ""
            rule = escape(f"[{i.rule_id}] ") if i.rule_id else ""  # escaped whole: rich took [id] for markup
            hint = f"\n  提示/hint: {escape(i.hint)}" if i.hint else ""
            console.print(f"{escape(where)}[{colour[i.severity]}]{i.severity}[/] {i.code}: {rule}"
                          f"{escape(i.message)}{hint}", soft_wrap=True)
        counts = {s: sum(i.severity == s for i in issues) for s in LINT_SEVERITIES}
        click.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
    sys.exit(1 if any(i.severity in failing for i in issues) else 0)


@rules.command("test")
@click.argument("pack", required=False)
@RULES_DIR_OPTION
def rules_test(pack: str | None, rules_dir: Path | None) -> None:
    """Run every rule's own examples (tests: match / no_match), of one PACK or all."""
    ruleset = _load(rules_dir)
    if pack is not None and pack not in {p.name for p in ruleset.packs}:
        raise click.UsageError(f"no pack {pack!r}; packs: {', '.join(p.name for p in ruleset.packs)}")
    results = ruleset.run_examples(pack)
    failed = [r for r in results if not r.ok]
    for r in failed:
        expected = "match" if r.expected else "no match"
        err.print(f"[red]FAIL[/] {escape(r.rule_id)} ({escape(str(r.location))}): expected {expected} on "
                  f"{escape(repr(r.text))}; got {escape(str(r.detail))}", soft_wrap=True)
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


@rules.command("explain")
@click.argument("text", required=False)
@click.option("--kind", type=click.Choice(["listing", "shop"]), default="listing",
              help="subject kind of TEXT (JSON input may say it with a 'kind' key)")
@click.option("--json", "as_json", is_flag=True, help="findings as JSON (rule id, category, severity, field, "
                                                      "matched text, snippet ...)")
@click.option("--jsonl", "jsonl", type=click.File("r", encoding="utf-8"), default=None, metavar="FILE|-",
              help="batch: one item per line (JSON, fields as in crawler/items.py, or a record of "
                   "`netsword index copy` dumps); one JSON result per line on stdout")
@RULES_DIR_OPTION
def rules_explain(text: str | None, kind: str, as_json: bool, jsonl: Any, rules_dir: Path | None) -> None:
    """What fires on TEXT and why. TEXT '-' reads one listing or shop as JSON from stdin
    (fields as in crawler/items.py; a JSON list gives several). --jsonl explains many items, one per line."""
    from pipelines.normalize import normalize_text

    if jsonl is not None:
        if text is not None:
            raise click.UsageError("give TEXT or --jsonl, not both")
        n, failed = explain_lines(_load(rules_dir), jsonl, sys.stdout, kind)
        err.print(f"{n} items explained, {failed} lines not understood / {n} 条已解释，{failed} 行无法解析")
        sys.exit(1 if failed else 0)
    if text is None:
        raise click.UsageError("give TEXT (or '-' for JSON on stdin), or --jsonl FILE")
    ruleset = _load(rules_dir)
    if text == "-":
        try:
            data = json.load(sys.stdin)
        except json.JSONDecodeError as e:
            raise click.UsageError(f"stdin is not JSON / 标准输入不是 JSON: {e}") from e
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(d, dict) for d in items):
            raise click.UsageError("stdin must be a JSON object (or a list of them) with item fields")
        try:
            results = [(d, ruleset.explain_item(d, kind=kind)) for d in items]
        except ValueError as e:
            raise click.UsageError(str(e)) from e
    else:
        results = [(None, ruleset.explain(text, kind=kind))]
    if as_json:
        out = [f.to_dict() for _, fs in results for f in fs]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for data, findings in results:
        if data is None:
            console.print(f"normalised: {escape(normalize_text(text))}", soft_wrap=True)
        else:
            shown = {k: normalize_text(str(v)) for k, v in data.items() if isinstance(v, str) and v.strip()
                     and k not in ("kind", "url", "site", "sweep_id")}
            for k, v in shown.items():
                console.print(f"normalised {k}: {escape(v)}", soft_wrap=True)
        if not findings:
            console.print("no rule fires / 无规则命中")
        for f in findings:
            notes = f"\n   deobfuscated: {'; '.join(f.deobfuscated)}" if f.deobfuscated else ""
            matched = ", ".join(f.matched)
            console.print(f"[bold]{escape(f.rule_id)}[/] {escape(f.title)} · {f.category} · {f.severity}\n"
                          f"   basis: {escape(f.basis)}\n   field {f.field}: {escape(f.snippet)}\n"
                          f"   matched: {escape(matched)}{escape(notes)}", soft_wrap=True)


#: input lines `rules explain --jsonl` matches together (RuleSet.match_many); results are written in order
EXPLAIN_CHUNK = 512


def explain_lines(ruleset: Any, lines: Any, out: Any, kind: str = "listing") -> tuple[int, int]:
    """``rules explain --jsonl``: one JSON result per input line, in order; a line that is not an item
    gets ``{"line": n, "error": ...}`` and the batch goes on. Returns (items explained, lines refused).

    Lines are read and matched :data:`EXPLAIN_CHUNK` at a time with the engine's batched path."""
    from pipelines.match import explain_items, item_for_explain

    done = failed = 0
    chunk: list[tuple[int, dict[str, Any] | None, Any]] = []  # (line, data, item) or (line, None, error)

    def flush() -> None:
        nonlocal done, failed
        items = [item for _, data, item in chunk if data is not None]
        found = iter(explain_items(ruleset, items))
        for n, data, item in chunk:
            if data is None:
                failed += 1
                out.write(json.dumps({"line": n, "error": item}, ensure_ascii=False) + "\n")
                continue
            done += 1
            subject = data.get("listing_id") or data.get("shop_id") or ""
            site = data.get("site") or ""
            out.write(json.dumps({"line": n, "kind": data.get("kind") or kind,
                                  "subject_id": f"{site}:{subject}" if site and subject else subject,
                                  "findings": [f.to_dict() for f in next(found)]}, ensure_ascii=False) + "\n")
        chunk.clear()

    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            record = isinstance(data, dict) and data.get("type") in ("listing", "shop")
            if record and isinstance(data.get("item"), dict):
                data = {**data["item"], "kind": data["type"]}  # a record of a store dump
            if not isinstance(data, dict):
                raise ValueError("a line must be a JSON object with item fields")
            chunk.append((n, data, item_for_explain(data, kind)))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            chunk.append((n, None, str(exc)))
        if len(chunk) >= EXPLAIN_CHUNK:
            flush()
    flush()
    return done, failed


# --- rescan ----------------------------------------------------------------------------
@click.command()
@click.option("--store", "store_url", default=None, help="store URL (default: $NETSWORD_STORE or the config file)")
@click.option("--site", default=None, help="only this site")
@click.option("--kind", type=click.Choice(["listing", "shop"]), default=None, help="only listings or only shops")
@click.option("--rule", "rule_ids", multiple=True, help="only this rule (repeatable); resolves only its findings")
@click.option("--pack", "packs", multiple=True, help="only the rules of this pack (repeatable)")
@click.option("--include-test", is_flag=True, help="also run status: test rules")
@click.option("--dry-run", is_flag=True, help="count what would change, write nothing")
@click.option("--json", "as_json", is_flag=True, help="the report as JSON")
@RULES_DIR_OPTION
def rescan(store_url: str | None, site: str | None, kind: str | None, rule_ids: tuple[str, ...],
           packs: tuple[str, ...], include_test: bool, dry_run: bool, as_json: bool, rules_dir: Path | None) -> None:
    """Apply the current rules to stored listings and shops without crawling.

    Findings the rules no longer produce are marked resolved (never deleted); new rules'
    findings are added.
    """
    from netsword.config import store_url as configured_store_url
    from pipelines.match.rescan import KINDS
    from pipelines.match.rescan import rescan as run
    from pipelines.store import open_store

    ruleset = _load(rules_dir, include_test=include_test)
    store = open_store(store_url or configured_store_url())
    try:
        report = run(store, ruleset, kinds=(kind,) if kind else KINDS, site=site, rule_ids=rule_ids, packs=packs,
                     dry_run=dry_run)
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    what = "would change / 预计" if dry_run else "done / 完成"
    click.echo(f"rescan {what}: {report.subjects['listing']} listings, {report.subjects['shop']} shops; "
               f"{report.produced} findings produced, {report.new} new, {report.resolved} resolved")
    for title, counter in (("new / 新增", report.new_by_category), ("resolved / 已解决", report.resolved_by_category)):
        for cat, n in sorted(counter.items(), key=lambda kv: -kv[1]):
            click.echo(f"  {title}  {cat}: {n}")
