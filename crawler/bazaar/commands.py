"""`netsword bazaar` (serve the 仿真集市 marketplace) and `netsword demo --site bazaar` (serve it, log in, sweep it,
score the sweep against its ground truth)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from crawler.bazaar.server import DEFAULT_USERS, BazaarServer

console = Console()
err = Console(stderr=True)
ROOT = Path(__file__).resolve().parents[2]


@click.command()
@click.option("--port", type=int, default=0, show_default=True, help="port on 127.0.0.1 (0: a free port)")
@click.option("--session-max-requests", type=int, default=None, help="a session expires after N requests")
@click.option("--session-ttl", type=float, default=None, help="a session expires after S seconds")
@click.option("--rate-limit", type=int, default=None, help="429 + Retry-After past N requests per --rate-window")
@click.option("--rate-window", type=float, default=1.0, show_default=True, help="seconds")
@click.option("--retry-after", type=int, default=1, show_default=True, help="the Retry-After of a 429, in seconds")
@click.option("--wall-after", type=int, default=None, help="the verification wall after N requests")
@click.option("--no-login", is_flag=True, help="serve every page without a login")
def bazaar(port: int, no_login: bool, **knobs: Any) -> None:
    """Serve the 仿真集市 marketplace (login, JSON API, walls) on 127.0.0.1 until Ctrl-C."""
    server = BazaarServer(port=port, login_required=not no_login, **knobs).start()
    user, password = next(iter(DEFAULT_USERS.items()))
    click.echo(f"仿真集市 serving at {server.url}  (账号 / login: {user} / {password}; admin token: "
               f"{server.admin_token})")
    click.echo(f"  netsword login bazaar --base-url {server.url}\n"
               f"  netsword crawl --site bazaar --base-url {server.url}")
    server.serve_until_interrupted()


def profile_problem() -> str | None:
    """Why crawler/sites/bazaar.yml cannot be used by this netsword, or None."""
    from crawler.profiles import find_profile
    from netsword.yamlsource import SourceError

    try:
        find_profile("bazaar")
    except SourceError as exc:
        return str(exc)
    return None


def run_demo(keep_serving: bool) -> None:
    """Serve the bazaar, `netsword login bazaar` with its demo account, sweep it, print the score."""
    from crawler.bazaar.evaluate import evaluate
    from crawler.commands import _print_summary
    from crawler.runner import run_sweep
    from netsword.config import data_home
    from netsword.config import store_url as default_store_url
    from pipelines.store import open_store

    why = profile_problem()
    if why:
        raise click.ClickException(f"仿真集市的站点配置无法加载 / the bazaar's profile does not load: {why}")
    store_url = default_store_url()
    err.print(f"[bold]netsword demo --site bazaar[/]: data in {data_home()}")
    with BazaarServer() as server:
        user, password = next(iter(DEFAULT_USERS.items()))
        err.print(f"仿真集市 serving at {server.url}; logging in as {user} (netsword login bazaar) ...")
        env = {**os.environ, "NETSWORD_LOGIN_BAZAAR_USER": user, "NETSWORD_LOGIN_BAZAAR_PASSWORD": password}
        login = subprocess.run([sys.executable, "-m", "cli", "login", "bazaar", "--base-url", server.url], cwd=ROOT,
                               env=env, input="", capture_output=True, text=True, timeout=300)
        if login.returncode != 0:
            raise click.ClickException(f"登录仿真集市失败 / the login failed: {login.stderr.strip()[-800:]}")
        err.print("logged in; sweeping (listing pages in headless Chromium, the item API, qualification pages) ...")
        t0 = time.monotonic()
        result = run_sweep("bazaar", base_url=server.url, store_url=store_url, quiet=True)
        seconds = time.monotonic() - t0
        store = open_store(store_url)
        try:
            _print_summary(store, result, seconds)
            report = evaluate(store, sweep_id=result.sweep_id)
        finally:
            store.close()
        console.print(f"Against the bazaar's ground truth: precision [bold]{report.precision:.2f}[/], recall "
                      f"[bold]{report.recall:.2f}[/] ({report.true_positives} of {report.expected} violations found, "
                      f"{report.false_positives} false alarms)")
        if keep_serving:
            err.print(f"仿真集市 still at {server.url} — Ctrl-C to stop")
            server.serve_until_interrupted()
