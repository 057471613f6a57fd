"""An item's picture text from its pictures' lines: ``image_text``, its normal form and the lines' offsets.

Also used outside a sweep (``netsword rules explain`` with pictures in its JSON input), so it imports
only the normaliser.
"""

from __future__ import annotations

from typing import Any

from pipelines.normalize import normalize_text


def images_from_json(value: Any) -> list[dict[str, Any]]:
    """Pictures given by hand (``rules explain`` JSON): ``[{"url", "sha256", "lines": [{"text", "box"}]}]``,
    or lines alone (``[{"text", "box"}]`` / ``["text", ...]``: one picture)."""
    if not isinstance(value, list):
        raise ValueError("image_text as a list: pictures [{url, lines: [{text, box}]}] or lines [{text, box}]")
    whole = bool(value) and all(isinstance(v, dict) and "lines" in v for v in value)
    pictures = value if whole else [{"lines": value}]
    out = []
    for pic in pictures:
        lines = []
        for line in pic.get("lines") or []:
            line = {"text": line} if isinstance(line, str) else dict(line)
            lines.append({"text": str(line.get("text", "")), "box": [int(v) for v in line.get("box") or [0, 0, 0, 0]],
                          "score": float(line.get("score", 1.0))})
        out.append({"role": str(pic.get("role", "detail")), "url": str(pic.get("url", "")),
                    "sha256": str(pic.get("sha256", "")), "path": str(pic.get("path", "")), "status": "ok",
                    "ocr": "given", "lines": lines})
    return out


def assemble(item: Any) -> None:
    """``image_text``, ``norm["image_text"]`` and each line's ``start``/``end`` from the pictures' lines,
    and for a shop its licence picture's reading (``license_image_status`` / ``_number`` / ``_name``)."""
    raw: list[str] = []
    norm: list[str] = []
    offset = 0
    for img in item.images:
        for line in img.get("lines") or ():
            text = normalize_text(line["text"])
            line["start"], line["end"] = offset, offset + len(text)
            offset += len(text) + 1
            raw.append(line["text"])
            norm.append(text)
    item.image_text = "\n".join(raw)
    if item.norm is not None:
        item.norm["image_text"] = "\n".join(norm)
    if getattr(item, "kind", "") == "shop":
        licences = [img for img in item.images if img.get("role") == "license"]
        if not licences:
            return
        read = [img for img in licences if img.get("ocr") in ("done", "cached", "given")]
        if read:
            from pipelines.images.analysis import read_license

            lines = [line["text"] for img in read for line in img.get("lines") or ()]
            item.license_image_status, item.license_image_number, item.license_image_name = read_license(lines)
        elif any(img.get("status") in ("failed", "too_small") or img.get("ocr") == "failed" for img in licences):
            item.license_image_status = "unreadable"
