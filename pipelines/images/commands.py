"""`netsword ocr FILE|URL`: what the OCR engine reads from one picture (for profile and rule writers)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

#: a picture bigger than this is refused (the same order as a profile's images.max_kb)
MAX_BYTES = 20 * 1024 * 1024


def _load(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        import urllib.request

        request = urllib.request.Request(source, headers={"User-Agent": "netsword-ocr/0.1"})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                data = resp.read(MAX_BYTES + 1)
        except OSError as exc:
            raise click.ClickException(f"{source}: cannot fetch: {exc}") from exc
    else:
        path = Path(source)
        if not path.is_file():
            raise click.ClickException(f"{source}: no such file (give a picture file or an http(s) URL)")
        data = path.read_bytes()[:MAX_BYTES + 1]
    if len(data) > MAX_BYTES:
        raise click.ClickException(f"{source}: bigger than {MAX_BYTES // 1024 // 1024} MB")
    return data


@click.command("ocr")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="lines as JSON (text, box, score), usable as `image_text` "
              "in `netsword rules explain -` input")
def ocr(source: str, as_json: bool) -> None:
    """识别图片中的文字 / what the OCR engine reads from one picture FILE or http(s) URL: each line with its box
    (x0,y0,x1,y1 in pixels) and confidence, the picture's perceptual hash, and for a licence its number."""
    from netsword.digests import sha256_bytes
    from pipelines.images.analysis import phash, read_license
    from pipelines.images.ocr import engine_version, read_image

    data = _load(source)
    t0 = time.monotonic()
    try:
        lines = read_image(data)
    except ValueError as exc:
        raise click.ClickException(f"{source}: {exc}") from exc
    seconds = time.monotonic() - t0
    status, number, name = read_license([ln.text for ln in lines])
    if as_json:
        click.echo(json.dumps({"source": source, "sha256": sha256_bytes(data), "phash": phash(data),
                               "engine": engine_version(), "seconds": round(seconds, 3),
                               "lines": [ln.to_dict() for ln in lines],
                               "license": {"status": status, "number": number, "name": name}},
                              ensure_ascii=False, indent=1))
        return
    click.echo(f"图片 / picture: {source}  sha256 {sha256_bytes(data)}  phash {phash(data)}")
    click.echo(f"引擎 / engine: {engine_version()}  用时 / took {seconds:.2f} s  行数 / lines: {len(lines)}")
    for ln in lines:
        box = ",".join(str(v) for v in ln.box)
        click.echo(f"  [{box:>19}] {ln.score:.2f}  {ln.text}")
    if number or name:
        click.echo(f"执照 / licence: {status} 编号 {number or '-'} 名称 {name or '-'}")
