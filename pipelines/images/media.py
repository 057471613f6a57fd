"""The media stage: a listing's or shop's pictures fetched with Scrapy's own FilesPipeline.

The spider puts each item's picture URLs per role in ``item.image_urls`` (from the profile's
``images:`` selectors; a shop's ``license_image`` counts as its licence picture). This stage
downloads them through Scrapy's engine (so robots.txt, retries, politeness and the sweep's WARC
apply: every answer reaches the evidence stage's ``response_downloaded`` WARC writer), keeps each
picture content-addressed under the evidence root (``images/ab/<sha256>.<ext>``,
:func:`pipelines.store.files.image_rel`) and lists them in ``item.images``.

Per-page limits come from the profile's ``images:`` (``max_count``, ``max_kb``, ``min_side``),
else the settings ``IMAGES_MAX_COUNT``, ``IMAGES_MAX_KB``, ``IMAGES_MIN_SIDE``. A picture bigger
than ``max_kb`` is not downloaded (status ``failed``, error says why); one smaller than
``min_side`` on a side is kept but not read (status ``too_small``).
Stats: ``images/requested``, ``images/stored``, ``images/failed``, ``images/too_small``.

A picture that cannot be fetched (404, a dead host, too big) is one WARNING line -- its URL, why
(``HTTP 404``) and the page that shows it -- the first time it fails in the sweep (DEBUG for the next
pages showing the same picture), counted in ``images/failed``; never a traceback (Scrapy's media
pipeline logs one per failure: :class:`_QuietPictureFailures` drops it). The sweep goes on.

Hashing and writing a picture run on a worker thread (``hashlib`` and file writes release the GIL):
the reactor goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline

from crawler.profiles import Images
from netsword.digests import sha256_bytes
from pipelines.store.files import IMAGE_EXTENSIONS, EvidenceStore, image_rel

logger = logging.getLogger(__name__)

ROLE = "netsword_image_role"


class PictureNotFetched(Exception):
    """A picture of an item was not fetched (HTTP error status, empty body, network error, too big):
    raised by :class:`EvidenceImagesPipeline`; its message is the reason kept on the item."""


class _QuietPictureFailures(logging.Filter):
    """Drops Scrapy's traceback for a picture that was not fetched (``scrapy.pipelines.media`` logs one per
    failure); :meth:`EvidenceImagesPipeline.item_completed` says it in one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, PictureNotFetched)


_QUIET = _QuietPictureFailures()


