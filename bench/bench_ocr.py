"""Pictures (issue 14): OCR accuracy and speed, and what OCR costs a sweep.

    python -m bench ocr
    python -m bench.bench_ocr --no-sweeps      # accuracy and images/s only

Tables:

1. **Character error rate** (edit distance / reference length, spaces and punctuation left out) on
   (a) the demo marketplace's pictures (detail pictures and sharp licences, as ``crawler/demo/pictures.py``
   draws them), (b) a set of 36 pictures made differently: the CJK fonts installed (sans and serif,
   regular and bold), sizes 20-60 px, dark and coloured backgrounds, noise, JPEG artefacts, a few
   degrees of rotation (:func:`varied_set`, a fixed seed). Target: CER <= 5% on both.
2. **Speed**: pictures per second on one core (one thread) for a 750 px wide detail picture of 8 lines
   (the shape of a marketplace's 详情图), and CPU seconds per picture (what a shared machine does not
   distort). Target: >= 2 per core.

3. **Sweeps** of the demo marketplace with OCR on and off (``IMAGES_OCR``), each with an empty OCR cache:
   pages fetched per second while crawling (first to last page fetch, from the manifest), and the whole
   sweep's seconds (with OCR: until the last picture is read). Target: pages/s with OCR >= 80% of without.
Tables 1 and 2 have a row per OCR runtime installed (OpenVINO, the default, and onnxruntime, the
fallback), each measured in its own process (``NETSWORD_OCR_RUNTIME``).
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SENTENCES = (
    "限时特惠 全场包邮", "本品采用优质原料精心制作", "产地浙江杭州 保质期十二个月", "请置于阴凉干燥处保存",
    "规格500克每袋 净含量以实物为准", "支持七天无理由退货", "官方授权正品 假一赔十", "国家级非遗工艺 传承百年",
    "全网销量第一 品质保证", "三天见效 无效退款", "统一社会信用代码91330106MA2B3C4D5E", "客服电话0571-88776655",
    "儿童安全座椅 适用9个月至12岁", "新鲜直达 坏果包赔", "面料棉麻混纺 可机洗", "额定电压220V 功率1500W",
)


def _plain(text: str) -> str:
    """The characters compared: letters, digits and CJK (spaces and punctuation differ by font, not meaning)."""
    return "".join(ch for ch in text if ch.isalnum())


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(pairs: list[tuple[str, str]]) -> tuple[float, int]:
    """(character error rate over all pairs, reference characters)."""
    errors = sum(edit_distance(_plain(ref), _plain(hyp)) for ref, hyp in pairs)
    total = sum(len(_plain(ref)) for ref, _ in pairs)
    return errors / max(1, total), total


def demo_set() -> list[tuple[str, bytes]]:
    """(reference text, picture) for the demo's detail pictures and sharp licences."""
    from crawler.demo.pictures import picture_text, render

    catalog = json.loads((ROOT / "crawler" / "demo" / "catalog.json").read_text(encoding="utf-8"))
    specs = catalog["pictures"]
    out = []
    for spec in specs.values():
        if spec.get("kind") == "detail":
            out.append((picture_text(spec, specs), render(spec, specs)))
        elif spec.get("kind") == "license" and not spec.get("blur"):
            ref = "\n".join([f"营业执照 统一社会信用代码 {spec['uscc']} 名称 {spec['name']}",
                             f"类型 {spec.get('type', '有限责任公司')} 住所 {spec['address']}",
                             f"经营范围 {spec.get('scope', '日用百货、预包装食品销售')} 网剑演示商城 仅用于演示"])
            out.append((ref, render(spec, specs)))
    return out


def _fonts() -> list[tuple[str, int]]:
    candidates = [("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
                  ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
                  ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
                  ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2),
                  ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0)]
    return [(p, i) for p, i in candidates if Path(p).is_file()]


