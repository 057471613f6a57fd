"""The evidence stage: what every page showed, when, and proof that the files were not changed since.

``EvidencePipeline`` is the ``ITEM_PIPELINES`` entry (its module docstring lists the files it
keeps, its settings and stats). Modules: :mod:`.pipeline` (the Scrapy stage), :mod:`.manifest`
(one JSON line per page), :mod:`.warc` (the sweep's WARC, with warcio), :mod:`.render`
(screenshots of stored snapshots, scripts and network off), :mod:`.cdp` (those renders over
Chromium's DevTools pipe), :mod:`.worker` (the evidence thread), :mod:`.verify` (``netsword
evidence verify``). The content-addressed files themselves belong to the store
(:mod:`pipelines.store.files`).
"""

from __future__ import annotations

from pipelines.store.files import EvidenceStore

from .charset import decode_html
from .manifest import MANIFEST_FIELDS, Manifest, manifest_path, read_manifest
from .pipeline import EvidencePipeline
from .verify import VerifyReport, verify_sweep

__all__ = [
    "MANIFEST_FIELDS",
    "EvidencePipeline",
    "EvidenceStore",
    "Manifest",
    "VerifyReport",
    "decode_html",
    "manifest_path",
    "read_manifest",
    "verify_sweep",
]
