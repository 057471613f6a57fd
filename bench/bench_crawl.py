"""Crawl speed: a bare Scrapy spider that only parses vs the whole netsword pipeline, on the demo.

    python -m bench crawl
    python -m bench.bench_crawl --repeat 3 full:EVIDENCE_RENDER_CONCURRENCY=3   # + a variant

The demo marketplace is served by its own process (so it does not share the crawler's core);
each crawl runs in a fresh process with a fresh home. All crawls fetch the same pages with the
same profile (HTTP pages, the JavaScript category in Chromium), robots.txt obeyed, no delay,
AutoThrottle off:

* **bare**  -- the generic spider: fetch + parse the profile's fields into items, nothing else
  (no item pipelines, no frontier or incremental middleware, no job folder);
* **full**  -- ``netsword crawl``: + normalise, all rules, evidence (HTML snapshots, WARC, manifest,
  screenshots of browser pages and of listings with findings), SQLite store, frontier, page states;
* **full, offline shots only** -- flagged listings re-rendered from their stored HTML
  (``EVIDENCE_LIVE_SCREENSHOTS=False``) instead of loaded live from the site;
* **full, no finding screenshots** -- the same without rendering the listings with findings.

Each crawl is run ``--repeat`` times (2), the kinds taking turns so that all see the same load
(the machine is shared); the table shows each kind's fastest run, the line under it every run.
``seconds`` is the crawl itself (spider opened to closed, as Scrapy's ``elapsed_time_seconds``:
for the full pipeline it includes waiting for the last screenshots); ``start-up`` is the process
before it (imports; for the full pipeline also rule packs, stores and jieba's dictionary).

``CPU ms/page``: the crawl's process (all its threads) and its helper processes (OCR workers, browsers)
from the spider's opening to the end, per page: less sensitive to other load than pages/s.

``--profile`` writes a cProfile of one full crawl to var/bench-crawl.prof; for all threads and the
browser processes use py-spy on a child (``python -m bench.bench_crawl --child full URL HOME OUT``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEED = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS": 16,
         "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "LOG_LEVEL": "WARNING", "NETSWORD_PROGRESS_INTERVAL": 0}
#: The crawls of the table: (row name, mode).
KINDS = [("bare spider (parse only)", "bare"), ("full netsword pipeline", "full"),
         ("full, offline shots only", "full:EVIDENCE_LIVE_SCREENSHOTS=False"),
         ("full, no finding screenshots", "full:EVIDENCE_FINDING_SCREENSHOTS=False")]


def serve_demo() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "crawler.demo.server"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _child(mode: str, url: str, home: str, out: str, profile: bool = False) -> None:
    """Run one crawl in this (fresh) process and write its stats to ``out``."""
    started = time.time()
    os.environ["NETSWORD_HOME"] = home
    cpu_open = _cpu_mark()
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    sys.path.insert(0, str(ROOT))
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.runner import run_sweep
    from crawler.spiders.listing import ListingSpider

    if mode.startswith("full"):
        extra = dict(SPEED)
        for part in mode.split(":")[1:]:  # full:NAME=VALUE:... for experiments
            name, _, value = part.partition("=")
            extra[name] = value
        # the spider's profile politeness has spider priority; these are cmdline: they win
        run = lambda: run_sweep("demo", base_url=url, extra_settings=extra, quiet=False)  # noqa: E731
        if profile:
            import cProfile

            prof = cProfile.Profile()
            result = prof.runcall(run)
            prof.dump_stats(str(ROOT / "var" / "bench-crawl.prof"))
        else:
            result = run()
        stats = result.stats
    else:
        settings = get_project_settings()
        for k, v in {**SPEED, "ITEM_PIPELINES": {}, "SPIDER_MIDDLEWARES": {}, "EXTENSIONS": {
                "scrapy.extensions.remote_control.RemoteControl": None},
                "EVIDENCE_SCREENSHOTS": False, "NETSWORD_INCREMENTAL": False}.items():
            settings.set(k, v, priority="cmdline")
        settings.set("DOWNLOADER_MIDDLEWARES", {**settings.getdict("DOWNLOADER_MIDDLEWARES"),
                                                "crawler.incremental.IncrementalMiddleware": None}, priority="cmdline")
        for part in mode.split(":")[1:]:  # bare:NAME=VALUE:... (bench_distributed: CLOSESPIDER_PAGECOUNT)
            name, _, value = part.partition("=")
            settings.set(name, value, priority="cmdline")
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(ListingSpider)
        process.crawl(crawler, site="demo", base_url=url)
        process.start()
        stats = crawler.stats.get_stats()
    kept = {k: v for k, v in stats.items() if isinstance(v, int | float | str)}
    if cpu_open:  # CPU of this process before the spider opened (imports, rule packs, stores)
        kept["bench/startup_cpu_seconds"] = round(cpu_open[0], 3)
    if len(cpu_open) == 3:  # the reactor thread's own CPU while the spider was open (what one core must carry)
        kept["bench/reactor_cpu_seconds"] = round(cpu_open[2] - cpu_open[1], 3)
    if stats.get("start_time") is not None:
        kept["bench/startup_seconds"] = round(stats["start_time"].timestamp() - started, 3)
    Path(out).write_text(json.dumps(kept))


def _cpu_mark() -> list[float]:
    """A list that gets this process's CPU time (``time.process_time``) and the reactor thread's when a spider
    opens (any crawler's), then the reactor thread's when it closes."""
    from pydispatch import dispatcher
    from scrapy import signals

    mark: list[float] = []

    def opened(*_args: object, **_kwargs: object) -> None:
        mark[:] = [time.process_time(), time.thread_time()]

    def closed(*_args: object, **_kwargs: object) -> None:
        if len(mark) == 2:
            mark.append(time.thread_time())

    dispatcher.connect(opened, signal=signals.spider_opened, weak=False)
    dispatcher.connect(closed, signal=signals.spider_closed, weak=False)
    return mark


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_ms_per_page(stats: dict) -> float:
    """CPU per page fetched, in ms: the crawling process (all its threads) and its helper processes (OCR
    workers, browsers) from the spider's opening to the process's end. Less sensitive to other load than
    pages/s (a busy machine still costs some: caches, context switches)."""
    pages = stats.get("response_received_count", 0)
    cpu = stats.get("bench/cpu_seconds", 0.0) - stats.get("bench/startup_cpu_seconds", 0.0)
    return 1000 * cpu / pages if pages and cpu > 0 else 0.0


def reactor_ms_per_page(stats: dict) -> float:
    """The reactor thread's CPU per page fetched, in ms: the part of the work that one core carries (other
    threads and processes run beside it on the other cores)."""
    pages = stats.get("response_received_count", 0)
    return 1000 * stats.get("bench/reactor_cpu_seconds", 0.0) / pages if pages else 0.0


def crawl(mode: str, url: str, profile: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as home:
        out = Path(home) / "stats.json"
        cmd = [sys.executable, "-m", "bench.bench_crawl", "--child", mode, url, home, str(out)]
        if profile:
            cmd.append("--profile")
        t0, cpu0 = time.monotonic(), _children_cpu()
        subprocess.run(cmd, cwd=ROOT, check=True)
        wall, cpu = time.monotonic() - t0, _children_cpu() - cpu0
        stats = json.loads(out.read_text())
    stats["wall"] = wall
    stats["bench/cpu_seconds"] = round(cpu, 3)  # the child and its helper processes, start-up included
    return stats


def seconds(stats: dict) -> float:
    return stats.get("elapsed_time_seconds") or stats["wall"]


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--child"]:
        _child(args[1], args[2], args[3], args[4], profile="--profile" in args)
        return
    repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 2
    kinds = KINDS + [(f"variant {v}", v) for v in args if v.startswith("full:")]
    runs: dict[str, list[dict]] = {mode: [] for _, mode in kinds}
    server, url = serve_demo()
    try:
        crawl("bare", url)  # warm-up: OS caches, Chromium first start
        for n in range(repeat):
            for _, mode in kinds:  # taking turns: every kind sees the same load
                runs[mode].append(crawl(mode, url, profile="--profile" in args and n == 0 and mode == "full"))
    finally:
        server.terminate()
        server.wait()
    print(f"{'crawl':30} {'pages':>6} {'browser':>8} {'start-up':>9} {'seconds':>8} {'pages/s':>8} {'share':>6} "
          f"{'CPU ms/page':>12}")
    base = None
    for name, mode in kinds:
        s = min(runs[mode], key=seconds)  # the fastest run: the least disturbed by other work
        pages, secs = s.get("response_received_count", 0), seconds(s)
        rate = pages / secs if secs else 0.0
        base = base or rate
        print(f"{name:30} {pages:6d} {s.get('netsword/browser/pages', s.get('playwright/page_count', 0)):8d} "
              f"{s.get('bench/startup_seconds', 0):9.1f} {secs:8.1f} {rate:8.1f} {rate / base:6.0%} "
              f"{cpu_ms_per_page(s):12.2f}")
    print(f"(fastest of {repeat} runs each; target: full >= 50% of bare; robots.txt obeyed, no delay)")
    every = (f"{name.split(' (')[0]} " + " ".join(f"{seconds(s):.1f}" for s in runs[mode]) for name, mode in kinds)
    print("every run, seconds: " + "; ".join(every))
    pages = {mode: {s.get("response_received_count") for s in runs[mode]} for _, mode in kinds}
    if len(set().union(*pages.values())) != 1:
        print(f"WARNING: the crawls did not fetch the same number of pages: {pages}")
    full = min(runs["full"], key=seconds)
    print(f"full: {full.get('evidence/finding_screenshots', 0)} finding screenshots "
          f"(live {full.get('evidence/finding_screenshots_live', 0)}, "
          f"offline {full.get('evidence/finding_screenshots_offline', 0)}, "
          f"{full.get('evidence/screenshot_failed', 0)} failed), "
          f"{full.get('evidence/finding_screenshot_seconds', 0):.1f} s rendering + queueing, summed (background)")


if __name__ == "__main__":
    main()
