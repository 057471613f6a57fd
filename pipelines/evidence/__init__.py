"""The evidence stage: what every page showed, when, and proof that the files were not changed since.

``EvidencePipeline`` is the ``ITEM_PIPELINES`` entry (its module docstring lists the files it
keeps, its settings and stats). Modules: :mod:`.pipeline` (the Scrapy stage), :mod:`.manifest`
(one JSON line per page), :mod:`.chain` (the manifest's hash chain), :mod:`.warc` (the sweep's
WARC, with warcio), :mod:`.render` (screenshots of stored snapshots, scripts and network off),
:mod:`.cdp` (those renders over Chromium's DevTools pipe), :mod:`.charset` (a snapshot's
charset), :mod:`.worker` (the evidence thread), :mod:`.signing` and :mod:`.keys` (the unit's
key), :mod:`.timestamps` (RFC 3161 tokens),
:mod:`.seal` (signature + token over a finished file), :mod:`.trust` (what a verifier trusts),
:mod:`.checks` (report lines), :mod:`.verify` (``netsword evidence verify``), :mod:`.commands`
(``netsword keys``), :mod:`.wacz` (WACZ packages, with Webrecorder's ``wacz``), :mod:`.environment`
(the capture environment a seal states). The content-addressed files themselves belong to the store
(:mod:`pipelines.store.files`).
"""

from __future__ import annotations

from pipelines.store.files import EvidenceStore

from .chain import ChainReport, check_chain
from .charset import decode_html
from .checks import Check
from .environment import capture_environment
from .keys import KeyFiles, init_keys, load_unit_public, read_public_key
from .manifest import MANIFEST_FIELDS, Manifest, manifest_path, read_manifest
from .pipeline import EvidencePipeline
from .seal import (
    SealCheck,
    Sealer,
    SealError,
    check_seal,
    make_seal,
    read_public_key_bytes,
    seal_file,
    seal_names,
    stamp_later,
)
from .signing import ALGORITHMS, KeyFileError, PublicKey
from .timestamps import TimestampError, TokenInfo, token_info
from .trust import Trust, TrustError, load_trust
from .verify import VerifyReport, verify_sweep
from .wacz import (
    ArchivedPage,
    WaczSummary,
    archived_captures,
    archived_urls,
    read_archived,
    validate_wacz,
    write_wacz,
)

__all__ = [
    "ALGORITHMS",
    "MANIFEST_FIELDS",
    "ArchivedPage",
    "ChainReport",
    "Check",
    "EvidencePipeline",
    "EvidenceStore",
    "KeyFileError",
    "KeyFiles",
    "Manifest",
    "PublicKey",
    "SealCheck",
    "SealError",
    "Sealer",
    "TimestampError",
    "TokenInfo",
    "Trust",
    "TrustError",
    "VerifyReport",
    "WaczSummary",
    "archived_captures",
    "archived_urls",
    "capture_environment",
    "check_chain",
    "check_seal",
    "decode_html",
    "init_keys",
    "load_trust",
    "load_unit_public",
    "make_seal",
    "manifest_path",
    "read_archived",
    "read_manifest",
    "read_public_key",
    "read_public_key_bytes",
    "seal_file",
    "seal_names",
    "stamp_later",
    "token_info",
    "validate_wacz",
    "verify_sweep",
    "write_wacz",
]
