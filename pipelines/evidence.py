"""Evidence: every fetched page kept content-addressed (sha256 -> gzip file), with fetch time.

``EVIDENCE_DIR/html/ab/abcdef....html.gz`` holds the bytes exactly as received (or as the
browser rendered them); the item keeps the hash and the relative path, and the store
records the snapshot (url, status, fetch time UTC, sweep id).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Any


class EvidenceStore:
    """Content-addressed files under one root; writing the same bytes twice is a no-op."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def put_html(self, body: bytes) -> tuple[str, str]:
        """Store ``body``; returns (sha256 hex, path relative to the root)."""
        digest = hashlib.sha256(body).hexdigest()
        rel = f"html/{digest[:2]}/{digest}.html.gz"
        path = self.root / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            with gzip.open(tmp, "wb", compresslevel=5) as fh:
                fh.write(body)
            tmp.replace(path)  # atomic: a crash never leaves half a snapshot under the real name
        return digest, rel

    def read_html(self, rel: str) -> bytes:
        with gzip.open(self.root / rel, "rb") as fh:
            return fh.read()


class EvidencePipeline:
    """Item pipeline: stores the page body, fills html_sha256 / html_path, drops the body."""

    def __init__(self, root: Path | str) -> None:
        self.store = EvidenceStore(root)

    @classmethod
    def from_crawler(cls, crawler: Any) -> EvidencePipeline:
        return cls(crawler.settings.get("EVIDENCE_DIR"))

    def process_item(self, item: Any, spider: Any = None) -> Any:
        body = getattr(item, "html", b"")
        if body:
            item.html_sha256, item.html_path = self.store.put_html(body)
            item.html = b""
            for finding in getattr(item, "findings", ()):
                finding.snapshot_sha256 = item.html_sha256
        return item
