"""The picture-reading stage: OCR text (``image_text``) and perceptual hashes of an item's pictures.

Runs after the media stage (:mod:`pipelines.images.media`) and before the matcher, so rules can
name ``image_text`` in ``fields:`` like any other field. Each stored picture is looked up in the
:class:`~pipelines.images.analysis.AnalysisCache` by its SHA-256; a picture not read before goes
to the OCR worker processes (:func:`pipelines.images.ocr.shared_pool`): the reactor only waits
for the answer (other pages go on being fetched and parsed meanwhile).

On the item: each picture's ``lines`` (text, box, confidence, and its offsets in the normalised
``image_text``), ``phash``, ``ocr``; ``image_text`` (one line per recognised line) and
``norm["image_text"]``; for a shop's licence picture ``license_image_status`` / ``_number`` / ``_name``.

Settings: ``IMAGES_OCR`` (True), ``IMAGES_OCR_WORKERS`` (0 = one per core but one, at least one).
Stats: ``images/read``, ``images/cached``, ``images/hashed`` (OCR off), ``images/ocr_failed``,
``images/ocr_seconds`` (summed waits, queueing included).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from pipelines.images.analysis import AnalysisCache, analyse
from pipelines.images.ocr import OcrPool, shared_pool
from pipelines.images.text import assemble

logger = logging.getLogger(__name__)


class ImageTextPipeline:
    def __init__(self, evidence_dir: Path | str, cache_dir: Path | str, *, ocr: bool = True, workers: int = 0,
                 stats: Any = None, pool: OcrPool | None = None) -> None:
        self.root = Path(evidence_dir)
        self.cache = AnalysisCache(cache_dir)
        self.ocr = ocr
        self.workers = workers
        self.stats = stats
        self._pool = pool

    @classmethod
    def from_crawler(cls, crawler: Any) -> ImageTextPipeline:
        from netsword import config

        s = crawler.settings
        return cls(s.get("EVIDENCE_DIR"), config.cache_dir(), ocr=s.getbool("IMAGES_OCR", True),
                   workers=s.getint("IMAGES_OCR_WORKERS", 0), stats=crawler.stats)

    @property
    def pool(self) -> OcrPool:
        if self._pool is None:
            self._pool = shared_pool(self.workers)
        return self._pool

    def _inc(self, key: str, n: float = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"images/{key}", n)

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        images = getattr(item, "images", None)
        if not images:
            return item
        todo = [img for img in images if img.get("status") == "ok" and img.get("sha256")]
        results = await asyncio.gather(*(self._analyse(img) for img in todo))
        for img, result in zip(todo, results, strict=True):
            img["phash"] = result.get("phash", "")
            img["ocr"] = result.get("how", result.get("ocr", ""))
            img["lines"] = [dict(line) for line in result.get("lines", [])]
            if result.get("error"):
                img["error"] = result["error"]
        self.assemble(item)
        return item

    async def _analyse(self, img: dict[str, Any]) -> dict[str, Any]:
        sha = img["sha256"]
        cached = await asyncio.to_thread(self.cache.get, sha, self.ocr)
        if cached is not None:
            self._inc("cached")
            return {**cached, "how": "cached" if cached.get("ocr") == "done" else cached.get("ocr", "off")}
        try:
            data = await asyncio.to_thread((self.root / img["path"]).read_bytes)
        except OSError as exc:
            logger.warning("picture missing from the evidence: %s (%s)", img["path"], exc)
            return {"lines": [], "phash": "", "ocr": "failed", "error": f"picture file missing: {exc}"}
        t0 = time.monotonic()
        try:
            if self.ocr:
                result = await asyncio.wrap_future(self.pool.submit(analyse, data, True))
            else:  # the perceptual hash only: a few milliseconds, no worker process and no model
                result = await asyncio.to_thread(analyse, data, False)
        except Exception as exc:  # a worker died (out of memory ...): this picture unread, the sweep goes on
            logger.warning("reading picture %s failed: %s", img.get("url"), exc)
            self._inc("ocr_failed")
            return {"lines": [], "phash": "", "ocr": "failed", "error": str(exc)[:200]}
        self._inc("ocr_seconds", round(time.monotonic() - t0, 3))
        if result.get("ocr") == "failed":
            self._inc("ocr_failed")
            logger.warning("OCR failed for picture %s: %s", img.get("url"), result.get("error"))
        elif self.ocr:
            self._inc("read")
        else:
            self._inc("hashed")
        await asyncio.to_thread(self.cache.put, sha, result)
        return result

    @staticmethod
    def assemble(item: Any) -> None:
        assemble(item)
