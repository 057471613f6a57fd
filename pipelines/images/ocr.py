"""Offline OCR of Chinese text in pictures (RapidOCR: PaddleOCR's PP-OCRv4 models on onnxruntime).

The models ship inside the ``rapidocr_onnxruntime`` wheel (``models/*.onnx``): nothing is
downloaded at run time, so OCR works on a machine with no internet.

* :func:`read_image` reads one picture here, in this process (``netsword ocr``, tests, bench);
* :class:`OcrPool` reads pictures in worker processes (each loads the models once and uses one
  core), so a sweep's reactor never waits on OCR; one pool per process (:func:`shared_pool`),
  started on first use and kept until exit, so several sweeps in one process (tests) load the
  models once per worker.

A result is a list of :class:`OcrLine` (text, box as ``[x0, y0, x1, y1]`` in the picture's
pixels, confidence), top to bottom.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata
from multiprocessing import get_context
from typing import Any

logger = logging.getLogger(__name__)

#: below this confidence a recognised line is dropped (RapidOCR's own default is 0.5)
MIN_SCORE = 0.5
#: pictures are scaled down so their longer side is at most this (long detail columns are cut into tiles)
MAX_SIDE = 2000
TILE_HEIGHT = 1600  # a detail column taller than this is read in overlapping tiles
#: a picture with more pixels is refused before it is decoded (a few KB of PNG can claim 10^10 pixels)
MAX_PIXELS = 40_000_000


@dataclass
class OcrLine:
    text: str
    box: list[int]  # x0, y0, x1, y1 in the picture's pixels
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def engine_version() -> str:
    """Names the engine and its models: OCR cache entries of another engine are not reused."""
    try:
        return f"rapidocr_onnxruntime-{metadata.version('rapidocr_onnxruntime')}-ppocrv4"
    except metadata.PackageNotFoundError:
        return "rapidocr-missing"


_ENGINE: Any = None
_ENGINE_LOCK = threading.Lock()


def load_engine(threads: int = 1) -> Any:
    """The RapidOCR engine of this process, loaded once (about 1 s); ``threads`` per onnxruntime session."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            from rapidocr_onnxruntime import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            _ENGINE = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        return _ENGINE


def _boxes(points: Any) -> list[int]:
    xs = [round(float(p[0])) for p in points]
    ys = [round(float(p[1])) for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


def read_image(data: bytes, threads: int = 1) -> list[OcrLine]:
    """The text lines in one picture (any format Pillow opens), top to bottom.

    Raises :class:`ValueError` for bytes that are no picture."""
    import numpy as np
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # bigger: DecompressionBombError, before decoding
    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > MAX_PIXELS:
            raise ValueError(f"{img.width}x{img.height} pixels, more than {MAX_PIXELS}")
        img = ImageOps.exif_transpose(img).convert("RGB")
    except Exception as exc:
        raise ValueError(f"not a picture: {exc}") from exc
    scale = 1.0
    if max(img.size) > MAX_SIDE and img.width > img.height:
        scale = MAX_SIDE / img.width
        img = img.resize((MAX_SIDE, max(1, round(img.height * scale))))
    engine = load_engine(threads)
    arr = np.asarray(img)[:, :, ::-1]  # RGB -> BGR, as OpenCV reads
    lines: list[OcrLine] = []
    step = TILE_HEIGHT - 200
    top = 0
    while True:
        tile = arr[top:top + TILE_HEIGHT]
        result, _ = engine(np.ascontiguousarray(tile), use_cls=False)
        for points, text, score in result or []:
            box = _boxes(points)
            box[1] += top
            box[3] += top
            if float(score) < MIN_SCORE or not str(text).strip():
                continue
            if top and box[1] < top + 200 and any(_overlap(box, ln.box) for ln in lines):
                continue  # read already in the tile above
            lines.append(OcrLine(str(text), [round(v / scale) for v in box], round(float(score), 3)))
        if top + TILE_HEIGHT >= arr.shape[0]:
            break
        top += step
    lines.sort(key=lambda ln: (ln.box[1] // 8, ln.box[0]))
    return lines


def _overlap(a: list[int], b: list[int]) -> bool:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w > 0 and h > 0 and w * h > 0.5 * (a[2] - a[0]) * (a[3] - a[1])


# --------------------------------------------------------------------------- worker processes


#: OCR workers run at a lower priority: on a busy machine the crawl's reactor gets the CPU first
WORKER_NICE = 10


def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with contextlib.suppress(OSError):  # not allowed here: the same priority as the crawl
        os.nice(WORKER_NICE)
    load_engine(1)


def default_workers() -> int:
    """One worker per core but one (the crawl's reactor keeps a core), at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


class OcrPool:
    """OCR in ``workers`` processes (spawned: no copy of the crawler's threads or reactor)."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        """``fn(*args)`` in a worker (``fn`` a module-level function: it is pickled by name)."""
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"),
                                                 initializer=_worker_init)
            return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


_SHARED: dict[int, OcrPool] = {}


def shared_pool(workers: int = 0) -> OcrPool:
    """This process's pool of ``workers`` OCR processes (made once, shut down at exit)."""
    n = workers or default_workers()
    pool = _SHARED.get(n)
    if pool is None:
        pool = _SHARED[n] = OcrPool(n)
        if len(_SHARED) == 1:
            atexit.register(_shutdown_all)
    return pool


def _shutdown_all() -> None:
    for pool in _SHARED.values():
        pool.shutdown()
