"""Evidence: what every page showed, when, and proof that the files were not changed since.

Under ``EVIDENCE_DIR``:

* ``html/ab/<sha256>.html.gz`` -- every page body exactly as received (or as the browser
  rendered it), content-addressed: writing the same bytes twice is a no-op;
* ``screenshots/<html sha256>.png`` -- a full-page screenshot of every browser page (taken
  live by :mod:`crawler.browser_pool`) and of every listing that gets a finding (its stored
  snapshot rendered with scripts and network off, :mod:`pipelines.evidence_render`); named by
  the HTML it shows, written once (a later render of the same HTML keeps the first picture);
* ``warc/<sweep>/<sweep>-00000.warc.gz`` -- the sweep's WARC (:mod:`pipelines.evidence_warc`);
* ``manifests/<sweep>.jsonl`` -- one line per page: url, requested url, status, fetch time
  (UTC), sha256 and path of HTML and screenshot, sweep id, WARC segment; its SHA-256 goes to
  ``manifests/<sweep>.jsonl.sha256`` when the sweep closes. A flagged listing's screenshot is
  rendered in the background while the sweep goes on: its page line says
  ``"screenshot_pending": true`` and a later line of ``"kind": "screenshot"`` (same url and HTML
  hash) gives the picture. A sweep killed before that line is written renders it when resumed
  (the picture depends on the stored HTML only).

``netsword evidence verify SWEEP`` (:mod:`pipelines.evidence_verify`) re-hashes all of it.

Settings: ``EVIDENCE_DIR``, ``EVIDENCE_WARC`` (True), ``EVIDENCE_SCREENSHOTS`` (browser pages,
True), ``EVIDENCE_FINDING_SCREENSHOTS`` (True), ``EVIDENCE_RENDER_CONCURRENCY`` (2).
Stats: ``evidence/pages``, ``evidence/finding_screenshots``, ``evidence/screenshot_failed``.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from crawler.items import ListingItem

logger = logging.getLogger(__name__)

#: The fields of a manifest line, in order.
MANIFEST_FIELDS = ("sweep_id", "url", "requested_url", "status", "fetched_at", "rendered", "kind", "unchanged",
                   "html_sha256", "html_path", "screenshot_sha256", "screenshot_path", "screenshot_pending", "warc")


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
            self._write_atomic(path, gzip.compress(body, compresslevel=5, mtime=0))
        return digest, rel

    def put_screenshot(self, png: bytes, html_sha256: str) -> tuple[str, str]:
        """Store the screenshot of the page whose HTML hash is ``html_sha256``; returns (sha256 of the
        PNG kept, its path). The first screenshot of an HTML stays: files are never rewritten."""
        rel = f"screenshots/{html_sha256}.png"
        path = self.root / rel
        if path.exists():
            return hashlib.sha256(path.read_bytes()).hexdigest(), rel
        self._write_atomic(path, png)
        return hashlib.sha256(png).hexdigest(), rel

    def screenshot_of(self, html_sha256: str) -> tuple[str, str] | None:
        """(sha256, path) of the screenshot kept for this HTML, if any."""
        rel = f"screenshots/{html_sha256}.png"
        path = self.root / rel
        return (hashlib.sha256(path.read_bytes()).hexdigest(), rel) if path.is_file() else None

    def read_html(self, rel: str) -> bytes:
        with gzip.open(self.root / rel, "rb") as fh:
            return fh.read()

    def _write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: a crash never leaves half a file under the real name


class Manifest:
    """The sweep's JSON-lines manifest, appended to (also across a resumed sweep)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_line(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the whole sweep
        self.lines = 0

    def write(self, entry: dict[str, Any]) -> None:
        self._fh.write(json.dumps({k: entry.get(k) for k in MANIFEST_FIELDS}, ensure_ascii=False) + "\n")
        self.lines += 1

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if self._fh.closed:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        Path(f"{self.path}.sha256").write_text(f"{digest}  {self.path.name}\n", encoding="utf-8")


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


