"""Pictures in the console (issue 14): a flagged picture with the box of the hit drawn on it.

One route, ``GET /pictures/{sha256}.png?box=x0,y0,x1,y1``: the picture kept in the evidence under that
SHA-256 (``images/ab/<sha256>.<ext>``, :mod:`pipelines.store.files`), drawn server-side with Pillow
(the console sends no script), the box in red. And the template helper :func:`picture_hits`: the
pictures a finding cites (its ``图片文字识别`` note: hash, box, URL), for the partial
``_picture_hits.html`` of the lead page, and :func:`link_picture` for the group's picture links.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from leads.evidence_files import picture_citations, picture_file
from leads.web.auth import csrf_protect, current_user

router = APIRouter(dependencies=[Depends(current_user), Depends(csrf_protect)])
_SHA = re.compile(r"^[0-9a-f]{64}$")
_BOX = re.compile(r"^(\d{1,6}),(\d{1,6}),(\d{1,6}),(\d{1,6})$")
MAX_PIXELS = 40_000_000  # a bigger picture is not drawn (decompression bombs)


def picture_hits(finding: Any) -> list[dict[str, str]]:
    """``[{"sha256", "box", "role", "url"}]`` of the pictures a finding cites (from its notes)."""
    return picture_citations(finding)


def link_picture(path: str) -> str:
    """The SHA-256 of a picture kept at ``path`` (``images/ab/<sha>.<ext>``), "" if it is not one."""
    stem = Path(path or "").name.split(".", 1)[0]
    return stem if _SHA.match(stem) else ""


def draw(data: bytes, box: tuple[int, int, int, int] | None) -> bytes:
    """The picture as PNG, with ``box`` outlined in red (and the rest dimmed a little)."""
    from PIL import Image, ImageDraw

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with Image.open(io.BytesIO(data)) as src:
        img = src.convert("RGB")
    if box is not None:
        x0, y0, x1, y1 = box
        pad = 6
        shade = Image.new("RGB", img.size, (0, 0, 0))
        mask = Image.new("L", img.size, 70)
        ImageDraw.Draw(mask).rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), fill=0)
        img = Image.composite(shade, img, mask)
        width = max(3, img.width // 200)
        ImageDraw.Draw(img).rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), outline=(220, 0, 0), width=width)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@router.get("/pictures/{sha256}.png")
def picture(request: Request, sha256: str, box: str = "") -> Response:
    if not _SHA.match(sha256):
        raise HTTPException(404, "没有这张图片 / no such picture")
    path = picture_file(request.app.state.config.evidence_dir, sha256)
    if path is None:
        raise HTTPException(404, "没有这张图片 / no such picture")
    m = _BOX.match(box)
    try:
        png = draw(path.read_bytes(), tuple(int(v) for v in m.groups()) if m else None)  # type: ignore[arg-type]
    except Exception as exc:  # not a picture Pillow opens (or too big): say so, never a traceback
        raise HTTPException(404, f"图片无法显示 / the picture cannot be shown: {type(exc).__name__}") from exc
    return Response(png, media_type="image/png", headers={"Content-Security-Policy": "default-src 'none'",
                                                          "Cache-Control": "private, max-age=3600"})