def varied_set(n: int = 36, seed: int = 14) -> list[tuple[str, bytes, str]]:
    """(reference, picture, how it was made) for ``n`` pictures unlike the demo's."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = random.Random(seed)
    fonts = _fonts()
    out = []
    for k in range(n):
        path, index = fonts[k % len(fonts)]
        size = rng.choice([20, 24, 28, 34, 40, 48, 60])
        font = ImageFont.truetype(path, size, index=index)
        lines = rng.sample(SENTENCES, rng.randint(2, 4))
        dark = k % 4 == 1
        light = (rng.randint(200, 255), rng.randint(190, 255), rng.randint(180, 255))
        bg = (rng.randint(10, 60),) * 3 if dark else light
        fg = (rng.randint(220, 255), rng.randint(200, 255), rng.randint(120, 255)) if dark else \
            (rng.randint(0, 90), rng.randint(0, 60), rng.randint(0, 120))
        width = max(int(max(font.getlength(t) for t in lines)) + 80, 400)
        img = Image.new("RGB", (width, int(size * 1.9) * len(lines) + 80), bg)
        d = ImageDraw.Draw(img)
        if k % 3 == 2:  # stripes behind the text
            for x in range(0, width, 40):
                d.rectangle((x, 0, x + 18, img.height), fill=tuple(max(0, c - 25) for c in bg))
        for i, t in enumerate(lines):
            d.text((40, 40 + int(size * 1.9) * i), t, font=font, fill=fg)
        how = [f"{Path(path).stem} {size}px", "dark" if dark else "light"]
        angle = rng.choice([0, 0, -3, -2, 2, 3])
        if angle:
            img = img.rotate(angle, expand=True, fillcolor=bg, resample=Image.Resampling.BICUBIC)
            how.append(f"rotated {angle}°")
        if k % 2 == 0:
            import numpy as np

            arr = np.asarray(img).astype("int16") + np.random.default_rng(k).normal(0, 12, (img.height, img.width, 3))
            img = Image.fromarray(arr.clip(0, 255).astype("uint8"))
            how.append("noise")
        if k % 5 == 4:
            img = img.filter(ImageFilter.GaussianBlur(0.8))
            how.append("soft")
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.choice([60, 75, 90]))
        out.append(("\n".join(lines), buf.getvalue(), ", ".join(how)))
    return out


def detail_picture(lines: int = 8) -> bytes:
    from crawler.demo.pictures import render

    text = [SENTENCES[i % len(SENTENCES)] for i in range(lines)]
    return render({"kind": "detail", "title": "商品详情", "lines": text, "seed": 3})


def measure(rounds: int = 3, runs: int = 10) -> dict[str, Any]:
    """CER on both sets and the speed on the detail picture, with the runtime :data:`RUNTIME_ENV` names (this
    process loads one engine: the parent runs one child per runtime)."""
    from PIL import Image

    from pipelines.images import read_image
    from pipelines.images.ocr import engine_runtime, load_engine

    engine = load_engine(1)
    precision = getattr(engine.text_det.infer, "precision", "f32")  # an OpenVinoSession says, onnxruntime: f32
    out: dict[str, Any] = {"runtime": engine_runtime(), "precision": precision, "sets": [], "hardest": []}
    for name, items in (("demo marketplace (detail + licence pictures)", [(r, d, "") for r, d in demo_set()]),
                        ("36 pictures made differently", varied_set())):
        pairs, t0, cpu0 = [], time.monotonic(), time.process_time()
        for ref, data, how in items:
            hyp = "".join(ln.text for ln in read_image(data))
            pairs.append((ref, hyp))
            if how:
                out["hardest"].append((cer([(ref, hyp)])[0], how))
        rate, chars = cer(pairs)
        out["sets"].append({"name": name, "pictures": len(items), "chars": chars, "cer": rate,
                            "cpu": (time.process_time() - cpu0) / len(items)})
    out["hardest"] = sorted(out["hardest"], reverse=True)[:4]
    data = detail_picture()
    out["size"] = "x".join(map(str, Image.open(io.BytesIO(data)).size))
    read_image(data)  # warm-up
    out["rounds"] = []
    for _ in range(rounds):
        t0, cpu0 = time.monotonic(), time.process_time()
        for _ in range(runs):
            read_image(data)
        out["rounds"].append({"wall": (time.monotonic() - t0) / runs, "cpu": (time.process_time() - cpu0) / runs})
    out["runs"] = runs
    return out


def _measure_in_child(runtime: str) -> dict[str, Any] | None:
    from pipelines.images.ocr import RUNTIME_ENV

    proc = subprocess.run([sys.executable, "-m", "bench.bench_ocr", "--measure"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, RUNTIME_ENV: runtime})
    if proc.returncode:
        print(f"{runtime}: failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    if found["runtime"] != runtime:
        print(f"{runtime}: not available here (read with {found['runtime']}); left out")
        return None
    return found


def accuracy_and_speed() -> None:
    from pipelines.images.ocr import RUNTIMES

    results = [r for r in (_measure_in_child(rt) for rt in RUNTIMES) if r]
    print(f"{'set':44} {'runtime':>11} {'pictures':>8} {'chars':>6} {'CER':>6} {'CPU s/picture':>13}")
    for i in range(2):
        for r in results:
            st = r["sets"][i]
            print(f"{st['name']:44} {r['runtime']:>11} {st['pictures']:8d} {st['chars']:6d} {st['cer']:6.1%} "
                  f"{st['cpu']:13.2f}")
    for r in results:
        print(f"hardest of the varied set ({r['runtime']}): " +
              "; ".join(f"{how} {c:.0%}" for c, how in r["hardest"]))
    print("(target: CER <= 5%; compared: letters, digits and CJK characters)")
    print()
    print(f"{'picture':28} {'runtime':>16} {'runs':>5} {'s/picture':>10} {'pictures/s':>11} {'CPU s/picture':>14} "
          f"{'per core':>9}")
    for r in results:
        walls = [x["wall"] for x in r["rounds"]]
        cpus = [x["cpu"] for x in r["rounds"]]
        n = r["runs"] * len(r["rounds"])
        label = f"{r['runtime']} {r['precision']}"
        print(f"{'detail ' + r['size'] + ', 8 lines':28} {label:>16} {n:5d} {min(walls):10.2f} {1 / min(walls):11.2f} "
              f" {f'{min(cpus):.2f}-{max(cpus):.2f}':>14} {1 / min(cpus):9.2f}")
    print(f"(one thread: one core; the default runtime is the first; s/picture and pictures/s: the best of "
          f"{len(results[0]['rounds']) if results else 0} rounds; CPU s/picture: the spread over the rounds, "
          "which leaves out time the shared machine gave to other work; per core = 1 / the best CPU s/picture; "
          "target >= 2 pictures/s per core)")


def _sweep(url: str, ocr: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as home:
        out = Path(home) / "stats.json"
        env = {**os.environ, "NETSWORD_CACHE_DIR": str(Path(home) / "cache")}  # an empty OCR cache
        mode = "full" if ocr else "full:IMAGES_OCR=False"
        subprocess.run([sys.executable, "-m", "bench.bench_crawl", "--child", mode, url, home, str(out)], cwd=ROOT,
                       check=True, env=env)
        stats = json.loads(out.read_text())
        manifest = next((Path(home) / "evidence" / "manifests").glob("*.jsonl"))
        times = [datetime.fromisoformat(e["fetched_at"]) for e in map(json.loads, manifest.read_text().splitlines())
                 if e.get("kind") not in ("image", "screenshot") and e.get("fetched_at")]
    stats["bench/pages"] = len(times)
    stats["bench/crawl_seconds"] = (max(times) - min(times)).total_seconds()
    return stats


def sweeps(repeat: int = 1) -> None:
    from bench.bench_crawl import serve_demo

    server, url = serve_demo()
    runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    try:
        for _ in range(repeat):
            for ocr in (False, True):
                runs[ocr].append(_sweep(url, ocr))
    finally:
        server.terminate()
        server.wait()
    print(f"{'demo sweep':16} {'pages':>6} {'crawling s':>10} {'pages/s':>8} {'share':>6} {'sweep s':>8} "
          f"{'pictures':>8} {'read':>5} {'OCR s':>6}")
    base = None
    for ocr in (False, True):
        s = max(runs[ocr], key=lambda x: x["bench/pages"] / max(x["bench/crawl_seconds"], 1e-9))
        rate = s["bench/pages"] / max(s["bench/crawl_seconds"], 1e-9)
        base = base or rate
        print(f"{'OCR on' if ocr else 'OCR off':16} {s['bench/pages']:6d} {s['bench/crawl_seconds']:10.1f} "
              f"{rate:8.1f} {rate / base:6.0%} {s.get('elapsed_time_seconds', 0):8.1f} "
              f"{s.get('images/stored', 0):8d} {s.get('images/read', 0):5d} {s.get('images/ocr_seconds', 0):6.1f}")
    print("(pages/s: first to last page fetch, from the manifest; sweep s: until every item is stored, with OCR "
          "until the last picture is read; an empty OCR cache each time; target: OCR on >= 80% of OCR off)")


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores (uptime)")
    if "--measure" in sys.argv:  # a child of accuracy_and_speed(): one runtime, figures as JSON
        print(json.dumps(measure()))
        return
    accuracy_and_speed()
    if "--no-sweeps" not in sys.argv:
        print()
        sweeps()


if __name__ == "__main__":
    main()
