"""The distributed mode at scale: a demo marketplace of >= 20,000 listings served by nginx.

    python -m bench distributed                 # 70 copies of the demo: 21,000+ listings
    python -m bench.bench_distributed --copies 10 --skip embedded   # smaller, fewer crawls
    python -m bench.bench_distributed --max-pages 3000              # each process stops at 3,000 pages

1. **The big site**: the demo catalog (without the browser-only kids category) copied ``--copies``
   times (shops and listings with new ids), every page rendered once by the demo server's own
   ``respond()`` into files -- with every file the pages refer to: product pictures, the shops'
   licence pictures, scripts -- served by Debian's nginx-light (one worker process; the server is
   not the bottleneck). Without nginx the step says so and the crawl rows are skipped.
2. **Pages/s** of: the bare spider (parse only), one embedded ``netsword crawl`` process, one
   ``netsword worker``, two workers -- all through the full pipeline (no finding screenshots),
   robots.txt obeyed, no delay, AutoThrottle off; and the scaling ratio of two workers to one. The
   full pipeline fetches, hashes and keeps the pictures, and reads them when the project's settings say
   so (``IMAGES_OCR``): a line under the embedded row says what it did. CPU per page (ms) of the bare
   and the embedded crawl: the process with its threads and helper processes, and the reactor thread
   alone (what one core must carry; the other threads run beside it), from the spider's opening --
   figures less sensitive to other load on the machine than pages/s.
   A worker's rate is its sweep's pages over the time from the first worker's start to the last
   one's end (heartbeats in Redis).
3. **Frontier memory per million URLs** (Redis ``used_memory``): the Bloom filter at its default
   size (10 million URLs, error 1e-7) and scrapy-redis's set of fingerprints.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEED = {"AUTOTHROTTLE_ENABLED": "False", "DOWNLOAD_DELAY": "0", "CONCURRENT_REQUESTS": "16",
         "CONCURRENT_REQUESTS_PER_DOMAIN": "16", "NETSWORD_MAX_PAGES": "10000000",
         "EVIDENCE_FINDING_SCREENSHOTS": "False", "NETSWORD_PROGRESS_INTERVAL": "0"}
_LINK = re.compile(r'(?:href|src)="(/[^"#]*)"')
#: files that are not pages: kept as rendered, not searched for links
_NOT_PAGES = (".txt", ".svg", ".png", ".jpg", ".js")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def big_catalog(copies: int) -> dict:
    data = json.loads((ROOT / "crawler" / "demo" / "catalog.json").read_text(encoding="utf-8"))
    cats = [c for c in data["categories"] if c["slug"] != "kids"]
    base = [x for x in data["listings"] if x["category"] != "kids"]
    shops, listings = [], []
    for k in range(copies):
        for s in data["shops"]:
            shops.append({**s, "id": f"{s['id']}c{k}", "name": f"{s['name']}{k}"})
        for x in base:
            listings.append({**x, "id": f"{x['id']}c{k}", "shop_id": f"{x['shop_id']}c{k}"})
    return {**data, "categories": cats, "shops": shops, "listings": listings}


def render_site(catalog: dict, root: Path) -> int:
    """Every page reachable from / (but search and the JSON API) and every file the pages refer to (pictures:
    product photos, licence pictures; scripts), as files nginx serves; how many."""
    from crawler.demo.server import DemoServer

    demo = DemoServer(catalog=catalog)
    seen, todo = {"/"}, deque(["/", "/robots.txt"])
    n = 0
    while todo:
        path = todo.popleft()
        status, _headers, body = demo.respond(path, {"host": "127.0.0.1"})
        if status != 200:
            continue
        rel = path.lstrip("/")
        target = root / (rel + "index.html" if rel == "" or rel.endswith("/") else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        n += 1
        if path.endswith(_NOT_PAGES):
            continue
        for href in _LINK.findall(body.decode("utf-8", "replace")):
            href = href.replace("&amp;", "&")
            if href.startswith(("/search", "/api/")) or href in seen:
                continue
            seen.add(href)
            todo.append(href)
    return n


def start_nginx(root: Path, work: Path) -> tuple[subprocess.Popen, str] | None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        return None
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(f"""daemon off; worker_processes 1; user root; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; keepalive_requests 100000; types {{ text/plain txt; image/svg+xml svg; image/png png;
    image/jpeg jpg; application/javascript js; }}
  default_type "text/html; charset=utf-8"; client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp;
  fastcgi_temp_path {work}/tmp; uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  server {{ listen 127.0.0.1:{port}; root {root};
    location / {{ try_files "$uri$is_args$args" "${{uri}}index.html" =404; }} }}
}}
""")
    (work / "tmp").mkdir(exist_ok=True)
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    return None


def start_redis(work: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(work)], stdout=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def _sets(extra: dict[str, str]) -> list[str]:
    return [arg for k, v in extra.items() for arg in ("-s", f"{k}={v}")]


def embedded(url: str, mode: str) -> dict:
    """The stats of one crawl in its own process (bench_crawl's child: bare or full)."""
    from bench.bench_crawl import crawl

    extra = ":".join(f"{k}={v}" for k, v in SPEED.items() if k not in ("AUTOTHROTTLE_ENABLED", "DOWNLOAD_DELAY"))
    bare = ":".join(f"{k}={v}" for k, v in SPEED.items() if k == "CLOSESPIDER_PAGECOUNT")
    return crawl(f"bare:{bare}" if mode == "bare" and bare else mode if mode == "bare" else f"full:{extra}", url)


def pictures_line(stats: dict) -> str:
    """What the full pipeline did with pictures, and whether OCR ran (IMAGES_OCR, the project's setting)."""
    from crawler import settings

    get = stats.get
    read, cached, hashed = get("images/read", 0), get("images/cached", 0), get("images/hashed", 0)
    ocr = (f"OCR on (IMAGES_OCR=True): {read} pictures read, {cached} from the cache"
           + ("" if read or cached else " (none large enough to read)") if settings.IMAGES_OCR else
           f"OCR off (IMAGES_OCR=False): {hashed} pictures hashed only")
    small = get("images/too_small", 0)
    return (f"  pictures: {get('images/requested', 0)} requested, {get('images/stored', 0) + small} fetched, hashed "
            f"and kept ({small} not to be read: too small or not a bitmap, as the demo's SVG licences), "
            f"{get('images/failed', 0)} failed; {ocr}")


def distributed(url: str, redis_url: str, workers: int, sweep_id: str,
                extra: dict[str, str] | None = None) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as home:
        env = {**os.environ, "NETSWORD_HOME": home, "NETSWORD_REDIS_URL": redis_url}
        subprocess.run([sys.executable, "-m", "cli", "crawl", "--site", "demo", "--base-url", url, "--distributed",
                        "--sweep-id", sweep_id], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        sets = _sets({**SPEED, **(extra or {})})
        procs = [subprocess.Popen([sys.executable, "-m", "cli", "worker", "--once", "--sweep", sweep_id, "--id",
                                   f"w{i}", *sets], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
                 for i in range(workers)]
        for p in procs:
            p.wait()
        import redis

        beats = [json.loads(v) for v in redis.Redis.from_url(redis_url).hgetall(
            f"netsword:sweep:{sweep_id}:workers").values()]
    pages = sum(int(b["stats"].get("response_received_count", 0)) for b in beats)
    span = max(b["time"] for b in beats) - min(b["started"] for b in beats)
    return pages, span


def frontier_memory(redis_url: str, n: int = 1_000_000) -> list[tuple[str, float]]:
    import hashlib

    import redis

    from crawler.distributed.dupefilter import BloomDupeFilter, positions

    r = redis.Redis.from_url(redis_url)
    out = []
    r.flushdb()
    base = r.info("memory")["used_memory"]
    bloom = BloomDupeFilter(r, "bench:bloom")
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        fp = hashlib.sha1(f"https://shop.example/item/{i}.html".encode()).hexdigest()
        args = []
        for pos in positions(fp, bloom.bits, bloom.hashes):
            args += ["SET", "u1", pos, 1]
        pipe.execute_command("BITFIELD", bloom.key, *args)
        if i % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    used = r.info("memory")["used_memory"] - base
    out.append((f"Bloom filter (10M capacity, error 1e-7, {bloom.hashes} hashes), MB for {n:,} URLs",
                used / 1e6))
    r.flushdb()
    base = r.info("memory")["used_memory"]
    for start in range(0, n, 10_000):
        r.sadd("bench:set", *(hashlib.sha1(f"https://shop.example/item/{i}.html".encode()).hexdigest()
                              for i in range(start, min(n, start + 10_000))))
    used_set = r.info("memory")["used_memory"] - base
    out.append((f"scrapy-redis set of fingerprints, MB for {n:,} URLs", used_set / 1e6))
    out.append(("  projected for 10 million URLs: Bloom / set, MB", 0.0))
    out[-1] = (f"  projected for 10 million URLs: Bloom {used / 1e6:.0f} MB (fixed size) / set "
               f"{used_set * 10 / 1e6:.0f} MB", 0.0)
    r.flushdb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench_distributed")
    ap.add_argument("--copies", type=int, default=70, help="copies of the demo catalog (70: 21,000+ listings)")
    ap.add_argument("--skip", nargs="*", default=[], help="rows to leave out: bare embedded worker1 worker2 memory")
    ap.add_argument("--max-pages", type=int, default=0,
                    help="pages per crawling process (CLOSESPIDER_PAGECOUNT; 0: the whole site) for a shorter run")
    args = ap.parse_args(sys.argv[1:])
    if args.max_pages:
        SPEED["CLOSESPIDER_PAGECOUNT"] = str(args.max_pages)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-bigsite-") as tmp:
        work = Path(tmp)
        catalog = big_catalog(args.copies)
        t0 = time.monotonic()
        files = render_site(catalog, work / "site")
        print(f"big demo site: {len(catalog['listings']):,} listings, {len(catalog['shops']):,} shops, {files:,} "
              f"pages rendered in {time.monotonic() - t0:.0f} s; load {os.getloadavg()[0]:.1f}")
        redis_proc, redis_url = start_redis(work)
        served = start_nginx(work / "site", work)
        rows: list[tuple[str, int, float]] = []
        cpu: dict[str, float] = {}  # CPU ms per page: all of the crawl's threads and helper processes
        reactor: dict[str, float] = {}  # the reactor thread's alone
        try:
            if served is None:
                print("nginx not installed (scripts/ensure-redis.sh installs nginx-light): crawl rows skipped")
            else:
                nginx, url = served
                try:
                    plan = [("bare spider (parse only), 1 process", "bare"),
                            ("embedded netsword crawl, 1 process", "embedded"),
                            ("netsword worker x1", "worker1"), ("netsword worker x2", "worker2")]
                    for name, key in plan:
                        if key in args.skip:
                            continue
                        if key in ("bare", "embedded"):
                            from bench.bench_crawl import cpu_ms_per_page, reactor_ms_per_page, seconds

                            stats = embedded(url, "bare" if key == "bare" else "full")
                            pages, secs = int(stats.get("response_received_count", 0)), seconds(stats)
                            cpu[name], reactor[name] = cpu_ms_per_page(stats), reactor_ms_per_page(stats)
                            if key == "embedded":
                                print(pictures_line(stats))
                        else:
                            pages, secs = distributed(url, redis_url, int(key[-1]), f"bench-{key}")
                        rows.append((name, pages, secs))
                        print(f"  {name}: {pages} pages, {secs:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
                finally:
                    nginx.terminate()
                    nginx.wait()
            print(f"\n{'crawl (full pipeline, no finding screenshots)':48} {'pages':>7} {'seconds':>8} {'pages/s':>8} "
                  f"{'CPU ms/page':>12} {'reactor ms/page':>16}")
            rate = {name: pages / secs for name, pages, secs in rows if secs}
            for name, pages, secs in rows:
                ms = f"{cpu[name]:12.2f} {reactor[name]:16.2f}" if cpu.get(name) else ""
                print(f"{name:48} {pages:7d} {secs:8.1f} {rate.get(name, 0):8.1f} {ms}")
            one, two = rate.get("netsword worker x1"), rate.get("netsword worker x2")
            if one and two:
                print(f"scaling: two workers / one = {two / one:.2f}x (target >= 1.7x; 2 cores, shared)")
            bare, full = rate.get("bare spider (parse only), 1 process"), rate.get("embedded netsword crawl, 1 process")
            if bare and full:
                print(f"full pipeline / bare spider, one process = {full / bare:.0%} (target >= 70%)")
                names = ("bare spider (parse only), 1 process", "embedded netsword crawl, 1 process")
                (cb, cf), (rb, rf) = (cpu.get(n) for n in names), (reactor.get(n) for n in names)
                if cb and cf and rb and rf:
                    print(f"  by CPU per page, bare / full: all threads and helper processes {cb / cf:.0%}, the "
                          f"reactor thread {rb / rf:.0%} (from the spider's opening; less load-sensitive than pages/s)")
            if "memory" not in args.skip:
                print()
                for name, mb in frontier_memory(redis_url):
                    print(f"{name:70} {mb:8.1f}" if mb else name)
            print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            redis_proc.terminate()
            redis_proc.wait()


if __name__ == "__main__":
    main()