def picture_info(body: bytes) -> tuple[str, int, int]:
    """(file ending, width, height) from a picture's header; ("bin", 0, 0) when Pillow cannot open it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(body)) as img:
            return IMAGE_EXTENSIONS.get(img.format or "", "bin"), int(img.width), int(img.height)
    except (UnidentifiedImageError, OSError, ValueError):
        return "bin", 0, 0


class EvidenceImagesPipeline(FilesPipeline):
    """Scrapy's FilesPipeline, storing pictures by their SHA-256 in the evidence (not by URL hash)."""

    def __init__(self, store_uri: str, *, crawler: Any) -> None:
        super().__init__(store_uri, crawler=crawler)
        self.evidence = EvidenceStore(store_uri)
        s = crawler.settings
        self.defaults = Images(max_count=s.getint("IMAGES_MAX_COUNT", 12), max_kb=s.getint("IMAGES_MAX_KB", 4096),
                               min_side=s.getint("IMAGES_MIN_SIDE", 120))
        self._failed: set[str] = set()  # picture URLs said failed in this sweep (one WARNING line each)
        media_log = logging.getLogger("scrapy.pipelines.media")
        if _QUIET not in media_log.filters:
            media_log.addFilter(_QUIET)

    @classmethod
    def from_crawler(cls, crawler: Any) -> EvidenceImagesPipeline:
        return cls(crawler.settings.get("EVIDENCE_DIR"), crawler=crawler)

    def _limits(self, item: Any) -> Images:
        profile = getattr(getattr(self.crawler, "spider", None), "profile", None)
        found = profile.page_type(item.url) if profile is not None and getattr(item, "url", "") else None
        return found[1].images if found and found[1].images is not None else self.defaults

    def _stat(self, key: str) -> None:
        self.crawler.stats.inc_value(f"images/{key}")

    # -- Scrapy's hooks ---------------------------------------------------------------------
    def get_media_requests(self, item: Any, info: Any) -> list[Request]:
        limits = self._limits(item)
        wanted = wanted_pictures(item, limits.max_count)
        item.images = [{"role": role, "url": url, "status": "pending"} for role, url in wanted]
        out = []
        for role, url in wanted:
            self._stat("requested")
            out.append(Request(url, callback=NO_CALLBACK, meta={
                ROLE: role, "download_maxsize": limits.max_kb * 1024, "netsword_full": True,
                "netsword_min_side": limits.min_side, "dont_redirect": False}))
        return out

    def media_to_download(self, request: Request, info: Any, *, item: Any = None) -> None:
        return None  # always fetch: the picture's name is its hash, known only once it is here

    def file_path(self, request: Request, response: Any = None, info: Any = None, *, item: Any = None) -> str:
        if response is None:
            return ""
        ext, _, _ = picture_info(response.body)
        return image_rel(sha256_bytes(response.body), ext)

    async def media_downloaded(self, response: Any, request: Request, info: Any, *, item: Any = None) -> Any:
        """The picture kept by its SHA-256 (hashed and written on a worker thread); Scrapy's own version would
        log a warning and a traceback per error status, and read and hash the picture three times."""
        if response.status != 200:
            raise PictureNotFetched(f"HTTP {response.status}")
        body = response.body
        if not body:
            raise PictureNotFetched("empty answer (0 bytes)")
        ext, width, height = picture_info(body)
        sha, path = await asyncio.to_thread(self.evidence.put_image, body, ext)
        self.inc_stats("cached" if "cached" in response.flags else "downloaded")
        return {"url": request.url, "path": path, "checksum": sha, "status": "downloaded", "sha256": sha,
                "width": width, "height": height, "bytes": len(body), "format": ext,
                "min_side": request.meta.get("netsword_min_side", 0)}

    def media_failed(self, failure: Any, request: Request, info: Any) -> Any:
        if isinstance(failure.value, IgnoreRequest):  # robots.txt, offsite: Scrapy says it at DEBUG level
            return super().media_failed(failure, request, info)
        if isinstance(failure.value, PictureNotFetched):
            raise failure.value
        raise PictureNotFetched(_reason(failure))

    def item_completed(self, results: list[tuple[bool, Any]], item: Any, info: Any) -> Any:
        images = list(getattr(item, "images", None) or [])
        for image, (ok, value) in zip(images, results, strict=False):
            if not ok:
                image.update(status="failed", error=_reason(value))
                self._stat("failed")
                first = image["url"] not in self._failed
                self._failed.add(image["url"])
                logger.log(logging.WARNING if first else logging.DEBUG, "picture not fetched: %s (%s), on page %s",
                           image["url"], image["error"], item.url)
                continue
            image.update(sha256=value["sha256"], path=value["path"], width=value["width"], height=value["height"],
                         bytes=value["bytes"])
            small = not value["width"] or min(value["width"], value["height"]) < value.get("min_side", 0)
            image["status"] = "too_small" if small else "ok"
            self._stat("too_small" if small else "stored")
        item.images = images
        return item


def wanted_pictures(item: Any, max_count: int) -> list[tuple[str, str]]:
    """(role, URL) of the item's pictures to fetch: its ``image_urls`` in page order, a shop's
    ``license_image`` first among its licence pictures, at most ``max_count``; none for an error page."""
    given = getattr(item, "image_urls", None) or {}
    urls: dict[str, list[str]] = {role: list(group) for role, group in given.items()}
    lic = getattr(item, "license_image", "")
    if lic:
        from urllib.parse import urljoin

        lic = urljoin(item.url, lic)
        if lic.startswith(("http://", "https://")) and lic not in urls.get("license", []):
            urls["license"] = [lic, *urls.get("license", [])]
    if getattr(item, "status", 200) >= 400:
        return []
    return [(role, url) for role, group in urls.items() for url in group][:max_count]


def _reason(failure: Any) -> str:
    value = getattr(failure, "value", failure)
    text = str(value) or type(value).__name__
    if "download max size" in text or "maxsize" in text.lower():
        return "larger than the profile's images.max_kb: not downloaded"
    return text[:200]
