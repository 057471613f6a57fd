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

Speed: file writes happen on one evidence thread (:mod:`pipelines.evidence.worker`), renders on a
render thread with its own event loop and browser (:mod:`pipelines.evidence.render`); the
reactor only hands work over and waits where an order must hold (an item reaches the store
after its evidence is on disk). Hand-overs to the evidence thread are batched (every 10 ms): one
wake-up of the thread for many pages' writes, not two per page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from crawler.items import ListingItem
from pipelines.evidence.manifest import MANIFEST_FIELDS, Manifest, manifest_path, read_manifest
from pipelines.evidence.seal import Sealer, seal_file
from pipelines.evidence.worker import EvidenceIO
from pipelines.store.files import EvidenceStore

T = TypeVar("T")

logger = logging.getLogger(__name__)

class EvidencePipeline:
    """Item pipeline: stores page bodies and screenshots, writes the WARC and the manifest.

    The WARC records come from the ``response_downloaded`` signal (every response as it came off
    the wire, also those that yield no item: robots.txt, errors, 304s); screenshots and the
    manifest line are written per item, after the matcher (a listing with findings is
    screenshot here when the browser did not already take one).

    Files are written by one evidence thread (:class:`~pipelines.evidence.worker.EvidenceIO`), in the
    order they were asked for, so the reactor never waits for the disk (gzip and file writes
    release the GIL). An item goes on to the store only once its HTML, its browser screenshot's
    WARC record and its manifest line are written (the thread writes in order, so the response's
    own WARC records, asked for when it was downloaded, are written before that too): a page the
    store has is a page whose evidence is on disk, also after a SIGKILL.
    """

    def __init__(self, root: Path | str, *, warc: bool = True, finding_screenshots: bool = True,
                 render_concurrency: int = 2, render_backlog: int = 200, launch_options: dict[str, Any] | None = None,
                 stats: Any = None, warc_gzip_level: int = 6, render_executable: str = "",
                 render_cdp: bool = True, sealer: Sealer | None = None, live_screenshots: bool = True) -> None:
        self.store = EvidenceStore(root)
        self.sealer = sealer  # None: the unit's key and the TSA from netsword.config when the sweep closes
        self.root = Path(root)
        self.warc_enabled = warc
        self.warc_gzip_level = warc_gzip_level
        self.finding_screenshots = finding_screenshots
        self.render_concurrency = render_concurrency
        self.launch_options = launch_options
        self.render_executable = render_executable
        self.render_cdp = render_cdp
        self.live_screenshots = live_screenshots
        self.stats = stats
        self.io: EvidenceIO | None = None
        self.warc: Any = None
        self.manifest: Manifest | None = None
        self.renderer: Any = None
        # url -> WARC record id of its response, until its item comes (evidence thread only)
        self._record_ids: OrderedDict[str, str] = OrderedDict()
        # url -> (server IP, certificate SHA-256) of its response, until its item comes (evidence thread only)
        self._net: OrderedDict[str, tuple[str, str]] = OrderedDict()
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
                   live_screenshots=s.getbool("EVIDENCE_LIVE_SCREENSHOTS", True))
        if pipe.warc_enabled:
            crawler.signals.connect(pipe.response_downloaded, signal=signals.response_downloaded)
        pipe.crawler = crawler
        return pipe

    # -- life cycle -----------------------------------------------------------------------
    def open_spider(self, spider: Any = None) -> None:
        spider = spider or getattr(self.crawler, "spider", None)  # Scrapy 2.19 passes no spider here
        # a worker of a distributed sweep keeps its own part (<sweep>.<worker>): one writer per hash chain
        sweep_id = getattr(spider, "evidence_part", "") or getattr(spider, "sweep_id", "") or "sweep"
        if self.warc_enabled:
            from pipelines.evidence.warc import WarcWriter

            self.warc = WarcWriter(self.root / "warc" / sweep_id, sweep_id, gzip_level=self.warc_gzip_level)
        self.sweep_id = sweep_id
        self.manifest = Manifest(manifest_path(self.root, sweep_id))
        pending = self._pending_screenshots() if self.finding_screenshots else {}
        self.io = EvidenceIO()
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
        await self._run(self._close_files)  # after every write asked for before (one thread, in order)
        if self.io is not None:
            self.io.shutdown()
            self.io = None

    def _close_files(self) -> None:
        if self.warc is not None:
            self.warc.close()
        if self.manifest is not None:
            self.manifest.close()
            self._seal_manifest(self.manifest)

    def _seal_manifest(self, manifest: Manifest) -> None:
        """(evidence thread) Sign and time-stamp the closed manifest; a failure is said, never fatal."""
        try:
            sealer = self.sealer or Sealer.from_config()
            record = seal_file(manifest.path, sealer, kind="sweep manifest", extra={
                "sweep_id": self.sweep_id, "lines": manifest.seq, "chain_head": manifest.head,
                "environment": self._environment()})
        except Exception as exc:  # the sweep's evidence is on disk; its seal can be made again (evidence stamp)
            logger.error("sealing manifest %s failed: %s", manifest.path.name, exc, exc_info=exc)
            return
        signature, stamp = record["signature"], record["timestamp"]
        if signature["status"] == "signed":
            self._inc("evidence/manifest_signed")
        else:
            logger.warning("manifest %s not signed: %s", manifest.path.name, signature.get("reason"))
        if stamp["status"] == "stamped":
            self._inc("evidence/manifest_stamped")
        elif stamp["status"] == "missing":
            logger.warning("manifest %s has no trusted timestamp: %s (netsword evidence stamp %s fetches one later)",
                           manifest.path.name, stamp.get("reason"), self.sweep_id)

    def _environment(self) -> dict[str, Any]:
        """(evidence thread) The capture environment the seal states (:mod:`pipelines.evidence.environment`)."""
        from crawler.browser import find_chromium
        from netsword.config import current
        from pipelines.evidence.environment import capture_environment

        exe = (self.launch_options or {}).get("executable_path") or find_chromium()
        return capture_environment(exe, current().exit_ip)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the evidence thread, after everything asked of it before."""
        if self.io is None:  # not opened (a pipeline used on its own): write here
            return fn(*args)
        return await self.io.run(fn, *args)

    # -- WARC -----------------------------------------------------------------------------
    def response_downloaded(self, response: Any, request: Any, spider: Any = None) -> None:
        if self.warc is None:
            return
        from crawler.middlewares import utc_now

        # Scrapy does not change a request or response once downloaded: the thread may read them
        if self.io is None:
            self._write_exchange(request, response, utc_now())
        else:
            self.io.submit(self._write_exchange, request, response, utc_now())

    def _write_exchange(self, request: Any, response: Any, fetched_at: str) -> None:
        """(evidence thread) The response's WARC records; its record id, server IP and certificate kept for its item."""
        ip, cert = server_identity(response)
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

    # -- items ----------------------------------------------------------------------------
    async def process_item(self, item: Any, spider: Any = None) -> Any:
        body = getattr(item, "html", b"")
        item.html = b""
        captured = [cap.pop("body", b"") for cap in getattr(item, "captures", None) or ()]
        if body and not item.html_sha256:  # an item not built by the spider (which hashes the body it got)
            item.html_sha256, item.html_path = self.store.address(body)
        flagged = bool(body and self.finding_screenshots and isinstance(item, ListingItem) and item.findings
                       and not item.screenshot_path and item.status < 400)
        pending = await self._run(self._write_page, item, body, flagged, captured)
        if self.manifest is not None and getattr(item, "url", ""):
            self._inc("evidence/pages")
        if pending:
            await self._queue_screenshot(item.url, item.html_sha256, item.html_path, item.status, item.fetched_at)
        return item

    def _write_page(self, item: Any, body: bytes, flagged: bool, captured: list[bytes] | None = None) -> bool:
        """(evidence thread) The page's HTML, its browser screenshot's WARC record and its manifest
        line; True when a flagged listing's screenshot is still to be rendered."""
        if body:
            self.store.write_html(item.html_path, body)
        for cap, cap_body in zip(getattr(item, "captures", None) or (), captured or (), strict=False):
            if cap_body:  # the page's own XHR/fetch answers (crawler.capture), kept like snapshots
                self.store.write_html(cap["path"], cap_body)
        pending = False
        if flagged:
            kept = self.store.screenshot_of(item.html_sha256)
            if kept is not None:  # this very HTML was screenshot before (another sweep, a resume)
                item.screenshot_sha256, item.screenshot_path = kept
            else:
                pending = True
        if self.manifest is not None and getattr(item, "url", ""):
            self._record(item, pending, captured)
        return pending

    # -- screenshots of flagged listings (background) -------------------------------------
    async def _queue_screenshot(self, url: str, sha: str, path: str, status: int, fetched_at: str) -> None:
        """Render in the background; wait only when too many renders are behind (memory stays bounded)."""
        while len(self._shots) >= self.render_backlog:
            await asyncio.wait(self._shots, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.ensure_future(self._screenshot(url, sha, path, status, fetched_at))
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

    async def _screenshot(self, url: str, sha: str, path: str, status: int, fetched_at: str) -> None:
        """A flagged listing's screenshot: live from the site (:mod:`.live`), else the offline re-render
        of its stored HTML; either with its caption bar (:mod:`.caption`). All on the render thread."""
        from pipelines.evidence.caption import LIVE, OFFLINE, Caption

        renderer = self._ensure_renderer()
        t0 = time.monotonic()
        ip = self._net.get(url, ("", ""))[0]
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
                html = await self._run(self.store.read_html, path)
                png = await renderer.offline(html, url, Caption(url, self.sweep_id, sha, fetched_at, kind=OFFLINE,
                                                                server_ip=ip))
            except Exception as exc:  # the finding stands without its picture; say so (a resume retries it)
                logger.warning("finding screenshot failed: %s (%s)", url, str(exc).splitlines()[0][:200])
                self._inc("evidence/screenshot_failed")
                return
        await self._run(self._write_screenshot, png, url, sha, path, status, fetched_at, capture, server_ip or ip)
        self._inc("evidence/finding_screenshots")
        self._inc(f"evidence/finding_screenshots_{capture}")
        self._inc("evidence/finding_screenshot_seconds", round(time.monotonic() - t0, 3))

    def _write_screenshot(self, png: bytes, url: str, sha: str, path: str, status: int, fetched_at: str,
                          capture: str = "offline", server_ip: str = "") -> None:
        """(evidence thread) A flagged listing's screenshot: the PNG, its WARC record, its manifest line."""
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

    def _pending_screenshots(self) -> dict[str, dict[str, Any]]:
        """Screenshots a killed run of this sweep left pending (html sha256 -> its manifest line)."""
        assert self.manifest is not None
        pending: dict[str, dict[str, Any]] = {}
        if not self.manifest.path.stat().st_size:
            return pending
        for entry in read_manifest(self.manifest.path):
            if entry.get("kind") == "screenshot":
                pending.pop(entry.get("html_sha256", ""), None)
            elif entry.get("screenshot_pending"):
                pending[entry["html_sha256"]] = entry
        return pending

    async def _catch_up(self, pending: dict[str, dict[str, Any]]) -> None:
        """Render the screenshots a killed run of this sweep left pending."""
        for sha, e in pending.items():
            self._inc("evidence/screenshots_caught_up")
            await self._queue_screenshot(e["url"], sha, e["html_path"], e.get("status") or 200, e.get("fetched_at", ""))

    def _record(self, item: Any, pending: bool, captured: list[bytes] | None = None) -> None:
        """(evidence thread) The item's manifest line (and its browser screenshot's WARC record)."""
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

    def _record_captures(self, item: Any, captured: list[bytes], warc: str, rid: str) -> None:
        """(evidence thread) The page's captured XHR/fetch answers: a WARC ``resource`` record each (concurrent
        to the page's record) and a manifest line (``kind: capture``, ``requested_url`` the page)."""
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
            self._inc("evidence/captures")

    def _inc(self, key: str, n: int = 1) -> None:
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
