"""The images stage: pictures of listings and shops fetched, kept, read (OCR) and hashed.

Two ``ITEM_PIPELINES`` entries, between history and match:

* :class:`EvidenceImagesPipeline` (160, :mod:`.media`): Scrapy's FilesPipeline fetching the pictures the
  profile's ``images:`` selectors name, kept by SHA-256 with the evidence (``images/ab/<sha>.<ext>``);
* :class:`ImageTextPipeline` (170, :mod:`.pipeline`): text lines with boxes (``image_text``, offline OCR
  in worker processes, :mod:`.ocr`), perceptual hashes, licence numbers, cached per picture
  (:mod:`.analysis`).

``netsword ocr FILE|URL`` (:mod:`.commands`) shows what the engine reads from one picture.
"""

from __future__ import annotations

from .analysis import AnalysisCache, analyse, phash, phash_distance, read_license
from .media import EvidenceImagesPipeline
from .ocr import OcrLine, engine_version, load_engine, read_image, shared_pool
from .pipeline import ImageTextPipeline

__all__ = [
    "AnalysisCache",
    "EvidenceImagesPipeline",
    "ImageTextPipeline",
    "OcrLine",
    "analyse",
    "engine_version",
    "load_engine",
    "phash",
    "phash_distance",
    "read_image",
    "read_license",
    "shared_pool",
]
