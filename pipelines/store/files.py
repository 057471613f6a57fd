"""The content-addressed evidence files: the one owner of their layout under ``EVIDENCE_DIR``.

* ``html/<sha[:2]>/<sha>.html.gz`` -- a page's HTML as received, gzip, named by the SHA-256 of
  the bytes received (:func:`html_rel`);
* ``screenshots/<html sha>.png`` -- the picture of that page (:func:`screenshot_rel`);
* ``images/<sha[:2]>/<sha>.<ext>`` -- a picture of a listing or shop (product photo, detail image,
  licence), as received, named by the SHA-256 of its bytes (:func:`image_rel`).

The evidence stage writes them, the incremental crawl reads an unchanged page back, and the
analysts' tools (export, bundle, console) find them, all through this module.
"""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

from netsword.digests import sha256_bytes, sha256_file


def html_rel(sha256: str) -> str:
    """Where the HTML whose SHA-256 is ``sha256`` is kept, relative to the evidence root."""
    return f"html/{sha256[:2]}/{sha256}.html.gz"


def screenshot_rel(html_sha256: str) -> str:
    """Where the screenshot of the page whose HTML hash is ``html_sha256`` is kept."""
    return f"screenshots/{html_sha256}.png"


#: file name endings of the picture formats kept (anything else is kept as ``.bin``)
IMAGE_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}


def image_rel(sha256: str, ext: str = "bin") -> str:
    """Where the picture whose SHA-256 is ``sha256`` is kept, relative to the evidence root."""
    return f"images/{sha256[:2]}/{sha256}.{ext}"


class EvidenceStore:
    """Content-addressed files under one root; writing the same bytes twice is a no-op."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._dirs: set[Path] = set()  # folders known to exist

    @staticmethod
    def address(body: bytes) -> tuple[str, str]:
        """(sha256 hex, path relative to the root) under which ``body`` is kept."""
        digest = sha256_bytes(body)
        return digest, html_rel(digest)

    def put_html(self, body: bytes) -> tuple[str, str]:
        """Store ``body``; returns (sha256 hex, path relative to the root)."""
        digest, rel = self.address(body)
        self.write_html(rel, body)
        return digest, rel

    def write_html(self, rel: str, body: bytes) -> None:
        """Keep ``body`` at ``rel`` (its :meth:`address`) unless it is there already."""
        path = self.root / rel
        if not path.exists():
            self._write_atomic(path, gzip.compress(body, compresslevel=5, mtime=0))

    def put_screenshot(self, png: bytes, html_sha256: str) -> tuple[str, str]:
        """Store the screenshot of the page whose HTML hash is ``html_sha256``; returns (sha256 of the
        PNG kept, its path). The first screenshot of an HTML stays: files are never rewritten."""
        rel = screenshot_rel(html_sha256)
        path = self.root / rel
        if path.exists():
            return sha256_file(path), rel
        self._write_atomic(path, png)
        return sha256_bytes(png), rel

    def screenshot_of(self, html_sha256: str) -> tuple[str, str] | None:
        """(sha256, path) of the screenshot kept for this HTML, if any."""
        rel = screenshot_rel(html_sha256)
        path = self.root / rel
        return (sha256_file(path), rel) if path.is_file() else None

    def put_image(self, body: bytes, ext: str = "bin") -> tuple[str, str]:
        """Store a picture as received; returns (sha256 hex, path relative to the root). Same bytes, same file."""
        digest = sha256_bytes(body)
        rel = image_rel(digest, ext)
        path = self.root / rel
        if not path.exists():
            self._write_atomic(path, body)
        return digest, rel

    def read_html(self, rel: str) -> bytes:
        with gzip.open(self.root / rel, "rb") as fh:
            return fh.read()

    def inside(self, rel: str) -> Path | None:
        """The file at ``rel`` if it exists and stays inside the root (stored paths are data, not commands)."""
        if not rel:
            return None
        root = self.root.resolve()
        path = (root / rel).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def _write_atomic(self, path: Path, data: bytes) -> None:
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: a crash never leaves half a file under the real name
