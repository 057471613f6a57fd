"""The caption bar burned into a flagged listing's screenshot: what it shows, where and when it came from.

Above the picture, a bar with: how it was taken (浏览器实时截图 -- the page as the browser loaded it,
pictures included -- or 离线重绘 -- the stored HTML drawn again without network, no pictures: the
fallback when the live page could not be loaded), the URL, the capture time and the fetch time in
Beijing time, the sweep id, and the SHA-256 of the HTML the sweep kept. Drawn with Pillow in the CJK
font the set-up installs (Noto Sans CJK, Debian ``fonts-noto-cjk``); without it the labels fall back
to English with Pillow's own font. The PNG's text chunks carry the same facts.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from netsword.clock import beijing_time

#: CJK fonts tried in order (Debian's fonts-noto-cjk, then fc-match)
FONT_CANDIDATES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
LIVE, OFFLINE = "live", "offline"
BAR_BG, BAR_FG, LIVE_TAG, OFFLINE_TAG = (24, 32, 48), (255, 255, 255), (34, 139, 34), (200, 90, 0)


@dataclass
class Caption:
    url: str
    sweep_id: str
    html_sha256: str
    fetched_at: str  # ISO UTC, when the sweep fetched the HTML
    captured_at: str = ""  # ISO UTC, when this picture was taken
    kind: str = LIVE  # live | offline
    server_ip: str = ""

    def lines(self, cjk: bool) -> list[str]:
        if cjk:
            how = "浏览器实时截图（网页原样加载，含图片）" if self.kind == LIVE else \
                "离线重绘（依存储的 HTML 重新绘制，无网络、无图片；实时截图未能取得）"
            return [how, f"网址：{self.url}",
                    f"截图时间：{beijing_time(self.captured_at)}（北京时间）  抓取时间：{beijing_time(self.fetched_at)}"
                    + (f"  服务器 IP：{self.server_ip}" if self.server_ip else ""),
                    f"扫描编号：{self.sweep_id}  网页 HTML SHA-256：{self.html_sha256}"]
        how = "LIVE browser capture (page as loaded, with pictures)" if self.kind == LIVE else \
            "OFFLINE re-render of the stored HTML (no network, no pictures)"
        return [how, f"URL: {self.url}", f"captured {beijing_time(self.captured_at)} Beijing, fetched "
                f"{beijing_time(self.fetched_at)}" + (f", server {self.server_ip}" if self.server_ip else ""),
                f"sweep {self.sweep_id}  HTML SHA-256 {self.html_sha256}"]


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    for cand in FONT_CANDIDATES:
        if Path(cand).is_file():
            return cand
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}", "Noto Sans CJK SC:lang=zh-cn"], capture_output=True,
                                 text=True, timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and Path(out).is_file() and "CJK" in out.upper():
            return out
    return None


def _wrap(draw: object, text: str, font: object, width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` pixels (characters: URLs have no spaces)."""
    out, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width and line:  # type: ignore[attr-defined]
            out.append(line)
            line = "  " + ch
        else:
            line += ch
    return [*out, line] if line else out


def burn_caption(png: bytes, caption: Caption) -> bytes:
    """``png`` with the caption bar above it (same width); the facts also in the PNG's text chunks."""
    from PIL import Image, ImageDraw, ImageFont
    from PIL.PngImagePlugin import PngInfo

    shot = Image.open(io.BytesIO(png)).convert("RGB")
    width = max(shot.width, 800)
    font_path = cjk_font_path()
    size = 18 if width >= 1000 else 15
    font = ImageFont.truetype(font_path, size) if font_path else ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    lines = [w for text in caption.lines(font_path is not None) for w in _wrap(probe, text, font, width - 28)]
    line_h = size + 8
    bar_h = 16 + line_h * len(lines)
    out = Image.new("RGB", (width, bar_h + shot.height), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, width, bar_h], fill=BAR_BG)
    draw.rectangle([0, 0, 8, bar_h], fill=LIVE_TAG if caption.kind == LIVE else OFFLINE_TAG)
    for i, text in enumerate(lines):
        draw.text((18, 8 + i * line_h), text, fill=BAR_FG, font=font)
    out.paste(shot, (0, bar_h))
    info = PngInfo()
    for key, value in (("netsword:capture", caption.kind), ("netsword:url", caption.url),
                       ("netsword:sweep", caption.sweep_id), ("netsword:html_sha256", caption.html_sha256),
                       ("netsword:fetched_at", caption.fetched_at), ("netsword:captured_at", caption.captured_at),
                       ("netsword:server_ip", caption.server_ip)):
        info.add_itxt(key, value or "")
    buf = io.BytesIO()
    out.save(buf, format="PNG", pnginfo=info, compress_level=6)
    return buf.getvalue()
