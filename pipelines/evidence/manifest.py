"""The sweep's manifest: one JSON line per page kept (what, where, its hashes, when), hash-chained.

``manifests/<sweep>.jsonl`` under the evidence root; closed with ``<sweep>.jsonl.sha256``, then
sealed (signed and time-stamped, :mod:`pipelines.evidence.seal`). Each line carries ``seq`` and
``prev`` (:mod:`pipelines.evidence.chain`): its number and the SHA-256 of the line before, so a
line removed, moved or changed breaks the chain. A resumed sweep appends to the same file and
goes on with the chain from its last complete line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netsword.digests import close_and_hash

from .chain import chain_tail, line_hash

#: The fields of a manifest line, in order.
MANIFEST_FIELDS = ("sweep_id", "url", "requested_url", "status", "fetched_at", "rendered", "kind", "unchanged",
                   "html_sha256", "html_path", "screenshot_sha256", "screenshot_path", "screenshot_pending", "warc",
                   "server_ip", "cert_sha256", "capture", "seq", "prev")


class Manifest:
    """The sweep's JSON-lines manifest, appended to (also across a resumed sweep)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_line(self.path)
        #: the last record's number and hash: the chain goes on from there (also after a resume)
        self.seq, self.head = chain_tail(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the whole sweep
        self.lines = 0
        self.sha256 = ""  # the file's SHA-256, once closed

    def write(self, entry: dict[str, Any]) -> None:
        record = {k: entry.get(k) for k in MANIFEST_FIELDS}
        record["seq"], record["prev"] = self.seq + 1, self.head
        line = json.dumps(record, ensure_ascii=False)
        self._fh.write(line + "\n")
        self.seq, self.head = self.seq + 1, line_hash(line.encode("utf-8"))
        self.lines += 1

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if self._fh.closed:
            return
        self.sha256 = close_and_hash(self._fh, self.path)
        Path(f"{self.path}.sha256").write_text(f"{self.sha256}  {self.path.name}\n", encoding="utf-8")


def _drop_partial_line(path: Path) -> None:
    """A killed process may leave half a line at the end: cut it before appending."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def manifest_path(root: Path | str, sweep_id: str) -> Path:
    return Path(root) / "manifests" / f"{sweep_id}.jsonl"


def read_manifest(path: Path | str) -> list[dict[str, Any]]:
    """The manifest's entries (a half-written last line is skipped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
