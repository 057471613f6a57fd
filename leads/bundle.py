"""Evidence bundles: one zip an enforcement team can file and check without netsword.

Inside (flat, fixed names)::

    说明.txt                  what is inside and how to check it (Chinese)
    leads.xlsx               the export: sheets 线索 and 问题明细
    snapshots/<sha256>.html  each finding's page exactly as fetched; the name is the SHA-256
                             of the content, the same hash as in 证据哈希
    screenshots/<sha256>.png the page's screenshot where the crawler took one (same name)
    manifest.json            bundle format, filters, every file's SHA-256 and size, and
                             per finding: URL, fetch time, snapshot and screenshot paths
    SHA256SUMS               every other file's SHA-256 (``sha256sum -c SHA256SUMS`` works)

``verify_bundle(path)`` checks a bundle without extracting it: every file listed with the
right hash, nothing unlisted, every snapshot's content matching its name, the manifest
agreeing with SHA256SUMS.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leads.evidence_files import evidence_files, is_sha256
from leads.export import export
from netsword.clock import beijing_time, utc_now
from netsword.digests import sha256_bytes, sha256_stream
from pipelines.store.base import SearchQuery, Store, as_query

FORMAT = "netsword-evidence-bundle/1"
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
SHEET = "leads.xlsx"
README = "说明.txt"
_README_TEXT = """netsword 证据包 / evidence bundle

leads.xlsx               线索表（工作表“线索”）与问题明细（工作表“问题明细”）
snapshots/<哈希>.html     每条问题所在网页的原始 HTML，文件名即其 SHA-256（与“证据哈希”列一致）
screenshots/<哈希>.png    该网页的截图（如有）
manifest.json            每个文件的 SHA-256、大小，以及每条问题的链接、抓取时间和证据文件
SHA256SUMS               除本文件外所有文件的 SHA-256

校验：netsword evidence verify 本文件.zip，或在解压后的目录中运行 sha256sum -c SHA256SUMS。
注意：网页快照来自被检查的网站，可能含有恶意脚本，请勿在浏览器中直接打开。
"""


@dataclass
class BundleSummary:
    path: str
    findings: int
    snapshots: int
    screenshots: int
    missing: list[str] = field(default_factory=list)  # snapshot hashes without an HTML file


@dataclass
class BundleCheck:
    path: str
    ok: bool
    files_checked: int
    problems: list[str] = field(default_factory=list)


def write_bundle(store: Store, path: str | Path, filters: SearchQuery | Mapping[str, Any] | None = None, *,
                 evidence_dir: str | Path, site_names: Mapping[str, str] | None = None) -> BundleSummary:
    """Write the bundle of the findings passing ``filters`` to ``path`` (a .zip)."""
    path = Path(path)
    q = as_query(filters)
    path.parent.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    findings: list[dict[str, Any]] = []
    summary = BundleSummary(str(path), 0, 0, 0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:

            def add(name: str, data: bytes, compress: bool = True) -> None:
                zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
                files[name] = {"sha256": sha256_bytes(data), "size": len(data)}

            add(README, _README_TEXT.encode())
            with tempfile.TemporaryDirectory() as d:
                sheet = Path(d) / SHEET
                summary.findings = export(store, sheet, "xlsx", q, site_names=site_names)
                add(SHEET, sheet.read_bytes())
            done: dict[str, tuple[str | None, str | None]] = {}
            for f in store.iter_findings(q):
                sha = f["snapshot_sha256"]
                if sha and sha not in done:
                    done[sha] = _add_evidence(store, evidence_dir, sha, add, summary)
                html, shot = done.get(sha, (None, None))
                findings.append({"finding_id": f["finding_id"], "lead_id": f"{f['site']}:{f['shop_id']}",
                                 "rule_id": f["rule_id"], "category": f["category"], "url": f["url"],
                                 "fetched_at": beijing_time(f["fetched_at"]), "snapshot_sha256": sha,
                                 "html": html, "screenshot": shot})
            manifest = {"format": FORMAT, "created_at": utc_now(), "filters": asdict(q), "files": files,
                        "findings": findings, "missing_snapshots": summary.missing}
            add(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
            sums = "".join(f"{meta['sha256']}  {name}\n" for name, meta in sorted(files.items()))
            zf.writestr(SUMS, sums.encode())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


def _add_evidence(store: Store, root: str | Path, sha: str, add: Any,
                  summary: BundleSummary) -> tuple[str | None, str | None]:
    ev = evidence_files(store, root, sha)
    html_name = shot_name = None
    body = ev.read_html()
    if body is not None:
        html_name = f"snapshots/{sha}.html"
        add(html_name, body)
        summary.snapshots += 1
    else:
        summary.missing.append(sha)
    if ev.screenshot_path is not None:
        shot_name = f"screenshots/{sha}.png"
        add(shot_name, ev.screenshot_path.read_bytes(), compress=False)
        summary.screenshots += 1
    return html_name, shot_name


def _hash_member(zf: zipfile.ZipFile, name: str) -> str:
    with zf.open(name) as fh:
        return sha256_stream(fh)


def verify_bundle(path: str | Path) -> BundleCheck:
    """Check a bundle (a .zip) against its SHA256SUMS and manifest; ``ok`` when nothing is wrong."""
    check = BundleCheck(str(path), False, 0)
    problems = check.problems
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        problems.append(f"不是可读的 zip 文件 / not a readable zip: {exc}")
        return check
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        if len(names) != len(set(names)):
            problems.append("压缩包内有重名文件 / duplicate names in the zip")
        if SUMS not in names:
            problems.append(f"缺少 {SUMS} / {SUMS} missing")
            return check
        listed: dict[str, str] = {}
        for n, line in enumerate(zf.read(SUMS).decode("utf-8", "replace").splitlines(), 1):
            digest, sep, name = line.partition("  ")
            if not sep or not is_sha256(digest) or not name:
                problems.append(f"{SUMS} 第 {n} 行格式错误 / line {n} malformed")
                continue
            listed[name] = digest
        for name, digest in listed.items():
            if name not in names:
                problems.append(f"缺少文件 / missing file: {name}")
                continue
            got = _hash_member(zf, name)
            check.files_checked += 1
            if got != digest:
                problems.append(f"哈希不符 / hash mismatch: {name}")
            if name.startswith("snapshots/") and name != f"snapshots/{got}.html":
                problems.append(f"快照内容与文件名哈希不符 / snapshot content does not match its name: {name}")
        problems.extend(f"未登记的文件 / file not in {SUMS}: {name}" for name in names
                        if name != SUMS and name not in listed)
        problems.extend(_check_manifest(zf, names, listed))
    check.ok = not problems
    return check


def _check_manifest(zf: zipfile.ZipFile, names: list[str], listed: Mapping[str, str]) -> list[str]:
    if MANIFEST not in names:
        return [f"缺少 {MANIFEST} / {MANIFEST} missing"]
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except ValueError:
        return [f"{MANIFEST} 不是 JSON / not JSON"]
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"未知格式 / unknown bundle format: {manifest.get('format')!r}")
    for name, meta in (manifest.get("files") or {}).items():
        if listed.get(name) != (meta or {}).get("sha256"):
            problems.append(f"清单与 {SUMS} 不一致 / manifest and {SUMS} disagree: {name}")
    for f in manifest.get("findings") or []:
        for key in ("html", "screenshot"):
            if f.get(key) and f[key] not in listed:
                problems.append(f"问题 {f.get('finding_id')} 的证据文件缺失 / evidence missing: {f[key]}")
    return problems
