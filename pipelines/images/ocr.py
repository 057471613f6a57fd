"""Offline OCR of Chinese text in pictures (RapidOCR: PaddleOCR's PP-OCRv4 models, run by OpenVINO).

The models ship inside the ``rapidocr_onnxruntime`` wheel (``models/*.onnx``): nothing is
downloaded at run time, so OCR works on a machine with no internet. RapidOCR does the pre- and
post-processing (detection boxes, crops, CTC decoding); the two networks (detection, recognition)
run in OpenVINO's CPU runtime when it is installed (:data:`RUNTIME_ENV`): on the same models it
costs a half to a quarter of onnxruntime's CPU time per picture (bf16 on CPUs with AMX or
AVX512-BF16, f32 elsewhere; see ``python -m bench ocr``). Without OpenVINO, or when it cannot
compile the models, RapidOCR's own onnxruntime sessions read the pictures.

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
import importlib.util
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


#: environment variable choosing the runtime of the networks: ``openvino``, ``onnxruntime`` or ``auto`` (the
#: default: OpenVINO when it is installed, else onnxruntime); worker processes inherit it
RUNTIME_ENV = "NETSWORD_OCR_RUNTIME"
RUNTIMES = ("openvino", "onnxruntime")

_ENGINE: Any = None
_ENGINE_RUNTIME = ""  # the runtime the loaded engine uses (after any fallback)
_ENGINE_LOCK = threading.Lock()


def wanted_runtime() -> str:
    """The runtime :data:`RUNTIME_ENV` asks for, ``auto`` resolved: ``openvino`` when it is importable."""
    wanted = os.environ.get(RUNTIME_ENV, "").strip().lower() or "auto"
    if wanted not in (*RUNTIMES, "auto"):
        logger.warning("%s=%r: not one of openvino, onnxruntime, auto; taking auto", RUNTIME_ENV, wanted)
        wanted = "auto"
    if wanted == "auto":
        wanted = "openvino" if importlib.util.find_spec("openvino") is not None else "onnxruntime"
    return wanted


def engine_runtime() -> str:
    """The runtime that reads (or will read) this process's pictures: the loaded engine's, else the wanted one."""
    return _ENGINE_RUNTIME or wanted_runtime()


def engine_version() -> str:
    """Names the engine, its models and runtime: OCR cache entries of another engine are not reused."""
    try:
        name = f"rapidocr_onnxruntime-{metadata.version('rapidocr_onnxruntime')}-ppocrv4"
    except metadata.PackageNotFoundError:
        return "rapidocr-missing"
    return name + ("-openvino" if engine_runtime() == "openvino" else "")


class OpenVinoSession:
    """One network compiled by OpenVINO's CPU runtime, called like RapidOCR's onnxruntime session (a batch in,
    ``[output]`` back): RapidOCR keeps its pre- and post-processing, only the network runs elsewhere."""

    def __init__(self, core: Any, model_path: str, threads: int) -> None:
        # no pinning: several OCR worker processes must not all pin their thread to the same core
        compiled = core.compile_model(model_path, "CPU", {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
                                                          "ENABLE_CPU_PINNING": False})
        self._request = compiled.create_infer_request()
        self.precision = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()  # bf16 with AMX, else f32

    def __call__(self, batch: Any) -> list[Any]:
        self._request.infer([batch])
        return [self._request.get_output_tensor(0).data.copy()]  # the tensor's memory is reused by the next call


def _use_openvino(engine: Any, threads: int) -> None:
    """Replaces the engine's detection and recognition sessions by OpenVINO's, on the wheel's own model files."""
    import openvino
    from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
    from rapidocr_onnxruntime.utils import read_yaml, update_model_path

    config = update_model_path(read_yaml(DEFAULT_CFG_PATH))
    core = openvino.Core()
    det = OpenVinoSession(core, str(config["Det"]["model_path"]), threads)
    rec = OpenVinoSession(core, str(config["Rec"]["model_path"]), threads)
    engine.text_det.infer, engine.text_rec.session = det, rec  # the names rapidocr_onnxruntime 1.4 calls


def load_engine(threads: int = 1) -> Any:
    """The RapidOCR engine of this process, loaded once (1-3 s); ``threads`` per network session."""
    global _ENGINE, _ENGINE_RUNTIME
    with _ENGINE_LOCK:
        if _ENGINE is None:
            from rapidocr_onnxruntime import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
            runtime = wanted_runtime()
            if runtime == "openvino":
                try:
                    _use_openvino(engine, threads)
                except Exception as exc:  # not installed, no usable CPU plugin, a model it cannot compile
                    logger.warning("OCR: OpenVINO unavailable (%s); reading with onnxruntime", exc)
                    runtime = "onnxruntime"
            _ENGINE, _ENGINE_RUNTIME = engine, runtime
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
