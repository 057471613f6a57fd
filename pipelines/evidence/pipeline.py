"""Evidence: what every page showed, when, and proof that the files were not changed since.

Under ``EVIDENCE_DIR``:

* ``html/ab/<sha256>.html.gz`` -- every page body exactly as received (or as the browser
  rendered it), content-addressed: writing the same bytes twice is a no-op;
* ``screenshots/<html sha256>.png`` -- a full-page screenshot of every browser page (taken
  live by :mod:`crawler.browser_pool`) and of every listing that gets a finding: taken live from
  the site in the browser, pictures included (:mod:`pipelines.evidence.live`), or when that fails
  its stored snapshot rendered with scripts and network off (:mod:`pipelines.evidence.render`),
  with a caption bar burned in (how it was taken, URL, Beijing time, sweep id, SHA-256 of the
  HTML: :mod:`pipelines.evidence.caption`); named by the HTML it shows, written once (a later
  render of the same HTML keeps the first picture);
* ``images/ab/<sha256>.<ext>`` -- the pictures of listings and shops (``pipelines.images``), each with a
  manifest line of ``"kind": "image"`` (its URL, ``requested_url`` = the page it is on, hash and path)
  after its page's line; their HTTP exchanges are in the WARC like every response;
* ``warc/<sweep>/<sweep>-00000.warc.gz`` -- the sweep's WARC (:mod:`pipelines.evidence.warc`);
* ``manifests/<sweep>.jsonl`` -- one line per page: url, requested url, status, fetch time
  (UTC), sha256 and path of HTML and screenshot, sweep id, WARC segment, the server's IP address
  and (https) its certificate's SHA-256 fingerprint, how the screenshot was taken (``capture``:
  live / offline); its SHA-256 goes to
  ``manifests/<sweep>.jsonl.sha256`` when the sweep closes. A flagged listing's screenshot is
  rendered in the background while the sweep goes on: its page line says
  ``"screenshot_pending": true`` and a later line of ``"kind": "screenshot"`` (same url and HTML
  hash) gives the picture. A sweep killed before that line is written takes it when resumed.
  The lines are hash-chained (``seq``, ``prev``:
  :mod:`pipelines.evidence.chain`);
* ``manifests/<sweep>.jsonl.seal.json``, ``.sig``, ``.tsr`` -- when the sweep closes, the manifest
  is sealed (:mod:`pipelines.evidence.seal`): a timestamp token over its SHA-256 from the
  configured TSA (``tsa_url``), and the unit's signature (``<home>/keys``) over a statement of its
  hash, record count, chain head and that token. No key or no TSA (or the TSA down): the sweep
  finishes all the same and the record says what is missing and why.

``netsword evidence verify SWEEP`` (:mod:`pipelines.evidence.verify`) re-hashes all of it.

Settings: ``EVIDENCE_DIR``, ``EVIDENCE_WARC`` (True), ``EVIDENCE_WARC_GZIP_LEVEL`` (6),
``EVIDENCE_SCREENSHOTS`` (browser pages, True), ``EVIDENCE_FINDING_SCREENSHOTS`` (True),
``EVIDENCE_RENDER_CONCURRENCY`` (2), ``EVIDENCE_RENDER_BACKLOG`` (200),
``EVIDENCE_RENDER_EXECUTABLE`` (the browser rendering snapshots; default
``chromium-headless-shell`` when installed, else the crawl's Chromium), ``EVIDENCE_RENDER_CDP``
(True: drive it over its DevTools pipe; False: through Playwright), ``EVIDENCE_LIVE_SCREENSHOTS`` (True).
Stats: ``evidence/pages``, ``evidence/finding_screenshots`` (``_live``, ``_offline``),
``evidence/live_screenshot_failed``, ``evidence/screenshot_failed``,
``evidence/manifest_signed``, ``evidence/manifest_stamped``.

Speed: file writes happen in the sweep's evidence writer process (:mod:`pipelines.evidence.worker`,
``EVIDENCE_WRITER``: ``process``, the default, or ``thread``), renders on a render thread with its own
event loop and browser (:mod:`pipelines.evidence.render`); the reactor only hands work over and waits
where an order must hold (an item reaches the store after its evidence is on disk). Hand-overs to the
writer are batched (every 10 ms): one wake-up for many pages' writes, not two per page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from crawler.items import ListingItem
from pipelines.evidence.manifest import manifest_path, read_manifest
from pipelines.evidence.seal import Sealer, seal_file
from pipelines.evidence.worker import EvidenceIO
from pipelines.evidence.writer import ClosedManifest, EvidenceWriter, PageWritten, WriterConfig, page_of, wire
from pipelines.store.files import EvidenceStore

logger = logging.getLogger(__name__)

class EvidencePipeline:
    """Item pipeline: stores page bodies and screenshots, writes the WARC and the manifest.

    The WARC records come from the ``response_downloaded`` signal (every response as it came off
    the wire, also those that yield no item: robots.txt, errors, 304s); screenshots and the
    manifest line are written per item, after the matcher (a listing with findings is
    screenshot here when the browser did not already take one).

    Files are written by the sweep's evidence writer (:class:`~pipelines.evidence.worker.EvidenceIO`:
    a process of its own by default, ``EVIDENCE_WRITER``), in the order they were asked for, so the
    reactor never waits for the disk. An item goes on to the store only once its HTML, its browser
    screenshot's WARC record and its manifest line are written (the writer writes in order, so the
    response's own WARC records, asked for when it was downloaded, are written before that too): a page
    the store has is a page whose evidence is on disk, also after a SIGKILL.
    """

    def __init__(self, root: Path | str, *, warc: bool = True, finding_screenshots: bool = True,
                 render_concurrency: int = 2, render_backlog: int = 200, launch_options: dict[str, Any] | None = None,
                 stats: Any = None, warc_gzip_level: int = 6, render_executable: str = "",
                 render_cdp: bool = True, sealer: Sealer | None = None, live_screenshots: bool = True,
                 writer: str = "process") -> None:
        self.store = EvidenceStore(root)
        self.sealer = sealer  # None: the unit's key and the TSA from netsword.config when the sweep closes
        self.root = Path(root)
        self.warc_enabled = warc
        self.warc_gzip_level = warc_gzip_level
        self.writer_mode = writer
        self.finding_screenshots = finding_screenshots
        self.render_concurrency = render_concurrency
        self.launch_options = launch_options
        self.render_executable = render_executable
        self.render_cdp = render_cdp
        self.live_screenshots = live_screenshots
        self.stats = stats
        self.io: EvidenceIO | None = None
        self.renderer: Any = None
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
                   launch_options=s.getdict("PLAYWRIGHT_LAUNCH_OPTIONS"), stats=crawler.stats,
                   warc_gzip_level=s.getint("EVIDENCE_WARC_GZIP_LEVEL", 6),
                   render_executable=s.get("EVIDENCE_RENDER_EXECUTABLE") or "",
                   render_cdp=s.getbool("EVIDENCE_RENDER_CDP", True),
                   live_screenshots=s.getbool("EVIDENCE_LIVE_SCREENSHOTS", True),
                   writer=s.get("EVIDENCE_WRITER") or "process")
        if pipe.warc_enabled:
            crawler.signals.connect(pipe.response_downloaded, signal=signals.response_downloaded)
        pipe.crawler = crawler
        return pipe

    # -- life cycle -----------------------------------------------------------------------
    def open_spider(self, spider: Any = None) -> None:
        spider = spider or getattr(self.crawler, "spider", None)  # Scrapy 2.19 passes no spider here
        # a worker of a distributed sweep keeps its own part (<sweep>.<worker>): one writer per hash chain
        self.sweep_id = getattr(spider, "evidence_part", "") or getattr(spider, "sweep_id", "") or "sweep"
        config = WriterConfig(str(self.root), self.sweep_id, warc=self.warc_enabled, gzip_level=self.warc_gzip_level)
        self.io = EvidenceIO(config, self.writer_mode, on_counts=self._add_counts)  # opens the WARC and manifest
        pending = self._pending_screenshots() if self.finding_screenshots else {}
        if pending:  # a resumed sweep
            task = asyncio.ensure_future(self._catch_up(pending))
            self._shots.add(task)
            task.add_done_callback(self._shots.discard)

    async def close_spider(self, spider: Any = None) -> None:
        while self._shots:  # the renders still running
            await asyncio.gather(*list(self._shots))
        if self.renderer is not None:
            await self.renderer.close()
            self.renderer = None
        if self.io is not None:
            closed = await self.io.run("close")  # after every write asked for before (one writer, in order)
            if closed is not None:
                await asyncio.wrap_future(self.io.run_local(self._seal_manifest, closed))
            self.io.shutdown()
            self.io = None

    def _seal_manifest(self, manifest: ClosedManifest) -> None:
        """(evidence thread) Sign and time-stamp the closed manifest; a failure is said, never fatal."""
        name = Path(manifest.path).name
        try:
            sealer = self.sealer or Sealer.from_config()
            record = seal_file(Path(manifest.path), sealer, kind="sweep manifest", extra={
                "sweep_id": self.sweep_id, "lines": manifest.lines, "chain_head": manifest.head,
                "environment": self._environment()})
        except Exception as exc:  # the sweep's evidence is on disk; its seal can be made again (evidence stamp)
            logger.error("sealing manifest %s failed: %s", name, exc, exc_info=exc)
            return
        signature, stamp = record["signature"], record["timestamp"]
        if signature["status"] == "signed":
            self._inc("evidence/manifest_signed")
        else:
            logger.warning("manifest %s not signed: %s", name, signature.get("reason"))
        if stamp["status"] == "stamped":
            self._inc("evidence/manifest_stamped")
        elif stamp["status"] == "missing":
            logger.warning("manifest %s has no trusted timestamp: %s (netsword evidence stamp %s fetches one later)",
                           name, stamp.get("reason"), self.sweep_id)

    def _environment(self) -> dict[str, Any]:
        """(evidence thread) The capture environment the seal states (:mod:`pipelines.evidence.environment`)."""
        from crawler.browser import find_chromium
        from netsword.config import current
        from pipelines.evidence.environment import capture_environment

        exe = (self.launch_options or {}).get("executable_path") or find_chromium()
        return capture_environment(exe, current().exit_ip)

    async def _run(self, op: str, *args: Any) -> Any:
        """The writer's operation ``op(*args)``, after everything asked of it before."""
        if self.io is None:  # not opened (a pipeline used on its own): snapshots only, written here
            return EvidenceWriter(WriterConfig(str(self.root), self.sweep_id), open_files=False).call(op, args)
        return await self.io.run(op, *args)

    # -- WARC -----------------------------------------------------------------------------
    def response_downloaded(self, response: Any, request: Any, spider: Any = None) -> None:
        if self.io is None or not self.warc_enabled:
            return
        from crawler.middlewares import utc_now

        ip, cert = server_identity(response)
        self.io.submit("write_exchange", *wire(request, response), utc_now(), ip, cert)

    # -- items ----------------------------------------------------------------------------
    async def process_item(self, item: Any, spider: Any = None) -> Any:
        body = getattr(item, "html", b"")
        item.html = b""
        captured = [cap.pop("body", b"") for cap in getattr(item, "captures", None) or ()]
        if body and not item.html_sha256:  # an item not built by the spider (which hashes the body it got)
            item.html_sha256, item.html_path = self.store.address(body)
        flagged = bool(body and self.finding_screenshots and isinstance(item, ListingItem) and item.findings
                       and not item.screenshot_path and item.status < 400)
        done: PageWritten = await self._run("write_page", page_of(item), body, flagged, captured)
        if done.screenshot is not None:  # this very HTML was screenshot before (another sweep, a resume)
            item.screenshot_sha256, item.screenshot_path = done.screenshot
        if self.io is not None and getattr(item, "url", ""):
            self._inc("evidence/pages")
        if done.pending:
            await self._queue_screenshot(item.url, item.html_sha256, item.html_path, item.status, item.fetched_at,
                                         done.server_ip)
        return item

    # -- screenshots of flagged listings (background) -------------------------------------
    async def _queue_screenshot(self, url: str, sha: str, path: str, status: int, fetched_at: str,
                                ip: str = "") -> None:
        """Render in the background; wait only when too many renders are behind (memory stays bounded)."""
        while len(self._shots) >= self.render_backlog:
            await asyncio.wait(self._shots, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.ensure_future(self._screenshot(url, sha, path, status, fetched_at, ip))
        self._shots.add(task)
        task.add_done_callback(self._shots.discard)
    def _ensure_renderer(self) -> Any:
        """The render thread, started on the first flagged listing (no browser for sweeps without)."""
        if self.renderer is None:
            from crawler.browser import snapshot_launch_options
            from pipelines.evidence.render import RenderThread

            options = snapshot_launch_options(self.launch_options, self.render_executable)
            self.renderer = RenderThread(options, concurrency=self.render_concurrency,
                                         fallback_options=self.launch_options or None, cdp=self.render_cdp,
                                         live_options=dict(self.launch_options or {}))
        return self.renderer

    async def _screenshot(self, url: str, sha: str, path: str, status: int, fetched_at: str, ip: str = "") -> None:
        """A flagged listing's screenshot: live from the site (:mod:`.live`), else the offline re-render
        of its stored HTML; either with its caption bar (:mod:`.caption`). All on the render thread."""
        from pipelines.evidence.caption import LIVE, OFFLINE, Caption

        renderer = self._ensure_renderer()
        t0 = time.monotonic()
        capture, server_ip = LIVE, ip
        try:
            if not self.live_screenshots:
                raise RuntimeError("live screenshots off (EVIDENCE_LIVE_SCREENSHOTS)")
            png, server_ip = await renderer.live(url, Caption(url, self.sweep_id, sha, fetched_at, server_ip=ip))
        except Exception as live_exc:  # the site is down, the listing gone, a timeout: the offline re-render
            if self.live_screenshots:
                logger.info("live screenshot failed, re-rendering the stored HTML: %s (%s)", url,
                            str(live_exc).splitlines()[0][:200] if str(live_exc) else type(live_exc).__name__)
                self._inc("evidence/live_screenshot_failed")
            capture = OFFLINE
            try:
                html = await self._run("read_html", path)
                png = await renderer.offline(html, url, Caption(url, self.sweep_id, sha, fetched_at, kind=OFFLINE,
                                                                server_ip=ip))
            except Exception as exc:  # the finding stands without its picture; say so (a resume retries it)
                logger.warning("finding screenshot failed: %s (%s)", url, str(exc).splitlines()[0][:200])
                self._inc("evidence/screenshot_failed")
                return
        await self._run("write_screenshot", png, url, sha, path, status, fetched_at, capture, server_ip or ip)
        self._inc("evidence/finding_screenshots")
        self._inc(f"evidence/finding_screenshots_{capture}")
        self._inc("evidence/finding_screenshot_seconds", round(time.monotonic() - t0, 3))

    def _pending_screenshots(self) -> dict[str, dict[str, Any]]:
        """Screenshots a killed run of this sweep left pending (html sha256 -> its manifest line)."""
        pending: dict[str, dict[str, Any]] = {}
        path = manifest_path(self.root, self.sweep_id)
        if not path.is_file() or not path.stat().st_size:
            return pending
        for entry in read_manifest(path):
            if entry.get("kind") == "screenshot":
                pending.pop(entry.get("html_sha256", ""), None)
            elif entry.get("screenshot_pending"):
                pending[entry["html_sha256"]] = entry
        return pending

    async def _catch_up(self, pending: dict[str, dict[str, Any]]) -> None:
        """Render the screenshots a killed run of this sweep left pending."""
        for sha, e in pending.items():
            self._inc("evidence/screenshots_caught_up")
            await self._queue_screenshot(e["url"], sha, e["html_path"], e.get("status") or 200, e.get("fetched_at", ""),
                                         e.get("server_ip") or "")

    def _add_counts(self, counts: dict[str, int]) -> None:
        for key, n in counts.items():
            self._inc(key, n)

    def _inc(self, key: str, n: int | float = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)


def server_identity(response: Any) -> tuple[str, str]:
    """(IP address of the server that answered, SHA-256 fingerprint of its TLS certificate) -- "" where unknown."""
    ip = getattr(response, "ip_address", None)
    cert = getattr(response, "certificate", None)
    fingerprint = ""
    if cert is not None:
        try:
            from cryptography.hazmat.primitives import hashes

            fingerprint = cert.original.to_cryptography().fingerprint(hashes.SHA256()).hex()
        except Exception as exc:  # a certificate object of another shape: the page is kept without it
            logger.debug("no certificate fingerprint for %s: %s", getattr(response, "url", ""), exc)
    return (str(ip) if ip else ""), fingerprint
