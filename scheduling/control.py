"""Run control for the console's runs page: live distributed sweeps, stopping and resuming them, their log, and
starting a site's sweep now.

The distributed sweeps live in Redis (:mod:`crawler.distributed.sweeps`, what ``netsword runs`` shows);
this module is the console's door to them (the console, in ``leads/``, does not import the crawler).
Starting a sweep takes the paths the commands take:

* with a Redis server configured (``NETSWORD_REDIS_URL``), the sweep is seeded there as ``netsword crawl
  --site S --distributed`` seeds it, and the running ``netsword worker`` processes take it;
* otherwise ``netsword schedule run-now --site S`` starts as a detached process: the scheduler's runner takes
  the site's lock, writes the run record (the runs page shows it running), runs ``netsword crawl --site S``
  with its log in ``<home>/logs/sweeps/`` and sends the alert digest at the end.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netsword.config import ROOT, sites_dir

#: what a site's name may look like (the profile file's stem)
SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Redis commands of a console page wait at most this long (a worker's wait longer)
REDIS_TIMEOUT = 3.0
STATE_LABELS = {"running": "运行中", "stopped": "已停止", "finished": "已完成", "failed": "失败"}


class ControlError(Exception):
    """What an operator can fix, in a sentence (shown on the page)."""


@dataclass
class Started:
    mode: str  # "distributed" (seeded in Redis) or "embedded" (a detached `schedule run-now`)
    ident: str  # the sweep id, or the process id
    message: str


def known_sites() -> list[str]:
    return sorted(p.stem for p in sites_dir().glob("*.yml") if SITE_NAME.match(p.stem))


def _redis(url: str) -> Any:
    from crawler.distributed.connection import RedisUnavailable, connect

    try:
        return connect(url, timeout=REDIS_TIMEOUT)
    except RedisUnavailable as exc:
        raise ControlError(str(exc)) from exc


def live_sweeps(redis_url: str, *, limit: int = 20) -> list[Any]:
    """The newest distributed sweeps (running and stopped first, then finished and failed), as
    :class:`crawler.distributed.sweeps.SweepStatus`."""
    from crawler.distributed.sweeps import list_sweeps

    found = list_sweeps(_redis(redis_url), limit=limit)
    order = {"running": 0, "stopped": 1}
    return sorted(found, key=lambda st: (order.get(st.state, 2), -st.started))


def sweep(redis_url: str, sweep_id: str, *, lines: int = 100) -> tuple[Any, list[str]]:
    """One sweep's status and the last ``lines`` lines of its log (oldest first); ControlError if unknown."""
    from crawler.distributed.sweeps import SweepNotFound, log_tail, status

    server = _redis(redis_url)
    try:
        return status(server, sweep_id), log_tail(server, sweep_id, lines)
    except SweepNotFound as exc:
        raise ControlError(f"Redis 中没有分布式扫描 {sweep_id}") from exc


def _set_state(redis_url: str, sweep_id: str, new: str, only_from: tuple[str, ...], verb: str) -> str:
    from crawler.distributed.sweeps import SweepNotFound, set_state

    try:
        old = set_state(_redis(redis_url), sweep_id, new, only_from=only_from)
    except SweepNotFound as exc:
        raise ControlError(f"Redis 中没有分布式扫描 {sweep_id}") from exc
    if old not in only_from:
        raise ControlError(f"扫描 {sweep_id} {STATE_LABELS.get(old, old)}，不能{verb}")
    return old


def stop_sweep(redis_url: str, sweep_id: str) -> str:
    """As ``netsword runs stop``: the workers leave it within a heartbeat; its queue waits in Redis."""
    return _set_state(redis_url, sweep_id, "stopped", ("running",), "停止")


def resume_sweep(redis_url: str, sweep_id: str) -> str:
    """As ``netsword runs resume``: running workers take it up again."""
    return _set_state(redis_url, sweep_id, "running", ("stopped", "failed"), "恢复")


def _check_site(site: str) -> None:
    if not SITE_NAME.match(site) or site not in known_sites():
        raise ControlError(f"没有站点配置 {site}（{sites_dir()}）")


def _check_base_url(base_url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in base_url):
        raise ControlError(f"基础网址须是 http(s):// 开头的网址：{base_url[:200]}")


def start_sweep(site: str, *, redis_url: str = "", home: str | Path, store_url: str,
                base_url: str = "") -> Started:
    """Start a sweep of ``site`` now: seeded in Redis when ``redis_url`` is given, else a detached
    ``netsword schedule run-now --site S``. Problems an operator can fix raise ControlError."""
    _check_site(site)
    if base_url:
        _check_base_url(base_url)
    if redis_url:
        return _seed(site, redis_url, store_url, base_url or None)
    return _launch(site, Path(home), store_url, base_url)


def _seed(site: str, redis_url: str, store_url: str, base_url: str | None) -> Started:
    from crawler.distributed.sweeps import StoreCannotTakeSweep, SweepExists, seed_recorded
    from crawler.runner import SweepError
    from netsword.yamlsource import SourceError

    try:
        sweep_id, n = seed_recorded(lambda: _redis(redis_url), site, base_url=base_url, store_url=store_url)
    except (SourceError, SweepError, SweepExists, StoreCannotTakeSweep) as exc:
        raise ControlError(str(exc)) from exc
    return Started("distributed", sweep_id, f"分布式扫描 {sweep_id} 已在 Redis 中排队（{n} 个起始请求），"
                                            f"由 netsword worker 进程处理")


def _launch(site: str, home: Path, store_url: str, base_url: str) -> Started:
    from crawler.sitelock import site_lock

    with site_lock(home, site, 0.0) as free:
        if not free:
            raise ControlError(f"站点 {site} 正在扫描，请等它结束")
    log_dir = home / "logs" / "sweeps"
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    cmd = [sys.executable, "-m", "cli", "schedule", "run-now", "--site", site]
    if base_url:
        cmd += ["--base-url", base_url]
    env = {**os.environ, "NETSWORD_HOME": str(home), "NETSWORD_STORE": store_url}
    with open(log_dir / f"console-start-{site}-{stamp}.log", "ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()  # no zombie left behind
    return Started("embedded", str(proc.pid), f"站点 {site} 的扫描已在本机后台启动（进程 {proc.pid}），"
                                              "扫描记录中显示为运行中")
