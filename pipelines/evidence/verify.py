"""``netsword evidence verify SWEEP``: re-hash a sweep's evidence, report what changed or went missing.

Checked, for one sweep under the evidence root:

* the manifest (``manifests/<sweep>.jsonl``) against its ``.sha256`` written when the sweep closed;
* every HTML snapshot and screenshot the manifest names: present, and its SHA-256 (of the
  uncompressed HTML, of the PNG) equal to the manifest's; every screenshot a flagged listing's
  line announces (``screenshot_pending``) actually taken;
* every WARC segment: against ``SHA256SUMS`` when the segment was closed; a segment left open by
  a killed process is read record by record instead (warcio checks each record's digest) and
  reported as a note, with any broken record as a problem;
* the manifest's hash chain (:mod:`pipelines.evidence.chain`): which record was removed, which
  lines were swapped, which line changed, whether the end was cut off (against the seal);
* its seal (:mod:`pipelines.evidence.seal`): the signature, with the key the verifier trusts
  (:mod:`pipelines.evidence.trust`: ``--public-key`` or the unit's own), and the timestamp token
  (the hash it stamps, the TSA's signature against the trusted chain, the time in Beijing time).

``VerifyReport.checks`` says what holds and what fails, in Chinese and English.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from netsword.digests import sha256_bytes, sha256_file, sha256_stream
from pipelines.evidence.chain import check_chain
from pipelines.evidence.checks import Check, fail, ok
from pipelines.evidence.manifest import manifest_path
from pipelines.evidence.seal import check_seal, seal_names
from pipelines.evidence.trust import Trust, load_trust
from pipelines.evidence.warc import SUMS


@dataclass
class VerifyReport:
    sweep_id: str
    manifest_lines: int = 0
    files_checked: int = 0
    warc_records: int = 0
    changed: list[str] = field(default_factory=list)  # path: what differs
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)  # files, chain, signature, timestamp: each holds or fails

    @property
    def ok(self) -> bool:
        return not self.changed and not self.missing and not any(c.failed for c in self.checks)


def _sha256_gz(path: Path) -> str:
    with gzip.open(path, "rb") as fh:
        return sha256_stream(fh)


def verify_sweep(root: Path | str, sweep_id: str, trust: Trust | None = None) -> VerifyReport:
    """Check one sweep's evidence; ``trust``: the key and TSA chain to check with (default: the
    unit's public key and ``tsa_certs`` from the configuration)."""
    root = Path(root)
    report = VerifyReport(sweep_id)
    mpath = manifest_path(root, sweep_id)
    if not mpath.is_file():
        report.missing.append(f"{mpath}: no manifest for sweep {sweep_id!r}")
        return report
    _check_manifest_digest(mpath, report)
    trust = trust if trust is not None else load_trust()
    data = mpath.read_bytes()
    sidecars = {name: _read(mpath.parent / name) for name in seal_names(mpath.name)}
    sealed = check_seal(mpath.name, sha256_bytes(data), sidecars, trust, what_zh=f"扫描 {sweep_id} 的清单",
                        what_en=f"the manifest of sweep {sweep_id}")
    lines = sealed.statement.get("lines")
    chain = check_chain(data, mpath.name, sealed_lines=lines if isinstance(lines, int) else None,
                        sealed_head=sealed.statement.get("chain_head"))
    seen: dict[str, str | None] = {}  # relative path -> its hash (None: missing/unreadable)
    pending: dict[str, str] = {}  # html sha256 -> url of a flagged listing whose screenshot is to come
    for n, line in enumerate(mpath.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            report.changed.append(f"{mpath.name}:{n}: not a JSON line")
            continue
        report.manifest_lines += 1
        if entry.get("screenshot_pending"):
            pending[entry.get("html_sha256") or ""] = entry.get("url") or ""
        elif entry.get("kind") == "screenshot":
            pending.pop(entry.get("html_sha256") or "", None)
        for kind in ("html", "screenshot", "image"):
            rel, want = entry.get(f"{kind}_path") or "", entry.get(f"{kind}_sha256") or ""
            if not rel:
                continue
            if rel not in seen:
                seen[rel] = _hash_file(root, rel, kind)
                report.files_checked += 1
                got = seen[rel]
                if got is None:
                    report.missing.append(f"{rel} ({kind} of {entry.get('url')})")
                elif want and got != want:
                    report.changed.append(f"{rel}: sha256 {got[:16]}… ≠ manifest {want[:16]}… ({entry.get('url')})")
    for url in pending.values():
        report.missing.append(f"screenshot of {url} (never taken: resume the sweep to render it)")
    _check_warc(root / "warc" / sweep_id, report)
    if report.changed or report.missing:
        report.checks.append(fail(f"文件被改动或缺失：改动 {len(report.changed)} 个，"
                                  f"缺失 {len(report.missing)} 个（见上）",
                                  f"files changed or missing: {len(report.changed)} changed, {len(report.missing)} "
                                  "missing (listed above)"))
    else:
        report.checks.append(ok(f"文件哈希相符：{report.files_checked} 个文件（网页快照、截图、WARC）与清单一致",
                                f"file hashes hold: {report.files_checked} files (page snapshots, screenshots, WARC) "
                                "match the manifest"))
    report.checks.extend(chain.checks)
    report.checks.extend(sealed.checks)
    return report


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _hash_file(root: Path, rel: str, kind: str) -> str | None:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    try:
        return _sha256_gz(path) if kind == "html" and rel.endswith(".gz") else sha256_file(path)
    except (OSError, EOFError, zlib.error):
        return "unreadable"


def _check_manifest_digest(mpath: Path, report: VerifyReport) -> None:
    side = Path(f"{mpath}.sha256")
    if not side.is_file():
        report.notes.append(f"{mpath.name}: no .sha256 (the sweep did not close cleanly)")
        return
    want = side.read_text(encoding="utf-8").split()[0]
    got = sha256_file(mpath)
    if got != want:
        report.changed.append(f"{mpath.name}: sha256 {got[:16]}… ≠ recorded {want[:16]}…")


def _check_warc(folder: Path, report: VerifyReport) -> None:
    if not folder.is_dir():
        report.notes.append(f"no WARC folder {folder.name}/ (WARC writing was off)")
        return
    sums: dict[str, str] = {}
    if (folder / SUMS).is_file():
        for line in (folder / SUMS).read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            if name:
                sums[name.strip()] = digest
    for name in sorted(sums):
        if not (folder / name).is_file():
            report.missing.append(f"warc/{folder.name}/{name}")
    for path in sorted(folder.glob("*.warc.gz")):
        report.files_checked += 1
        if path.name in sums:
            if sha256_file(path) != sums[path.name]:
                report.changed.append(f"warc/{folder.name}/{path.name}: sha256 differs from {SUMS}")
            continue
        records, problem = _read_records(path)
        report.warc_records += records
        report.notes.append(f"warc/{folder.name}/{path.name}: not closed (process killed?); {records} records read")
        if problem:
            report.changed.append(f"warc/{folder.name}/{path.name}: {problem}")


def _read_records(path: Path) -> tuple[int, str]:
    """(records read, problem) of a segment without a recorded hash; a truncated last record
    (a kill mid-write) is not a problem, a record whose digest fails is."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    n = 0
    try:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh, check_digests="raise"):
                record.content_stream().read()
                n += 1
    except ArchiveLoadFailed as exc:
        return n, f"record {n + 1}: {exc}"
    except (EOFError, zlib.error, OSError):
        return n, ""  # cut off mid-record by the kill
    return n, ""
