"""SHA-256, the one hash of netsword's evidence: of bytes, of a file, of a stream.

Every page, picture, manifest and bundle is named and checked by these (hex digests).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any, BinaryIO

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_stream(fh: BinaryIO) -> str:
    """The digest of everything left to read in ``fh`` (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    for chunk in iter(lambda: fh.read(CHUNK), b""):
        h.update(chunk)
    return h.hexdigest()


def sha256_file(path: Path | str) -> str:
    with open(path, "rb") as fh:
        return sha256_stream(fh)


def close_and_hash(fh: IO[Any], path: Path | str) -> str:
    """Flush ``fh`` to disk (fsync), close it, and return the SHA-256 of the file it wrote at ``path``."""
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()
    return sha256_file(path)