class EvidencePipeline:
    """Item pipeline: stores page bodies and screenshots, writes the WARC and the manifest.

    The WARC records come from the ``response_downloaded`` signal (every response as it came off
    the wire, also those that yield no item: robots.txt, errors, 304s); screenshots and the
    manifest line are written per item, after the matcher (a listing with findings is
    screenshot here when the browser did not already take one).
    """

    def __init__(self, root: Path | str, *, warc: bool = True, finding_screenshots: bool = True,
                 render_concurrency: int = 2, render_backlog: int = 200, launch_options: dict[str, Any] | None = None,
                 stats: Any = None) -> None:
        self.store = EvidenceStore(root)
        self.root = Path(root)
        self.warc_enabled = warc
        self.finding_screenshots = finding_screenshots
        self.render_concurrency = render_concurrency
        self.launch_options = launch_options
        self.stats = stats
        self.warc: Any = None
        self.manifest: Manifest | None = None
        self.renderer: Any = None
        self._record_ids: OrderedDict[str, str] = OrderedDict()  # url -> WARC record id, until its item comes
        self._shots: set[asyncio.Future[Any]] = set()  # screenshots being rendered
        self.render_backlog = render_backlog
        self.sweep_id = ""
        self.crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> EvidencePipeline:
        from scrapy import signals

        s = crawler.settings
        pipe = cls(s.get("EVIDENCE_DIR"), warc=s.getbool("EVIDENCE_WARC", True),
                   finding_screenshots=s.getbool("EVIDENCE_FINDING_SCREENSHOTS", True),
                   render_concurrency=s.getint("EVIDENCE_RENDER_CONCURRENCY", 2),
                   render_backlog=s.getint("EVIDENCE_RENDER_BACKLOG", 200),
                   launch_options=s.getdict("PLAYWRIGHT_LAUNCH_OPTIONS"), stats=crawler.stats)
        if pipe.warc_enabled:
            crawler.signals.connect(pipe.response_downloaded, signal=signals.response_downloaded)
        pipe.crawler = crawler
        return pipe

    # -- life cycle -----------------------------------------------------------------------
    def open_spider(self, spider: Any = None) -> None:
        spider = spider or getattr(self.crawler, "spider", None)  # Scrapy 2.19 passes no spider here
        sweep_id = getattr(spider, "sweep_id", "") or "sweep"
        if self.warc_enabled:
            from pipelines.evidence_warc import WarcWriter

            self.warc = WarcWriter(self.root / "warc" / sweep_id, sweep_id)
        self.sweep_id = sweep_id
        self.manifest = Manifest(manifest_path(self.root, sweep_id))
        if self.finding_screenshots and self.manifest.path.stat().st_size:
            task = asyncio.ensure_future(self._catch_up())  # a resumed sweep
            self._shots.add(task)
            task.add_done_callback(self._shots.discard)

    async def close_spider(self, spider: Any = None) -> None:
        while self._shots:  # the renders still running
            await asyncio.gather(*list(self._shots))
        if self.renderer is not None:
            await self.renderer.close()
            self.renderer = None
        if self.warc is not None:
            self.warc.close()
        if self.manifest is not None:
            self.manifest.close()

    # -- WARC -----------------------------------------------------------------------------
    def response_downloaded(self, response: Any, request: Any, spider: Any = None) -> None:
        if self.warc is None:
            return
        from crawler.middlewares import utc_now

        try:
            rid = self.warc.write_exchange(request, response, utc_now())
        except Exception as exc:  # a record that cannot be written must not stop the sweep
            logger.error("WARC record failed for %s: %s", response.url, exc)
            return
        self._record_ids[response.url] = rid
        if len(self._record_ids) > 2_000:  # responses that never become items (robots.txt, errors, redirects)
            self._record_ids.popitem(last=False)

    # -- items ----------------------------------------------------------------------------
    async def process_item(self, item: Any, spider: Any = None) -> Any:
        body = getattr(item, "html", b"")
        if body:
            item.html_sha256, item.html_path = self.store.put_html(body)
            for finding in getattr(item, "findings", ()):
                finding.snapshot_sha256 = item.html_sha256
        item.html = b""
        pending = False
        if body and self.finding_screenshots and isinstance(item, ListingItem) and item.findings \
                and not item.screenshot_path and item.status < 400:
            kept = self.store.screenshot_of(item.html_sha256)
            if kept is not None:  # this very HTML was screenshot before (another sweep, a resume)
                item.screenshot_sha256, item.screenshot_path = kept
            else:
                pending = True
        if self.manifest is not None and getattr(item, "url", ""):
            self._record(item, pending)
        if pending:
            await self._queue_screenshot(item.url, item.html_sha256, item.html_path, item.status, item.fetched_at)
        return item

    # -- screenshots of flagged listings (background) -------------------------------------
    async def _queue_screenshot(self, url: str, sha: str, path: str, status: int, fetched_at: str) -> None:
        """Render in the background; wait only when too many renders are behind (memory stays bounded)."""
        while len(self._shots) >= self.render_backlog:
            await asyncio.wait(self._shots, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.ensure_future(self._screenshot(url, sha, path, status, fetched_at))
        self._shots.add(task)
        task.add_done_callback(self._shots.discard)

    async def _screenshot(self, url: str, sha: str, path: str, status: int, fetched_at: str) -> None:
        if self.renderer is None:
            from pipelines.evidence_render import SnapshotRenderer

            self.renderer = SnapshotRenderer(self.launch_options, concurrency=self.render_concurrency)
        t0 = time.monotonic()
        try:
            png = await self.renderer.screenshot(self.store.read_html(path), url)
        except Exception as exc:  # the finding stands without its picture; say so (a resume retries it)
            logger.warning("finding screenshot failed: %s (%s)", url, str(exc).splitlines()[0][:200])
            self._inc("evidence/screenshot_failed")
            return
        shot_sha, shot_path = self.store.put_screenshot(png, sha)
        self._inc("evidence/finding_screenshots")
        self._inc("evidence/finding_screenshot_seconds", round(time.monotonic() - t0, 3))
        if self.warc is not None:
            self.warc.write_resource(f"urn:netsword:screenshot:{url}", png, "image/png", fetched_at)
        if self.manifest is not None:
            self.manifest.write({"sweep_id": self.sweep_id, "url": url, "status": status, "fetched_at": fetched_at,
                                 "kind": "screenshot", "unchanged": False, "rendered": False, "html_sha256": sha,
                                 "html_path": path, "screenshot_sha256": shot_sha, "screenshot_path": shot_path,
                                 "screenshot_pending": False,
                                 "warc": self.warc.name if self.warc is not None else ""})

    async def _catch_up(self) -> None:
        """Screenshots a killed run of this sweep left pending: render them now."""
        assert self.manifest is not None
        pending: dict[str, dict[str, Any]] = {}
        for entry in read_manifest(self.manifest.path):
            if entry.get("kind") == "screenshot":
                pending.pop(entry.get("html_sha256", ""), None)
            elif entry.get("screenshot_pending"):
                pending[entry["html_sha256"]] = entry
        for sha, e in pending.items():
            self._inc("evidence/screenshots_caught_up")
            await self._queue_screenshot(e["url"], sha, e["html_path"], e.get("status") or 200, e.get("fetched_at", ""))

    def _record(self, item: Any, pending: bool = False) -> None:
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
        self.manifest.write(entry)
        self._inc("evidence/pages")

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)
