"""The evidence writer: one sweep's evidence files (HTML snapshots, WARC records, the manifest), written in
the order asked.

:class:`EvidenceWriter` owns the sweep's open files: the WARC segment (:mod:`.warc`), the manifest
(:mod:`.manifest`) and the content-addressed snapshots (:class:`~pipelines.store.files.EvidenceStore`).
It runs where :class:`~pipelines.evidence.worker.EvidenceIO` puts it: in a writer process of its own
(the default: its gzip, hashing and file writes then never compete with the reactor for the GIL) or on
one thread of the crawl's process. Either way it is called by operation name with plain, picklable data
-- a response as :class:`WireResponse`, an item as the :data:`PAGE_FIELDS` it needs -- and one writer
keeps one order: a page's WARC records, asked for when it was downloaded, are on disk before its manifest
line, asked for when its item came.

What the reactor needs back comes back as results (whether a flagged listing still needs its screenshot,
the server's IP address for its caption); counters go back as :attr:`EvidenceWriter.counts`.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from netsword.sidecar import CallTarget
from pipelines.evidence.manifest import MANIFEST_FIELDS, Manifest, manifest_path
from pipelines.store.files import EvidenceStore

logger = logging.getLogger(__name__)

#: the item attributes the writer reads (the manifest's fields, the page's captures and pictures)
PAGE_FIELDS = tuple(dict.fromkeys((*MANIFEST_FIELDS, "captures", "images")))


@dataclass(frozen=True)
class WriterConfig:
    """What a writer opens: the evidence root, the sweep (its WARC folder and manifest), the WARC's gzip level."""

    root: str
    sweep_id: str
    warc: bool = True
    gzip_level: int = 6


@dataclass(frozen=True)
class WireRequest:
    """What the WARC keeps of a request (the attributes :class:`~pipelines.evidence.warc.WarcWriter` reads)."""

    url: str
    method: str
    headers: dict[bytes, list[bytes]]
    body: bytes


@dataclass(frozen=True)
class WireResponse:
    """What the WARC keeps of a response."""

    url: str
    status: int
    headers: dict[bytes, list[bytes]]
    body: bytes
    flags: tuple[str, ...]


def wire(request: Any, response: Any) -> tuple[WireRequest, WireResponse]:
    """A Scrapy request and response as plain data (Scrapy does not change them once downloaded)."""
    return (WireRequest(request.url, request.method, dict(request.headers), request.body or b""),
            WireResponse(response.url, response.status, dict(response.headers), response.body,
                         tuple(response.flags)))


def page_of(item: Any) -> SimpleNamespace:
    """The item's :data:`PAGE_FIELDS` (what the writer reads of it)."""
    return SimpleNamespace(**{f: getattr(item, f, None) for f in PAGE_FIELDS})


@dataclass(frozen=True)
class PageWritten:
    """What :meth:`EvidenceWriter.write_page` gives back to the reactor."""

    pending: bool  # a flagged listing whose screenshot is still to be taken
    screenshot: tuple[str, str] | None  # (sha256, path) of this very HTML's screenshot, taken before
    server_ip: str  # of the server that answered (from the response's WARC record)


@dataclass(frozen=True)
class ClosedManifest:
    """The closed manifest, for its seal."""

    path: str
    lines: int  # its last record's number
    head: str  # its last record's hash


