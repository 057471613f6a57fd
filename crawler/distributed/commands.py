"""`netsword crawl --distributed` (seeding), `netsword worker`, `netsword runs` (live sweeps, control, log)."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err = Console(stderr=True)

_STATE_ZH = {"running": "运行中", "stopped": "已停止", "finished": "已完成", "failed": "失败"}


def _server(redis: str | None) -> Any:
    from crawler.distributed.connection import RedisUnavailable, connect

    try:
        return connect(redis)
    except RedisUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


def seed(site: str, *, base_url: str | None, sweep_id: str | None, search: list[str] | None, redis: str | None,
         extra: dict[str, str]) -> None:
    """Seed a distributed sweep: its record in Redis and in the store, its start requests in the queue."""
    from crawler.distributed.sweeps import StoreCannotTakeSweep, SweepExists, seed_recorded

    try:
        sweep_id, n = seed_recorded(lambda: _server(redis), site, base_url=base_url, sweep_id=sweep_id,
                                    search=search, extra=extra)
    except (SweepExists, StoreCannotTakeSweep) as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"sweep {escape(sweep_id)} seeded in Redis: {n} start requests. Workers take it: "
                  f"netsword worker  (netsword runs shows it)", highlight=False, soft_wrap=True)


@click.command()
@click.option("--redis", default=None, metavar="URL", help="Redis server (default $NETSWORD_REDIS_URL)")
@click.option("--id", "worker_id", default=None, help="worker name in heartbeats (default HOST-PID)")
@click.option("--sweep", default=None, help="work on this sweep only, and leave when it is done or stopped")
@click.option("--once", is_flag=True, help="leave when no sweep is running (default: wait for the next)")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="a Scrapy / netsword setting")
@click.option("-v", "--verbose", is_flag=True, help="log every page (default: warnings only)")
def worker(redis: str | None, worker_id: str | None, sweep: str | None, once: bool, overrides: tuple[str, ...],
           verbose: bool) -> None:
    """Take requests of distributed sweeps from Redis and crawl them into the store (any number of workers)."""
    from crawler.distributed.connection import RedisUnavailable
    from crawler.distributed.worker import run_worker

    extra = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"-s wants NAME=VALUE, got {item!r}")
        extra[name.strip()] = value
    try:
        n = run_worker(redis, worker_id=worker_id, once=once, sweep=sweep, extra_settings=extra, quiet=not verbose)
    except RedisUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    err.print(f"worker done: worked on {n} sweep(s)")


# --- runs ------------------------------------------------------------------------------
@click.group(invoke_without_command=True)
@click.option("--redis", default=None, metavar="URL", help="Redis server (default $NETSWORD_REDIS_URL)")
@click.pass_context
def runs(ctx: click.Context, redis: str | None) -> None:
    """分布式扫描 / distributed sweeps: live state, workers, queue, pages/s; stop, resume, log."""
    ctx.obj = {"redis": redis}
    if ctx.invoked_subcommand is None:
        ctx.invoke(runs_list)


def _age(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


@runs.command("list")
@click.option("--all", "show_all", is_flag=True, help="also finished and failed sweeps")
@click.pass_context
def runs_list(ctx: click.Context, show_all: bool = False) -> None:
    """Live sweeps: state, workers alive, queue depth, leases, pages/s, pages, errors."""
    from crawler.distributed.sweeps import STATES, list_sweeps

    server = _server((ctx.obj or {}).get("redis"))
    states = STATES if show_all else ("running", "stopped")
    table = Table(title="分布式扫描 / distributed sweeps")
    for col in ("sweep", "site", "state 状态", "workers 工作进程", "queued 排队", "leased 处理中", "pages/s",
                "pages 页面", "errors 错误"):
        table.add_column(col, justify="right" if col[0] in "wqlpe" else "left")
    for st in list_sweeps(server, states=states):
        table.add_row(escape(st.sweep_id), escape(st.site), f"{st.state} {_STATE_ZH.get(st.state, '')}",
                      f"{len(st.live_workers)}/{len(st.workers)}", str(st.queued), str(st.leased),
                      f"{st.pages_per_second:.1f}", str(st.total("response_received_count")),
                      str(st.total("netsword/pages/failed") + st.total("log_count/ERROR")))
    console.print(table)


@runs.command("show")
@click.argument("sweep")
@click.option("--lines", default=10, help="log lines to show")
@click.pass_context
def runs_show(ctx: click.Context, sweep: str, lines: int) -> None:
    """One sweep: its workers and their heartbeats, and the last lines of its log."""
    from crawler.distributed.sweeps import SweepNotFound, log_tail, status

    server = _server((ctx.obj or {}).get("redis"))
    try:
        st = status(server, sweep)
    except SweepNotFound as exc:
        raise click.ClickException(f"no distributed sweep {sweep!r} in Redis") from exc
    console.print(f"sweep {escape(st.sweep_id)} ({escape(st.site)}): {st.state} {_STATE_ZH.get(st.state, '')}, "
                  f"queued {st.queued}, leased {st.leased}, {st.pages_per_second:.1f} pages/s, "
                  f"{st.total('response_received_count')} pages, {st.total('netsword/listings')} listings, "
                  f"{st.total('netsword/findings')} findings", highlight=False, soft_wrap=True)
    table = Table(title="workers 工作进程")
    for col in ("worker", "host", "pid", "last beat 心跳", "alive 存活", "pages/s", "pages", "held"):
        table.add_column(col)
    for w in st.workers:
        alive = "yes" if w["alive"] else ("ended" if w.get("ended") else "NO 失联")
        table.add_row(escape(w["id"]), escape(str(w.get("host", ""))), str(w.get("pid", "")), _age(w["age"]) + " ago",
                      alive, f"{w.get('rate', 0):.1f}", str((w.get("stats") or {}).get("response_received_count", 0)),
                      str(w.get("held", 0)))
    console.print(table)
    for line in log_tail(server, sweep, lines):
        console.print(escape(line), highlight=False, soft_wrap=True)


@runs.command("log")
@click.argument("sweep")
@click.option("--lines", default=50, help="how many of the last lines")
@click.pass_context
def runs_log(ctx: click.Context, sweep: str, lines: int) -> None:
    """The last lines of a sweep's log (warnings and worker events of all its workers)."""
    from crawler.distributed.sweeps import log_tail

    for line in log_tail(_server((ctx.obj or {}).get("redis")), sweep, lines):
        click.echo(line)


