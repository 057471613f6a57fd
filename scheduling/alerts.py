"""Alerts: one digest per sweep when it produced new leads at or above a severity, through Apprise.

Apprise (https://github.com/caronc/apprise) speaks webhooks (``json://``, ``form://``), e-mail
(``mailto://``), DingTalk (``dingtalk://``), WeCom bots (``wecombot://``) and many more. Targets: the
campaign's ``alerts.notify`` plus ``$NETSWORD_ALERT_URLS`` (space or comma separated); ``${VAR}`` in
a URL is read from the environment, so tokens stay out of the campaign file.

A *new* finding was first seen in this sweep; a *lead* is one shop (``site:shop_id``) with findings.
The run record's ``alert`` field says whether the digest went out, so a sweep never sends two.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from crawler.items import SEVERITIES
from pipelines.store.base import Store, SweepRun

logger = logging.getLogger(__name__)

SEVERITY_LABELS = {"critical": "严重", "high": "高", "medium": "中", "low": "低"}
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class AlertConfig:
    min_severity: str = "high"
    notify: list[str] = field(default_factory=list)
    console_url: str = ""
    max_items: int = 20
    campaign_title: str = ""
    festival_name: str = ""
    tz: str = "Asia/Shanghai"

    def targets(self) -> list[str]:
        """Notify URLs with ``${VAR}`` filled in; the ones naming an unset variable are left out (logged)."""
        urls = list(self.notify) + [u for u in re.split(r"[\s,]+", os.environ.get("NETSWORD_ALERT_URLS", "")) if u]
        out = []
        for url in urls:
            missing = [v for v in _VAR.findall(url) if not os.environ.get(v)]
            if missing:
                logger.warning("alert target skipped: environment variable(s) %s not set", ", ".join(missing))
                continue
            out.append(_VAR.sub(lambda m: os.environ[m.group(1)], url))
        return out


@dataclass
class Digest:
    title: str
    body: str
    leads: int
    findings: int


def new_findings(store: Store, sweep_id: str, min_severity: str = "low") -> list[dict[str, Any]]:
    """Findings first seen in ``sweep_id`` at or above ``min_severity``, worst first."""
    floor = _RANK.get(min_severity, 0)
    q = {"sweep_id": sweep_id, "include_resolved": True}
    return [f for f in store.iter_findings(q)
            if f.get("first_sweep_id") == sweep_id and _RANK.get(f.get("severity", ""), -1) >= floor]


def _local(ts: str | None, tz: ZoneInfo) -> str:
    if not ts:
        return "—"
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(tz).strftime("%m-%d %H:%M")


def build_digest(run: SweepRun, findings: list[dict[str, Any]], config: AlertConfig) -> Digest | None:
    """The notice for ``findings`` (new, above the floor) of ``run``; None when there are none."""
    if not findings:
        return None
    tz = ZoneInfo(config.tz)
    leads = sorted({f"{f['site']}:{f['shop_id']}" for f in findings})
    what = config.festival_name or "手动扫描"
    title = f"【网剑行动】{what} {run.site}：新线索 {len(leads)} 个（新发现 {len(findings)} 条）"
    sev = Counter(f["severity"] for f in findings)
    cats = Counter(f["category"] for f in findings)
    lines = [
        f"{config.campaign_title} · {what}" if config.campaign_title else what,
        f"扫描 {run.run_id}（{run.site}），{_local(run.started_at, tz)} 至 {_local(run.finished_at, tz)}"
        f"（{config.tz}），页面 {run.pages}，错误 {run.errors}",
        "严重程度：" + "，".join(f"{SEVERITY_LABELS.get(s, s)} {sev[s]}" for s in reversed(SEVERITIES) if sev[s]),
        "类别：" + "；".join(f"{c} {n}" for c, n in cats.most_common()),
        "",
    ]
    for f in findings[:config.max_items]:
        subject = f.get("subject_title") or f.get("shop_name") or f["subject_id"]
        lines.append(f"[{SEVERITY_LABELS.get(f['severity'], f['severity'])}] {f['title']} — {subject}"
                     f"（店铺 {f.get('shop_name') or f['shop_id']}）")
        if f.get("snippet"):
            lines.append(f"    {f['snippet'][:120]}")
        lines.append(f"    {f['url']}")
    if len(findings) > config.max_items:
        lines.append(f"……另有 {len(findings) - config.max_items} 条")
    if config.console_url:
        base = config.console_url.rstrip("/")
        lines += ["", f"分析台：{base}/leads?sweep_id={quote(run.run_id)}"]
        lines += [f"  {base}/leads/{quote(lead)}" for lead in leads[:config.max_items]]
    return Digest(title, "\n".join(lines), len(leads), len(findings))


def send(targets: list[str], digest: Digest) -> tuple[bool, str]:
    """Send through Apprise to every target: (all delivered, a short status)."""
    import apprise

    ap = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
    bad = [t for t in targets if not ap.add(t)]
    if bad:
        logger.warning("alert: %d target URL(s) not understood by Apprise", len(bad))
    if len(ap) == 0:
        return False, "no usable target"
    ok = bool(ap.notify(title=digest.title, body=digest.body, notify_type=apprise.NotifyType.WARNING))
    return ok and not bad, f"{len(ap)} target(s)" + (f", {len(bad)} bad URL(s)" if bad else "")


def notify_run(store: Store, run: SweepRun, config: AlertConfig) -> str:
    """Send the run's digest if due; returns the value for ``run.alert`` ("" when nothing was due)."""
    if run.alert.startswith("sent"):
        return run.alert  # at most one digest per sweep
    targets = config.targets()
    if not targets:
        return ""
    digest = build_digest(run, new_findings(store, run.run_id, config.min_severity), config)
    if digest is None:
        return ""
    try:
        ok, status = send(targets, digest)
    except Exception as exc:  # a notification problem never fails the sweep
        logger.exception("alert failed for %s", run.run_id)
        return f"failed: {type(exc).__name__}: {exc}"[:300]
    text = f"{digest.leads} leads, {digest.findings} findings -> {status}"
    return ("sent: " if ok else "failed: ") + text