class EvidenceWriter(CallTarget):
    """A sweep's evidence files, written in the order asked. Not thread-safe: one caller at a time."""

    OPERATIONS = frozenset({"ping", "write_exchange", "write_page", "write_screenshot", "read_html", "close"})
    WHAT = "evidence"

    def __init__(self, config: WriterConfig, open_files: bool = True) -> None:
        self.config = config
        self.root = Path(config.root)
        self.store = EvidenceStore(config.root)
        self.sweep_id = config.sweep_id
        self.warc: Any = None
        self.manifest: Manifest | None = None
        self.counts: Counter[str] = Counter()  # stats to add, taken by whoever runs the writer
        self._closed = False
        # url -> WARC record id of its response, until its item comes
        self._record_ids: OrderedDict[str, str] = OrderedDict()
        # url -> (server IP, certificate SHA-256) of its response, until its item comes
        self._net: OrderedDict[str, tuple[str, str]] = OrderedDict()
        if open_files:
            if config.warc:
                from pipelines.evidence.warc import WarcWriter

                self.warc = WarcWriter(self.root / "warc" / config.sweep_id, config.sweep_id,
                                       gzip_level=config.gzip_level)
            self.manifest = Manifest(manifest_path(self.root, config.sweep_id))

    def durable(self) -> bool:
        """Every write is with the OS when its call returns (files flushed): a killed writer loses none."""
        return True

    # -- operations -----------------------------------------------------------------------
    def ping(self) -> str:
        """The writer's WARC segment ("" without one): an answer once the writer is open."""
        return self.warc.name if self.warc is not None else ""

    def write_exchange(self, request: Any, response: Any, fetched_at: str, ip: str = "", cert: str = "") -> None:
        """The response's WARC records; its record id, server IP and certificate kept for its item."""
        if self.warc is None:
            return
        try:
            rid = self.warc.write_exchange(request, response, fetched_at, ip=ip, cert_sha256=cert)
        except Exception as exc:  # a record that cannot be written must not stop the sweep
            logger.error("WARC record failed for %s: %s", response.url, exc)
            return
        self._record_ids[response.url] = rid
        self._net[response.url] = (ip, cert)
        if len(self._record_ids) > 2_000:  # responses that never become items (robots.txt, errors, redirects)
            self._record_ids.popitem(last=False)
        if len(self._net) > 2_000:
            self._net.popitem(last=False)

    def write_page(self, page: Any, body: bytes, flagged: bool, captured: list[bytes] | None = None) -> PageWritten:
        """The page's HTML, its captured answers, its browser screenshot's WARC record and its manifest line."""
        if body:
            self.store.write_html(page.html_path, body)
        for cap, cap_body in zip(page.captures or (), captured or (), strict=False):
            if cap_body:  # the page's own XHR/fetch answers (crawler.capture), kept like snapshots
                self.store.write_html(cap["path"], cap_body)
        pending, kept = False, None
        if flagged:
            kept = self.store.screenshot_of(page.html_sha256)
            if kept is not None:  # this very HTML was screenshot before (another sweep, a resume)
                page.screenshot_sha256, page.screenshot_path = kept
            else:
                pending = True
        ip = ""
        if self.manifest is not None and page.url:
            ip = self._record(page, pending, captured)
        return PageWritten(pending, kept, ip)

    def write_screenshot(self, png: bytes, url: str, sha: str, path: str, status: int, fetched_at: str,
                         capture: str = "offline", server_ip: str = "") -> None:
        """A flagged listing's screenshot: the PNG, its WARC record, its manifest line."""
        shot_sha, shot_path = self.store.put_screenshot(png, sha)
        if self.warc is not None:
            self.warc.write_resource(f"urn:netsword:screenshot:{url}", png, "image/png", fetched_at)
        if self.manifest is not None:
            self.manifest.write({"sweep_id": self.sweep_id, "url": url, "status": status, "fetched_at": fetched_at,
                                 "kind": "screenshot", "unchanged": False, "rendered": False, "html_sha256": sha,
                                 "html_path": path, "screenshot_sha256": shot_sha, "screenshot_path": shot_path,
                                 "screenshot_pending": False, "capture": capture, "server_ip": server_ip,
                                 "warc": self.warc.name if self.warc is not None else ""})
            self.manifest.flush()

    def read_html(self, path: str) -> bytes:
        """A stored snapshot (after every write asked for before)."""
        return self.store.read_html(path)

    def close(self) -> ClosedManifest | None:
        """Close the WARC segment (its SHA-256 to SHA256SUMS) and the manifest; the manifest for its seal
        (None when there is none, or when closed before)."""
        if self.warc is not None:
            self.warc.close()
        if self.manifest is None or self._closed:
            return None
        self._closed = True
        self.manifest.close()
        return ClosedManifest(str(self.manifest.path), self.manifest.seq, self.manifest.head)

    # -- the manifest ---------------------------------------------------------------------
    def _record(self, item: Any, pending: bool, captured: list[bytes] | None = None) -> str:
        """The item's manifest line (and its browser screenshot's WARC record); the server's IP address."""
        assert self.manifest is not None
        rid = self._record_ids.pop(item.url, "")
        if item.screenshot_path and self.warc is not None:
            try:
                png = (self.root / item.screenshot_path).read_bytes()
                self.warc.write_resource(f"urn:netsword:screenshot:{item.url}", png, "image/png",
                                         item.fetched_at, concurrent_to=rid)
            except OSError as exc:
                logger.warning("screenshot missing for WARC: %s (%s)", item.url, exc)
        entry = {f: getattr(item, f, None) for f in MANIFEST_FIELDS}
        entry["unchanged"] = getattr(item, "kind", "") == "unchanged"
        entry["screenshot_pending"] = pending
        entry["warc"] = self.warc.name if self.warc is not None else ""
        entry["image_sha256"] = entry["image_path"] = None
        entry["server_ip"], entry["cert_sha256"] = self._net.pop(item.url, ("", ""))
        if item.screenshot_path:  # taken by the crawl's browser as it loaded the page
            entry["capture"] = "live"
        self.manifest.write(entry)
        self._record_captures(item, captured or [], entry["warc"], rid)
        for image in getattr(item, "images", None) or ():  # the page's pictures (their WARC records came as fetched)
            if image.get("sha256") and image.get("path"):
                self.manifest.write({"sweep_id": self.sweep_id, "url": image.get("url"), "requested_url": item.url,
                                     "status": 200, "fetched_at": item.fetched_at, "kind": "image",
                                     "unchanged": False, "rendered": False, "image_sha256": image["sha256"],
                                     "image_path": image["path"], "screenshot_pending": False,
                                     "warc": entry["warc"]})
                self._record_ids.pop(image.get("url", ""), None)
        self.manifest.flush()  # to the OS before the item can reach the store
        return entry["server_ip"] or ""

    def _record_captures(self, item: Any, captured: list[bytes], warc: str, rid: str) -> None:
        """The page's captured XHR/fetch answers: a WARC ``resource`` record each (concurrent to the page's
        record) and a manifest line (``kind: capture``, ``requested_url`` the page)."""
        assert self.manifest is not None
        for cap, body in zip(getattr(item, "captures", None) or (), captured, strict=False):
            if self.warc is not None and body:
                try:
                    self.warc.write_resource(cap["url"], body, cap.get("content_type") or "application/json",
                                             cap.get("fetched_at") or item.fetched_at, concurrent_to=rid)
                except Exception as exc:  # a record that cannot be written must not stop the sweep
                    logger.error("WARC record failed for captured %s: %s", cap.get("url"), exc)
            self.manifest.write({"sweep_id": self.sweep_id, "url": cap.get("url"), "requested_url": item.url,
                                 "status": cap.get("status"), "fetched_at": cap.get("fetched_at"), "kind": "capture",
                                 "unchanged": False, "rendered": False, "html_sha256": cap.get("sha256"),
                                 "html_path": cap.get("path"), "screenshot_pending": False, "warc": warc})
            self.counts["evidence/captures"] += 1