def _set(ctx: click.Context, sweep: str, new: str, only_from: tuple[str, ...], verb: str) -> None:
    from crawler.distributed.sweeps import SweepNotFound, set_state

    try:
        old = set_state(_server((ctx.obj or {}).get("redis")), sweep, new, only_from=only_from)
    except SweepNotFound as exc:
        raise click.ClickException(f"no distributed sweep {sweep!r} in Redis") from exc
    if old not in only_from:
        raise click.ClickException(f"sweep {sweep} is {old}: cannot {verb} it")
    console.print(f"sweep {escape(sweep)}: {old} -> {new}", highlight=False)


@runs.command("stop")
@click.argument("sweep")
@click.pass_context
def runs_stop(ctx: click.Context, sweep: str) -> None:
    """Stop a sweep: its workers leave it within a heartbeat; its queue waits in Redis for `resume`."""
    _set(ctx, sweep, "stopped", ("running",), "stop")


@runs.command("resume")
@click.argument("sweep")
@click.pass_context
def runs_resume(ctx: click.Context, sweep: str) -> None:
    """Resume a stopped, failed or blocked sweep (after `netsword login SITE`): running workers take it up again."""
    _set(ctx, sweep, "running", ("stopped", "failed", "blocked"), "resume")


@runs.command("watch")
@click.option("--every", default=60.0, help="seconds between checks")
@click.option("--once", is_flag=True, help="check once and exit")
@click.option("--beat-timeout", default=60.0, help="seconds without a heartbeat before a worker is called lost")
@click.option("--stall-minutes", default=10.0, help="minutes without a new page before a sweep is called stalled")
@click.option("--drop-ratio", default=0.5, help="listings or shops below this share of the last sweep: alarm")
@click.pass_context
def runs_watch(ctx: click.Context, every: float, once: bool, beat_timeout: float, stall_minutes: float,
               drop_ratio: float) -> None:
    """Alarms through the alert channels ($NETSWORD_ALERT_URLS): a sweep stalled or failed, a worker
    that stopped beating, a site whose pages suddenly yield far fewer items or fields than last time."""
    from netsword.config import store_url
    from pipelines.store import open_store
    from scheduling.health import check_sweeps

    server = _server((ctx.obj or {}).get("redis"))
    while True:
        store = open_store(store_url())
        try:
            for alarm in check_sweeps(server, store, beat_timeout=beat_timeout, stall_seconds=stall_minutes * 60,
                                      drop_ratio=drop_ratio):
                console.print(f"[red]{escape(alarm.title)}[/] {escape(alarm.status)}", highlight=False,
                              soft_wrap=True)
        finally:
            store.close()
        if once:
            return
        time.sleep(every)
