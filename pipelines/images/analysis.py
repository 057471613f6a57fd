"""What one picture holds: its text lines (OCR), its perceptual hash, and for a licence its number and name.

:func:`analyse` is what a worker process runs per picture; :class:`AnalysisCache` keeps each result
under the picture's SHA-256 (and the engine's name), so an unchanged picture is never read twice,
also across sweeps. :func:`read_license` finds the USCC and the 名称 in a licence picture's lines.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

from pipelines.images.ocr import engine_version, read_image


def phash(data: bytes) -> str:
    """The picture's perceptual hash (imagehash's pHash, 64 bits as 16 hex digits); "" if unreadable."""
    import imagehash
    from PIL import Image

    from pipelines.images.ocr import MAX_PIXELS

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                return ""
            return str(imagehash.phash(img.convert("RGB")))
    except Exception:
        return ""


def phash_distance(a: str, b: str) -> int:
    """Bits that differ between two pHashes (0 = the same picture to the eye); 64 when one is missing."""
    if not a or not b or len(a) != len(b):
        return 64
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def analyse(data: bytes, ocr: bool = True) -> dict[str, Any]:
    """``{"lines": [...], "phash": str, "ocr": "done" | "off" | "failed", "error": str}`` for one picture."""
    out: dict[str, Any] = {"lines": [], "phash": phash(data), "ocr": "off"}
    if ocr:
        try:
            out["lines"] = [ln.to_dict() for ln in read_image(data)]
            out["ocr"] = "done"
        except Exception as exc:  # a picture the engine cannot read: said on the item, the sweep goes on
            out.update(ocr="failed", error=str(exc)[:200])
    return out


class AnalysisCache:
    """Results per picture SHA-256: ``<cache>/ocr/<engine>/<ab>/<sha256>.json``; writes are atomic."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root) / "ocr" / engine_version()
        self._lock = threading.Lock()

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.json"

    def get(self, sha256: str, ocr: bool = True) -> dict[str, Any] | None:
        try:
            found = json.loads(self._path(sha256).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if ocr and found.get("ocr") != "done":
            return None  # read without OCR before (or it failed): read again
        return found

    def put(self, sha256: str, result: dict[str, Any]) -> None:
        if result.get("ocr") == "failed":
            return
        path = self._path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)


# --------------------------------------------------------------------------- licences

_USCC = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")
_USCC_LABEL = re.compile(r"(?:统一社会信用代码|信用代码|注册号)[:：]?([0-9A-Za-z]{8,24})")
_NAME = re.compile(r"名\s*称[:：]?\s*(\S{2,60})")
_NAME_END = re.compile(r"(?:类\s*型|类型|住\s*所|法定代表人|经营者|注册资本|成立日期).*$")


def read_license(lines: list[str]) -> tuple[str, str, str]:
    """(status, number, name) from a licence picture's lines: status ``ok`` (a valid USCC), ``invalid``
    (a number that fails GB 32100) or ``unreadable`` (no number found)."""
    from pipelines.match import uscc_is_valid

    text = "\n".join(lines)
    flat = re.sub(r"\s+", "", text).upper()
    candidates = _USCC.findall(flat.replace("统一社会信用代码", " ").replace(":", " ").replace("：", " "))
    labelled = [m.upper() for m in _USCC_LABEL.findall(re.sub(r"\s+", "", text))]
    number = next((c for c in candidates + labelled if uscc_is_valid(c)), "")
    status = "ok" if number else "unreadable"
    if not number and (labelled or candidates):
        number, status = (labelled or candidates)[0], "invalid"
    name = ""
    for line in lines:
        m = _NAME.search(line.replace(" ", ""))
        if m:
            name = _NAME_END.sub("", m.group(1)).strip()
            break
    return status, number, name
