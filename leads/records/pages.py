"""The pages a record lists: each page of a lead's findings, with its files, hashes and seal.

For each snapshot the findings of the leads point at: URL, fetch time, the sweep, the HTML's
SHA-256 and file, the screenshot (live capture from the browser, or the offline re-render of the
stored HTML, as the sweep's manifest says), the server's IP address and, for https, the
certificate's SHA-256 fingerprint (manifest), the WARC segment, and the sweep manifest's seal:
its SHA-256, the serial number and time of its timestamp token, the clock source and the capture
environment the seal states.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leads.evidence_files import evidence_files
from leads.leads import Lead
from netsword.clock import beijing_time
from pipelines.evidence import read_manifest, token_info
from pipelines.store.base import Store


@dataclass
class SweepSeal:
    """What a sweep manifest's seal says (empty strings when the sweep was not sealed)."""

    sweep_id: str
    manifest_sha256: str = ""
    token_serial: str = ""
    token_time: str = ""  # Beijing time
    tsa: str = ""
    time_source: str = "本机时钟（未封存）"
    signed_by: str = ""  # key fingerprint
    environment: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvidencePage:
    lead_id: str
    url: str
    title: str
    fetched_at: str  # Beijing time
    sweep_id: str
    html_sha256: str
    html_file: str  # relative to the evidence root
    screenshot_sha256: str = ""
    screenshot_file: str = ""
    capture: str = ""  # "live" | "offline" | ""
    server_ip: str = ""
    cert_sha256: str = ""
    warc: str = ""
    seal: SweepSeal | None = None

    @property
    def bundle_html(self) -> str:
        return f"snapshots/{self.html_sha256}.html"

    @property
    def bundle_screenshot(self) -> str:
        return f"screenshots/{self.html_sha256}.png" if self.screenshot_file else ""

    @property
    def capture_zh(self) -> str:
        return {"live": "浏览器实时截图（含图片）", "offline": "离线重绘（依存储的 HTML，无图片）"}.get(
            self.capture, "浏览器截图" if self.screenshot_file else "无截图")


def sweep_seal(evidence_dir: Path | str, sweep_id: str) -> SweepSeal:
    """The seal of a sweep's manifest, read from ``manifests/<sweep>.jsonl.seal.json`` and ``.tsr``."""
    base = Path(evidence_dir) / "manifests" / f"{sweep_id}.jsonl"
    seal = SweepSeal(sweep_id)
    try:
        record = json.loads(Path(f"{base}.seal.json").read_text(encoding="utf-8"))
        statement = json.loads(record.get("statement") or "{}")
    except (OSError, ValueError):
        return seal
    seal.manifest_sha256 = statement.get("sha256", "")
    seal.time_source = record.get("time_source_zh") or record.get("time_source") or seal.time_source
    seal.signed_by = statement.get("key", "")
    seal.environment = statement.get("environment") or {}
    try:
        info = token_info(Path(f"{base}.tsr").read_bytes())
    except OSError:
        info = None
    if info is not None:
        seal.token_serial, seal.token_time, seal.tsa = info.serial, info.beijing, info.tsa
    return seal


def _manifest_pages(evidence_dir: Path, sweep_id: str) -> dict[str, dict[str, Any]]:
    """html sha256 -> what the sweep's manifest says of that page (its screenshot line merged in)."""
    path = evidence_dir / "manifests" / f"{sweep_id}.jsonl"
    out: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return out
    for e in read_manifest(path):
        sha = e.get("html_sha256") or ""
        if not sha:
            continue
        if e.get("kind") == "screenshot":
            out.setdefault(sha, {}).update({k: v for k, v in e.items() if k.startswith("screenshot") or
                                            k in ("capture", "capture_of")})
        else:
            merged = out.setdefault(sha, {})
            merged.update({k: v for k, v in e.items() if v not in (None, "") or k not in merged})
    return out


def evidence_pages(store: Store, evidence_dir: Path | str, leads: Iterable[Lead]) -> list[EvidencePage]:
    """Every page (snapshot) the leads' findings point at, once per lead, in finding order."""
    root = Path(evidence_dir)
    manifests: dict[str, dict[str, dict[str, Any]]] = {}
    seals: dict[str, SweepSeal] = {}
    out: list[EvidencePage] = []
    for lead in leads:
        seen: set[str] = set()
        for f in lead.findings:
            sha = f.get("snapshot_sha256") or ""
            if not sha or sha in seen:
                continue
            seen.add(sha)
            ev = evidence_files(store, root, sha)
            snap = ev.snapshot
            sweep = (snap.sweep_id if snap else "") or f.get("sweep_id") or ""
            if sweep not in manifests:
                manifests[sweep] = _manifest_pages(root, sweep) if sweep else {}
                seals[sweep] = sweep_seal(root, sweep)
            entry = manifests[sweep].get(sha, {})
            shot = ev.screenshot_path
            out.append(EvidencePage(
                lead.lead_id, (snap.url if snap else "") or f.get("url", ""), f.get("subject_title") or "",
                beijing_time((snap.fetched_at if snap else "") or f.get("fetched_at")), sweep, sha,
                _rel(ev.html_path, root), entry.get("screenshot_sha256") or "", _rel(shot, root),
                entry.get("capture") or ("live" if entry.get("rendered") and shot else ("offline" if shot else "")),
                entry.get("server_ip") or "", entry.get("cert_sha256") or "", entry.get("warc") or "",
                seals[sweep]))
    return out


def _rel(path: Path | None, root: Path) -> str:
    """``path`` relative to the evidence root ("" when None)."""
    if path is None:
        return ""
    for base in (root, root.resolve()):
        try:
            return str(path.relative_to(base))
        except ValueError:
            continue
    return str(path)
