"""`netsword rules ...`: test, explain (and lint) the rule packs."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)


# --- rules -----------------------------------------------------------------------------
@click.group()
def rules() -> None:
    """Rule packs: test their examples, explain what fires on a text."""


@rules.command("test")
@click.argument("pack", required=False)
def rules_test(pack: str | None) -> None:
    """Run every rule's own examples (tests: match / no_match)."""
    from pipelines.matcher import RuleSet

    results = RuleSet.load().run_examples(pack)
    failed = [r for r in results if not r.ok]
    for r in failed:
        expected = "match" if r.expected else "no match"
        err.print(f"[red]FAIL[/] {escape(r.rule_id)}: expected {expected} on {escape(repr(r.text))}; "
                  f"got {escape(str(r.detail))}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


@rules.command("explain")
@click.argument("text")
@click.option("--kind", type=click.Choice(["listing", "shop"]), default="listing")
@click.option("--json", "as_json", is_flag=True)
def rules_explain(text: str, kind: str, as_json: bool) -> None:
    """What fires on TEXT and why ('-' reads a listing/shop as JSON from stdin)."""
    from pipelines.matcher import RuleSet
    from pipelines.normalize import normalize_text

    ruleset = RuleSet.load()
    if text == "-":
        findings = ruleset.explain_item(json.load(sys.stdin), kind=kind)
        shown = ""
    else:
        findings = ruleset.explain(text, kind=kind)
        shown = normalize_text(text)
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2))
        return
    if shown:
        console.print(f"normalised: {escape(shown)}")
    if not findings:
        console.print("no rule fires")
    for f in findings:
        notes = f"  ({'; '.join(f.deobfuscated)})" if f.deobfuscated else ""
        console.print(f"[bold]{escape(f.rule_id)}[/] {escape(f.title)} · {f.category} · {f.severity} · "
                      f"{escape(f.basis)}\n   field {f.field}: {escape(f.snippet)}{escape(notes)}")


