"""`netsword demo` and `netsword crawl`: running sweeps."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from crawler.runner import data_home, default_evidence_dir, default_store_url, run_sweep

console = Console()
err = Console(stderr=True)



# --- demo ------------------------------------------------------------------------------
@click.command()
@click.option("--keep-serving", is_flag=True, help="keep the demo site up after the sweep (Ctrl-C to stop)")
def demo(keep_serving: bool) -> None:
    """Serve the bundled demo marketplace on 127.0.0.1, sweep it, and print a summary."""
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
        finally:
            store.close()
        _print_next_steps()
        if keep_serving:
            err.print(f"demo site still at {server.url} — Ctrl-C to stop")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass


def _print_summary(store, result, seconds: float) -> None:
    stats = result.stats
    counts = store.counts(sweep_id=result.sweep_id)
    table = Table(title=f"sweep {result.sweep_id}", show_header=False)
    table.add_row("pages fetched", str(stats.get("response_received_count", 0)))
    table.add_row("  of them in the browser", str(stats.get("playwright/response_count", 0)))
    table.add_row("pages failed", str(stats.get("netsword/pages_failed", 0)))
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
[bold]Next, inside the venv[/] (source .venv/bin/activate):
  netsword search 高仿                       flagged listings mentioning 高仿
  netsword search --category 虚假违法互联网广告  by statistics-form category
  netsword export --format xlsx -o leads.xlsx  findings for enforcement, Chinese columns
  netsword rules explain "国家级 全网最佳 高 仿耐克"   what fires on a text, and why""")


# --- crawl -----------------------------------------------------------------------------
@click.command()
@click.option("--site", required=True, help="site profile name (crawler/sites/NAME.yml)")
@click.option("--base-url", default=None, help="override the profile's base_url")
@click.option("--sweep-id", default=None, help="sweep id (default: SITE-<UTC time>)")
def crawl(site: str, base_url: str | None, sweep_id: str | None) -> None:
    """Sweep one site through the whole pipeline into the store."""
    result = run_sweep(site, base_url=base_url, sweep_id=sweep_id, quiet=True)
    stats = result.stats
    console.print(f"sweep {result.sweep_id}: {stats.get('response_received_count', 0)} pages, "
                  f"{stats.get('netsword/listings', 0)} listings, {stats.get('netsword/shops', 0)} shops, "
                  f"{stats.get('netsword/findings', 0)} findings, {stats.get('netsword/pages_failed', 0)} failed")


