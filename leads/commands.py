"""`netsword search` and `netsword export`: what analysts do with findings."""

from __future__ import annotations

import json

import click
from rich.console import Console

from crawler.runner import default_store_url

console = Console()
err = Console(stderr=True)



# --- search / export -------------------------------------------------------------------
@click.command()
@click.argument("query", required=False, default="")
@click.option("--category", default=None, help="statistics-form category, e.g. 虚假违法互联网广告")
@click.option("--severity", default=None, type=click.Choice(["low", "medium", "high", "critical"]))
@click.option("--site", default=None)
@click.option("--all", "include_clean", is_flag=True, help="include listings without findings")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print hits as JSON")
def search(query: str, category: str | None, severity: str | None, site: str | None,
           include_clean: bool, limit: int, as_json: bool) -> None:
    """Search flagged listings and shops (Chinese full text + filters)."""
    from leads.search import format_table
    from leads.search import search as run_search
    from pipelines.store import open_store

    store = open_store(default_store_url())
    try:
        result = run_search(store, query, category=category, severity=severity, site=site,
                            flagged_only=not include_clean, limit=limit)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_table(result))


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="xlsx", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--category", default=None)
@click.option("--severity", default=None)
@click.option("--site", default=None)
def export(fmt: str, output: str, category: str | None, severity: str | None, site: str | None) -> None:
    """Export findings for enforcement teams (CSV / XLSX / JSON, Chinese columns)."""
    from leads.export import export as run_export
    from pipelines.store import open_store

    filters = {k: v for k, v in {"category": category, "severity": severity, "site": site}.items() if v}
    store = open_store(default_store_url())
    try:
        n = run_export(store, output, fmt, filters)
    finally:
        store.close()
    console.print(f"{n} findings written to {output}")


