"""WACZ: a sweep's (or some pages') WARC records as one Web Archive Collection Zipped file.

WACZ 1.1.1 (Webrecorder's format, what Browsertrix and ArchiveWeb.page write and ReplayWeb.page
replays) is a zip of ``archive/*.warc.gz`` (the WARC records, stored), ``indexes/index.cdx.gz``
(the CDXJ index: URL, time, which WARC, at what offset), ``pages/pages.jsonl`` (the pages a
reader starts from) and ``datapackage.json`` (every file's SHA-256) with its own digest
``datapackage-digest.json``. :func:`write_wacz` has Webrecorder's own ``wacz`` package (PyPI)
build it from the sweep's WARC segments; :func:`validate_wacz` runs that package's validator.

A WACZ of some pages only (a lead's listings and shop) is made from a WARC holding just their
records (request, response or conversion, and the screenshot resources), copied record by
record from the sweeps' segments: the records are the very bytes the sweep wrote (their
``WARC-Block-Digest`` still holds), only the segment around them is new.

:func:`read_archived` replays from a WACZ: it looks the URL up in the CDXJ index and reads that
record back out of the WARC inside the zip (what a replay tool does), for the console's sandboxed
view.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netsword.digests import sha256_file

#: record types a reader replays (the request records go along with them)
REPLAYED = ("response", "resource", "conversion", "revisit")


@dataclass
class WaczSummary:
    path: str
    warcs: list[str]
    pages: int
    records: int
    sha256: str = ""
    missing: list[str] = field(default_factory=list)  # URLs asked for but in no WARC


@dataclass
class ArchivedPage:
    url: str
    timestamp: str  # 14 digits, UTC
    status: int
    content_type: str
    body: bytes
    record_type: str


def sweep_warcs(evidence_root: Path | str, sweep_ids: Iterable[str]) -> list[Path]:
    """Every WARC segment of these sweeps (``warc/<sweep>/<sweep>-NNNNN.warc.gz``), in order."""
    out: list[Path] = []
    for sweep in sweep_ids:
        out += sorted((Path(evidence_root) / "warc" / sweep).glob(f"{sweep}-*.warc.gz"))
    return out


def _page_entries(evidence_root: Path | str, sweep_ids: Iterable[str],
                  urls: set[str] | None) -> list[dict[str, Any]]:
    """pages.jsonl lines from the sweeps' manifests: each page kept (status < 400), first fetch of a URL."""
    from .manifest import manifest_path, read_manifest

    pages: dict[str, dict[str, Any]] = {}
    for sweep in sweep_ids:
        path = manifest_path(evidence_root, sweep)
        if not path.is_file():
            continue
        for e in read_manifest(path):
            url = e.get("url") or ""
            if not url or e.get("kind") == "screenshot" or (e.get("status") or 0) >= 400 or e.get("unchanged"):
                continue
            if urls is not None and url not in urls:
                continue
            pages.setdefault(url, {"url": url, "ts": (e.get("fetched_at") or "").replace("+00:00", "Z"),
                                   "title": url})
    return list(pages.values())


def write_filtered_warc(sources: Sequence[Path], urls: set[str], out: Path) -> tuple[int, set[str]]:
    """Copy the records about ``urls`` (their pages and screenshots, and the requests) from ``sources``
    into the WARC ``out``, byte for byte; returns (records copied, URLs found)."""
    from warcio.archiveiterator import ArchiveIterator

    shots = {f"urn:netsword:screenshot:{u}" for u in urls}
    copied, found = 0, set()
    with open(out, "wb") as dst:
        for src in sources:
            with open(src, "rb") as fh:
                it = ArchiveIterator(fh)
                for record in it:
                    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                    keep = record.rec_type == "warcinfo" or uri in urls or uri in shots
                    if not keep:
                        continue
                    if record.rec_type == "warcinfo" and copied:
                        continue  # one warcinfo (the first segment's) is enough
                    record.content_stream().read()  # read to its end: the iterator then knows its length
                    start = it.get_record_offset()
                    length = it.get_record_length()
                    pos = fh.tell()
                    fh.seek(start)
                    dst.write(fh.read(length))
                    fh.seek(pos)
                    copied += 1
                    if uri in urls and record.rec_type in REPLAYED:
                        found.add(uri)
    return copied, found


