"""Finding the evidence files of a snapshot: the page HTML and, where the crawler took one, a screenshot.

HTML lives at ``EVIDENCE_DIR/<snapshot.path>`` (gzip); a screenshot where the snapshot record
names it. The layout is :mod:`pipelines.store.files`'s.
Every path is checked to stay inside the evidence root (a store is data, not a command).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.store.base import Snapshot, Store
from pipelines.store.files import EvidenceStore, html_rel, screenshot_rel

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_sha256(value: str) -> bool:
    return bool(_SHA256.match(value or ""))


@dataclass
class EvidenceFiles:
    sha256: str
    snapshot: Snapshot | None
    html_path: Path | None  # gzip file
    screenshot_path: Path | None  # PNG

    def read_html(self) -> bytes | None:
        if self.html_path is None:
            return None
        with gzip.open(self.html_path, "rb") as fh:
            return fh.read()


def _screenshot_rel(snapshot: Snapshot | None) -> list[str]:
    """Where the snapshot record says its screenshot is (a path, or the PNG's sha256)."""
    out = []
    for name in ("screenshot_path", "screenshot", "screenshot_sha256"):
        value = str(getattr(snapshot, name, "") or "") if snapshot is not None else ""
        if value:
            out.append(screenshot_rel(value) if is_sha256(value) else value)
    return out


_PICTURE_NOTE = re.compile(r"图片文字识别: (\S+) sha256:([0-9a-f]{64})(?: 框 \[(\d+),(\d+),(\d+),(\d+)\])? (\S*)")


def picture_citations(finding: Any) -> list[dict[str, str]]:
    """``[{"role", "sha256", "box", "url"}]``: the pictures a finding cites (its ``图片文字识别`` notes,
    written by the matcher for hits in ``image_text``); ``box`` is "x0,y0,x1,y1" or ""."""
    notes = finding.get("deobfuscated") if isinstance(finding, dict) else getattr(finding, "deobfuscated", [])
    out = []
    for note in notes or ():
        m = _PICTURE_NOTE.search(str(note))
        if m:
            box = ",".join(m.group(i) for i in (3, 4, 5, 6)) if m.group(3) is not None else ""
            out.append({"role": m.group(1), "sha256": m.group(2), "box": box, "url": m.group(7)})
    return out


def picture_file(root: str | Path, sha256: str) -> Path | None:
    """The picture kept under this SHA-256 (``images/ab/<sha256>.<ext>``, inside the root), if any."""
    if not is_sha256(sha256):
        return None
    base = Path(root).resolve()
    folder = (base / "images" / sha256[:2]).resolve()
    if not folder.is_relative_to(base) or not folder.is_dir():
        return None
    return next((p for p in sorted(folder.glob(f"{sha256}.*")) if p.is_file()), None)


def evidence_files(store: Store, root: str | Path, sha256: str) -> EvidenceFiles:
    """The files kept for the page with this HTML hash (each None when missing)."""
    files = EvidenceStore(root)
    if not is_sha256(sha256):
        return EvidenceFiles(sha256, None, None, None)
    snaps = store.snapshots(sha256)
    snapshot = snaps[-1] if snaps else None
    html = None
    for rel in [s.path for s in reversed(snaps)] + [html_rel(sha256)]:
        html = files.inside(rel)
        if html is not None:
            break
    shot = None
    for rel in [r for s in reversed(snaps) for r in _screenshot_rel(s)] + [screenshot_rel(sha256)]:
        shot = files.inside(rel)
        if shot is not None:
            break
    return EvidenceFiles(sha256, snapshot, html, shot)
