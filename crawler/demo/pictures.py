"""Pictures of the demo marketplace, drawn with Pillow and a CJK font when the server is asked for them.

``catalog.json`` holds each picture's description (``pictures``: id -> spec); :func:`render` draws it,
the same bytes every time (no dates in the files), so ETags and SHA-256 hashes are stable.

Specs: ``{"kind": "detail", "title", "lines", "bg", "seed"}`` (a 750 px wide detail image, one claim or
fact per line), ``{"kind": "photo", "title", "color", "seed"}`` (a product photo), ``{"kind": "license",
"uscc", "name", "address", "blur"}`` (a business licence), ``{"copy_of": ID, "width": N}`` (another
picture scaled and saved again: the same photo to the eye, other bytes).
"""

from __future__ import annotations

import io
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

#: CJK fonts the set-up installs (Debian fonts-noto-cjk; scripts/ensure-browser.sh), first found wins
FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2: Simplified Chinese
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)


def font_path() -> tuple[str, int] | None:
    """A CJK font file and face index, or None (pictures then show no readable Chinese)."""
    return next(((p, i) for p, i in FONT_CANDIDATES if Path(p).is_file()), None)


@lru_cache(maxsize=32)
def _font(size: int) -> Any:
    from PIL import ImageFont

    found = font_path()
    if found is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(found[0], size, index=found[1])


def _save(img: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=88, optimize=False)
    else:
        img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


def media_type(spec: dict[str, Any]) -> str:
    return "image/png" if spec.get("kind") == "license" else "image/jpeg"


def render(spec: dict[str, Any], pictures: dict[str, dict[str, Any]] | None = None) -> bytes:
    """The picture's bytes (PNG for licences, JPEG otherwise)."""
    if "copy_of" in spec:
        from PIL import Image

        base = Image.open(io.BytesIO(render((pictures or {})[spec["copy_of"]], pictures))).convert("RGB")
        width = int(spec.get("width") or base.width)
        img = base.resize((width, round(base.height * width / base.width)), Image.Resampling.LANCZOS)
        return _save(img, "JPEG")
    kind = spec.get("kind")
    if kind == "detail":
        return _save(_detail(spec), "JPEG")
    if kind == "photo":
        return _save(_photo(spec), "JPEG")
    if kind == "license":
        return _save(_license(spec), "PNG")
    raise ValueError(f"unknown picture kind {kind!r}")


def _detail(spec: dict[str, Any]) -> Any:
    from PIL import Image, ImageDraw

    lines: list[str] = list(spec.get("lines") or [])
    rng = random.Random(spec.get("seed", 0))
    height = 190 + 110 * len(lines)
    img = Image.new("RGB", (750, height), spec.get("bg", "#fff8ef"))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, 750, 120), fill=spec.get("band", "#c81623"))
    d.text((40, 30), spec.get("title", ""), font=_font(48), fill="white")
    for i, line in enumerate(lines):
        color = rng.choice(["#222222", "#8b0000", "#1a3d7c", "#333333"])
        d.text((48, 170 + 110 * i), line, font=_font(44), fill=color)
    return img


def _photo(spec: dict[str, Any]) -> Any:
    from PIL import Image, ImageDraw

    rng = random.Random(spec.get("seed", 0))
    img = Image.new("RGB", (640, 640), spec.get("bg", "#f2f2f2"))
    d = ImageDraw.Draw(img)
    color = spec.get("color", "#3a6ea5")
    for _ in range(6):  # a few shapes: the product's silhouette
        x, y = rng.randint(60, 380), rng.randint(80, 380)
        w, h = rng.randint(120, 240), rng.randint(80, 220)
        d.rounded_rectangle((x, y, x + w, y + h), radius=24, fill=color, outline="#222222", width=3)
        color = "#" + "".join(f"{rng.randint(40, 220):02x}" for _ in range(3))
    d.text((40, 560), spec.get("title", ""), font=_font(36), fill="#222222")
    return img


def _license(spec: dict[str, Any]) -> Any:
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("RGB", (900, 600), "#fffaf0")
    d = ImageDraw.Draw(img)
    d.rectangle((10, 10, 890, 590), outline="#c81623", width=10)
    d.text((360, 40), "营业执照", font=_font(56), fill="#c81623")
    rows = [f"统一社会信用代码 {spec.get('uscc', '')}", f"名称 {spec.get('name', '')}",
            f"类型 {spec.get('type', '有限责任公司')}", f"住所 {spec.get('address', '')}",
            f"经营范围 {spec.get('scope', '日用百货、预包装食品销售')}"]
    for i, row in enumerate(rows):
        d.text((60, 150 + 78 * i), row, font=_font(30), fill="#222222")
    d.text((330, 548), "网剑演示商城 · 仅用于演示", font=_font(20), fill="#999999")
    if spec.get("blur"):
        img = img.filter(ImageFilter.GaussianBlur(float(spec["blur"])))
    return img


def picture_text(spec: dict[str, Any], pictures: dict[str, dict[str, Any]] | None = None) -> str:
    """The text drawn on a picture (for the generator's lint and the benchmark's reference)."""
    if "copy_of" in spec:
        return picture_text((pictures or {})[spec["copy_of"]], pictures)
    if spec.get("kind") == "license":
        return "\n".join(["营业执照", f"统一社会信用代码 {spec.get('uscc', '')}", f"名称 {spec.get('name', '')}"])
    return "\n".join([spec.get("title", ""), *spec.get("lines", [])])