def write_wacz(evidence_root: Path | str, sweep_ids: Sequence[str], out: Path | str, *,
               urls: Iterable[str] | None = None, title: str = "", description: str = "") -> WaczSummary:
    """Write the WACZ of ``sweep_ids`` (only the records of ``urls`` when given) to ``out``, with
    Webrecorder's ``wacz`` package; raises ``ValueError`` when there is nothing to package."""
    from wacz.main import main as wacz_main

    out = Path(out)
    wanted = set(urls) if urls is not None else None
    warcs = sweep_warcs(evidence_root, sweep_ids)
    if not warcs:
        raise ValueError(f"没有 WARC 文件 / no WARC files for sweep(s) {', '.join(sweep_ids)} under {evidence_root}")
    pages = _page_entries(evidence_root, sweep_ids, wanted)
    summary = WaczSummary(str(out), [], len(pages), 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netsword-wacz-") as d:
        inputs = [str(p) for p in warcs]
        if wanted is not None:
            name = Path(d) / f"{_safe(title or 'pages')}.warc.gz"
            summary.records, found = write_filtered_warc(warcs, wanted, name)
            summary.missing = sorted(wanted - found)
            if not found:
                raise ValueError("这些网页不在任何 WARC 中 / none of these pages is in a WARC: "
                                 + ", ".join(sorted(wanted)[:5]))
            inputs = [str(name)]
            pages = [p for p in pages if p["url"] in found]
        summary.warcs = [Path(p).name for p in inputs]
        pages_file = Path(d) / "pages.jsonl"
        header = {"format": "json-pages-1.0", "id": "pages", "title": title or "netsword"}
        pages_file.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [header, *pages]) + "\n",
                              encoding="utf-8")
        tmp = out.with_name(f".{out.name}.tmp")
        args = ["create", "-o", str(tmp), "--hash-type", "sha256", "-p", str(pages_file)]
        if title:
            args += ["--title", title]
        if description:
            args += ["--desc", description]
        with contextlib.redirect_stdout(io.StringIO()) as said:
            status = wacz_main([*args, *inputs])
        if status not in (0, None) or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            raise ValueError(f"wacz create failed: {said.getvalue().strip()[-500:]}")
        tmp.replace(out)
    summary.sha256 = sha256_file(out)
    return summary


def _safe(name: str) -> str:
    return "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "-" for c in name)[:80].strip("-") or "pages"


def validate_wacz(path: Path | str) -> tuple[bool, str]:
    """Webrecorder's validator (``wacz validate``): (valid, what it said)."""
    from wacz.main import main as wacz_main

    with contextlib.redirect_stdout(io.StringIO()) as said:
        try:
            status = wacz_main(["validate", "-f", str(path)])
        except Exception as exc:  # a zip that is not one: the validator raises
            return False, f"{type(exc).__name__}: {exc}"
    return status == 0, said.getvalue().strip()


def cdxj_lines(zf: zipfile.ZipFile) -> list[tuple[str, str, dict[str, Any]]]:
    """The WACZ's CDXJ index: (urlkey, timestamp, fields) per line."""
    names = set(zf.namelist())
    if "indexes/index.cdx.gz" in names:
        text = gzip.decompress(zf.read("indexes/index.cdx.gz")).decode("utf-8")
    elif "indexes/index.cdxj" in names:
        text = zf.read("indexes/index.cdxj").decode("utf-8")
    else:
        return []
    out = []
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        ts, _, data = rest.partition(" ")
        try:
            out.append((key, ts, json.loads(data)))
        except ValueError:
            continue
    return out


def archived_urls(path: Path | str) -> list[str]:
    """The URLs the WACZ's index can replay (pages and screenshots)."""
    with zipfile.ZipFile(path) as zf:
        return sorted({f.get("url", "") for _k, _t, f in cdxj_lines(zf) if f.get("url")})


def archived_captures(path: Path | str, url: str) -> list[ArchivedPage]:
    """Every archived response for ``url`` (oldest first), each found through the CDXJ index and read from
    the WARC in the WACZ."""
    with zipfile.ZipFile(path) as zf:
        hits = sorted(((ts, f) for _k, ts, f in cdxj_lines(zf) if f.get("url") == url and f.get("filename")
                       and "offset" in f and "length" in f and f.get("mime") != "warc/request"),
                      key=lambda h: h[0])
        out = []
        for ts, f in hits:
            with zf.open(f"archive/{f['filename']}") as fh:
                fh.seek(int(f["offset"]))
                page = _record_page(fh.read(int(f["length"])), url, ts)
            if page is not None:
                out.append(page)
    return out


def read_archived(path: Path | str, url: str) -> ArchivedPage | None:
    """The latest archived response for ``url`` (what a replay shows); None when the WACZ has none."""
    captures = archived_captures(path, url)
    return captures[-1] if captures else None


def _record_page(data: bytes, url: str, ts: str) -> ArchivedPage | None:
    from warcio.archiveiterator import ArchiveIterator

    for record in ArchiveIterator(io.BytesIO(data)):
        body = record.content_stream().read()
        status = 200
        ctype = record.rec_headers.get_header("Content-Type") or ""
        if record.http_headers is not None and record.rec_type in ("response", "revisit"):
            status = int(record.http_headers.get_statuscode() or 200)
            ctype = record.http_headers.get_header("Content-Type") or ""
        return ArchivedPage(url, ts, status, ctype, body, record.rec_type)
    return None
