"""One WARC file per sweep (ISO 28500, written with warcio), for what the crawler exchanged.

``EVIDENCE_DIR/warc/<sweep_id>/<sweep_id>-00000.warc.gz`` (gzip per record). A sweep resumed
after a crash continues in the next segment (``-00001`` ...): the killed segment keeps every
record written before the kill and is never appended to. When a segment is closed its
SHA-256 goes into ``SHA256SUMS`` in the same folder.

Records:

* ``warcinfo`` at the start of each segment (software, sweep id);
* ``request`` + ``response`` for every page fetched over HTTP, as received (body still
  compressed if the server compressed it), 304s and errors included;
* for a browser page: ``request`` + ``conversion`` (the rendered DOM, what the browser showed;
  the raw network body is not available through the browser);
* ``resource`` for each screenshot (image/png), ``WARC-Concurrent-To`` its page's record;
* the server's IP address as ``WARC-IP-Address`` of each response, and for https a ``metadata``
  record (``application/warc-fields``: ``certificate-sha256``, ``ip-address``) concurrent to it.

warcio adds ``WARC-Block-Digest`` / ``WARC-Payload-Digest`` (sha1) to every record, checked by
``netsword evidence verify``. Records are deflated at ``gzip_level`` (``EVIDENCE_WARC_GZIP_LEVEL``,
6: within 0.1% of warcio's fixed level 9 on HTML, faster on big pages); payloads compressed
already (PNG screenshots) are stored in their gzip member, not deflated a second time.

The writer is not thread-safe: :class:`~pipelines.evidence.EvidencePipeline` calls it from its
one evidence thread only.
"""

from __future__ import annotations

import io
import logging
import zlib
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from netsword.digests import close_and_hash

logger = logging.getLogger(__name__)

SUMS = "SHA256SUMS"
#: Content types whose payload is compressed already: its gzip member stores it (level 0).
STORED_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


class _Member:
    """One gzip member around one record (what warcio's own wrapper does, at a chosen level)."""

    def __init__(self, out: BinaryIO, level: int) -> None:
        # memLevel 5: a third of the set-up cost of the default 8 (most records are a few KB),
        # the same size on pages of that size
        self.compressor = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16, 5)
        self.out = out

    def write(self, buff: bytes) -> None:
        self.out.write(self.compressor.compress(buff))

    def flush(self) -> None:
        self.out.write(self.compressor.flush())
        self.out.flush()


class _LevelWARCWriter(WARCWriter):
    """warcio's writer (which always deflates at level 9) with the level chosen per record."""

    def __init__(self, out: BinaryIO, level: int) -> None:
        super().__init__(out, gzip=False)
        self.level = level

    def write_record(self, record: Any, params: Any = None, level: int | None = None) -> None:
        self._write_warc_record(_Member(self.out, self.level if level is None else level), record)


def _http_date_to_warc(iso: str) -> str:
    """WARC-Date form of an ISO 8601 UTC time ("2026-11-23T19:11:00+00:00" -> "2026-11-23T19:11:00Z")."""
    return iso.replace("+00:00", "Z") if iso else ""


class WarcWriter:
    """Appends records to the sweep's current WARC segment."""

    def __init__(self, folder: Path | str, sweep_id: str, software: str = "netsword", gzip_level: int = 6) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sweep_id = sweep_id
        n = 0
        while (self.folder / f"{sweep_id}-{n:05d}.warc.gz").exists():
            n += 1
        self.path = self.folder / f"{sweep_id}-{n:05d}.warc.gz"
        self._fh = open(self.path, "xb")  # noqa: SIM115 - kept open for the whole sweep
        self._writer = _LevelWARCWriter(self._fh, gzip_level)
        self.records = 0
        info = self._writer.create_warcinfo_record(self.path.name, {
            "software": software, "format": "WARC File Format 1.1", "isPartOf": sweep_id})
        self._write(info)

    @property
    def name(self) -> str:
        """The segment's path relative to the evidence root's ``warc`` folder."""
        return f"{self.folder.name}/{self.path.name}"

    def _write(self, record: Any, level: int | None = None) -> str:
        self._writer.write_record(record, level=level)
        self.records += 1
        return record.rec_headers.get_header("WARC-Record-ID")

    def write_exchange(self, request: Any, response: Any, fetched_at: str, ip: str = "", cert_sha256: str = "") -> str:
        """``request`` + ``response`` (HTTP) or ``request`` + ``conversion`` (browser) records, the
        server's address as ``WARC-IP-Address``; for https a ``metadata`` record with the server
        certificate's SHA-256 fingerprint. Returns the record id of the response / conversion."""
        date = _http_date_to_warc(fetched_at)
        req_id = self._write(self._request_record(request, date))
        rendered = "playwright" in getattr(response, "flags", ())
        headers = {"WARC-Date": date, "WARC-Concurrent-To": req_id} if date else {"WARC-Concurrent-To": req_id}
        if ip:
            headers["WARC-IP-Address"] = ip
        if rendered:
            headers["WARC-Refers-To-Target-URI"] = request.url
            record = self._writer.create_warc_record(
                response.url, "conversion", payload=io.BytesIO(response.body), length=len(response.body),
                warc_content_type="text/html; charset=utf-8", warc_headers_dict=headers)
        else:
            status = f"{response.status} {_reason(response.status)}"
            http = StatusAndHeaders(status, _header_pairs(response.headers), protocol="HTTP/1.1")
            record = self._writer.create_warc_record(
                response.url, "response", payload=io.BytesIO(response.body), length=len(response.body),
                warc_headers_dict=headers, http_headers=http)
        rid = self._write(record)
        if cert_sha256:
            fields = f"certificate-sha256: {cert_sha256}\r\nip-address: {ip}\r\n".encode()
            meta = {"WARC-Concurrent-To": rid, **({"WARC-Date": date} if date else {})}
            self._write(self._writer.create_warc_record(response.url, "metadata", payload=io.BytesIO(fields),
                                                        length=len(fields), warc_content_type="application/warc-fields",
                                                        warc_headers_dict=meta))
        return rid

    def write_resource(self, url: str, body: bytes, content_type: str, fetched_at: str,
                       concurrent_to: str = "") -> str:
        headers = {"WARC-Date": _http_date_to_warc(fetched_at)} if fetched_at else {}
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        record = self._writer.create_warc_record(url, "resource", payload=io.BytesIO(body), length=len(body),
                                                 warc_content_type=content_type, warc_headers_dict=headers)
        return self._write(record, level=0 if content_type in STORED_TYPES else None)

    def _request_record(self, request: Any, date: str) -> Any:
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pairs = [("Host", parts.netloc)] + [(k, v) for k, v in _header_pairs(request.headers) if k.lower() != "host"]
        http = StatusAndHeaders(f"{request.method} {target} HTTP/1.1", pairs, is_http_request=True)
        body = request.body or b""
        return self._writer.create_warc_record(request.url, "request", payload=io.BytesIO(body), length=len(body),
                                               warc_headers_dict={"WARC-Date": date} if date else {},
                                               http_headers=http)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        """Close the segment and add its SHA-256 to ``SHA256SUMS``."""
        if self._fh.closed:
            return
        digest = close_and_hash(self._fh, self.path)
        with open(self.folder / SUMS, "a", encoding="utf-8") as fh:
            fh.write(f"{digest}  {self.path.name}\n")


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    out = []
    for key, values in headers.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        for value in values if isinstance(values, list) else [values]:
            out.append((name, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return out


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
