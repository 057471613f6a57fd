"""Health of distributed sweeps: alarms through the alert channels (:mod:`scheduling.alerts`, Apprise).

:func:`check_sweeps` (run by ``netsword runs watch``) looks at every distributed sweep in Redis
and raises, once each (remembered in the sweep's ``alarms`` hash):

* **failed** -- a sweep marked failed;
* **stalled** -- a running sweep with work left whose page count has not moved for
  ``stall_seconds`` (all its workers dead, or stuck);
* **worker lost** -- a worker that did not end yet stopped beating for ``beat_timeout`` seconds
  (killed, machine gone); its pages go back to the queue when their leases run out;
* **blocked** -- a worker met a login or verification wall (:mod:`crawler.walls`): the sweep is
  paused until someone logs in again (``netsword login SITE``) and resumes it; once per block;
* **yield dropped** -- a finished sweep whose listings or shops are far below (``drop_ratio``)
  the site's previous finished sweep: the site changed its layout and the profile broke;
* **profile broken** -- a finished sweep whose page types, summed over its workers' heartbeats, left
  required fields empty on most pages, gave no page at all, or fell far below the last sweep's pages
  or fill rates (:mod:`crawler.fillrate`, the same test as an embedded sweep's).

Targets: ``$NETSWORD_ALERT_URLS`` (as for the sweep digests).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from crawler.distributed.keys import SweepKeys
from crawler.distributed.sweeps import SweepStatus, list_sweeps
from scheduling.alerts import AlertConfig, Digest, send

logger = logging.getLogger(__name__)


@dataclass
class Alarm:
    kind: str  # failed | stalled | worker_lost | yield_dropped | blocked | profile_broken
    sweep_id: str
    subject: str
    title: str
    body: str
    status: str = ""


def _stalled(server: Any, st: SweepStatus, stall_seconds: float, now: float) -> Alarm | None:
    keys = SweepKeys(st.sweep_id)
    pages = st.total("response_received_count")
    seen = server.hmget(keys.info, "progress_pages", "progress_at")
    if seen[0] is None or int(seen[0]) != pages:
        server.hset(keys.info, mapping={"progress_pages": pages, "progress_at": now})
        return None
    idle = now - float(seen[1])
    if idle < stall_seconds or not (st.queued or st.leased):
        return None
    return Alarm("stalled", st.sweep_id, "", f"【网剑行动】扫描停滞：{st.sweep_id}（{st.site}）",
                 f"已 {idle / 60:.0f} 分钟没有新页面；排队 {st.queued}，处理中 {st.leased}，存活工作进程 "
                 f"{len(st.live_workers)}。请检查工作进程（netsword runs show {st.sweep_id}）。")


def _dropped(store: Any, st: SweepStatus, ratio: float) -> Alarm | None:
    sweeps = [s for s in store.sweeps() if s.site == st.site and s.finished_at and s.sweep_id != st.sweep_id
              and s.started_at < (store_sweep_started(store, st.sweep_id) or "~")]
    if not sweeps:
        return None
    prev = max(sweeps, key=lambda s: s.started_at)
    now_counts, prev_counts = store.counts(sweep_id=st.sweep_id), store.counts(sweep_id=prev.sweep_id)
    low = [f"{kind} {now_counts.get(kind, 0)}（上次 {prev_counts.get(kind, 0)}）" for kind in ("listings", "shops")
           if prev_counts.get(kind, 0) >= 10 and now_counts.get(kind, 0) < ratio * prev_counts[kind]]
    if not low:
        return None
    return Alarm("yield_dropped", st.sweep_id, "", f"【网剑行动】解析结果骤减：{st.site} 扫描 {st.sweep_id}",
                 f"与上次扫描 {prev.sweep_id} 相比：{'，'.join(low)}。站点可能改版，请检查站点配置"
                 f"（netsword profile check {st.site} URL）。")


def _blocked(st: SweepStatus) -> Alarm:
    from crawler.walls import wall_message

    kind = st.info.get("blocked_kind", "login")
    title, body = wall_message(st.site, st.sweep_id, kind, st.info.get("blocked_url", ""),
                               st.info.get("blocked_evidence", ""), resume=f"netsword runs resume {st.sweep_id}")
    return Alarm("blocked", st.sweep_id, f"{kind}@{st.info.get('blocked_at', '')}", title, body)


def _broken(store: Any, st: SweepStatus, ratio: float) -> Alarm | None:
    """The fill rate alarm of a finished distributed sweep (its workers' counters summed)."""
    from crawler.distributed.worker import BEAT_STATS
    from crawler.fillrate import Limits, assess, previous_sweep_stats, sum_fill
    from crawler.profiles import find_profile
    from netsword.yamlsource import SourceError

    try:
        profile = find_profile(st.site)
    except SourceError as exc:
        logger.warning("no fill rate check of sweep %s: %s", st.sweep_id, exc)
        return None
    stats: dict[str, Any] = {k: st.total(k) for k in BEAT_STATS}
    stats.update(sum_fill(w.get("stats") or {} for w in st.workers))
    mine = next((s for s in store.sweeps() if s.sweep_id == st.sweep_id), None)
    search = bool(mine and mine.settings.get("search"))
    prev_id, prev = previous_sweep_stats(store, st.site, st.sweep_id) if not search else ("", {})
    report = assess(profile, stats, sweep_id=st.sweep_id, previous=prev or None, previous_sweep=prev_id,
                    limits=Limits(drop_ratio=ratio), expect_items=not search)
    if not report.broken:
        return None
    return Alarm("profile_broken", st.sweep_id, "", f"【网剑行动】站点配置失效：{st.site} 扫描 {st.sweep_id}",
                 report.message())


def store_sweep_started(store: Any, sweep_id: str) -> str:
    for s in store.sweeps():
        if s.sweep_id == sweep_id:
            return s.started_at
    return ""


def find_alarms(server: Any, store: Any, *, stall_seconds: float = 600, beat_timeout: float = 60,
                drop_ratio: float = 0.5, now: float | None = None) -> list[Alarm]:
    """Every alarm the distributed sweeps call for now (sent or not before)."""
    now = now or time.time()
    out: list[Alarm] = []
    for st in list_sweeps(server, limit=200):
        if st.state == "failed":
            out.append(Alarm("failed", st.sweep_id, "", f"【网剑行动】扫描失败：{st.sweep_id}（{st.site}）",
                             f"排队 {st.queued}，处理中 {st.leased}；日志：netsword runs log {st.sweep_id}"))
        if st.state == "blocked":
            out.append(_blocked(st))
        # a worker that stopped beating without leaving: also once its sweep has finished or stopped (the
        # others took its pages), since the machine or process behind it needs looking at all the same
        for w in st.workers:
            if not w.get("ended") and now - float(w.get("time", 0)) > beat_timeout:
                then = ("它处理中的页面将在租约到期后交给其他工作进程。" if st.state == "running"
                        else f"扫描现为 {st.state}，它的页面已由其他工作进程接手。")
                out.append(Alarm("worker_lost", st.sweep_id, w["id"],
                                 f"【网剑行动】工作进程失联：{w['id']}（扫描 {st.sweep_id}）",
                                 f"工作进程 {w['id']}（主机 {w.get('host')}，进程 {w.get('pid')}）"
                                 f"{(now - float(w.get('time', 0))) / 60:.1f} 分钟没有心跳；{then}"))
        if st.state == "running":
            alarm = _stalled(server, st, stall_seconds, now)
            if alarm:
                out.append(alarm)
        if st.state == "finished":
            for alarm in (_dropped(store, st, drop_ratio), _broken(store, st, drop_ratio)):
                if alarm:
                    out.append(alarm)
    return out


def check_sweeps(server: Any, store: Any, *, targets: list[str] | None = None, **limits: Any) -> list[Alarm]:
    """Send each new alarm once through the alert channels; returns the alarms sent (or tried) now."""
    targets = AlertConfig().targets() if targets is None else targets
    sent = []
    for alarm in find_alarms(server, store, **limits):
        key = f"{alarm.kind}:{alarm.subject}"
        if not server.hsetnx(SweepKeys(alarm.sweep_id).alarms, key, time.time()):
            continue  # said before
        if targets:
            try:
                ok, alarm.status = send(targets, Digest(alarm.title, alarm.body, 0, 0))
                alarm.status = ("sent: " if ok else "failed: ") + alarm.status
            except Exception as exc:  # an alarm that cannot go out is logged, never fatal
                alarm.status = f"failed: {type(exc).__name__}: {exc}"
        else:
            alarm.status = "no alert target (NETSWORD_ALERT_URLS)"
        logger.warning("%s %s", alarm.title, alarm.status)
        sent.append(alarm)
    return sent
