"""Crawl speed: a bare Scrapy spider that only parses vs the whole netsword pipeline, on the demo.

    python -m bench crawl

The demo marketplace is served by its own process (so it does not share the crawler's core);
each crawl runs in a fresh process. Both crawls fetch the same pages with the same profile
(HTTP pages, the JavaScript category in Chromium), robots.txt obeyed, no delay, AutoThrottle off:

* **bare**  -- the generic spider: fetch + parse the profile's fields into items, nothing else;
* **full**  -- ``netsword crawl``: + normalise, all rules, evidence (HTML snapshots, WARC, manifest,
  screenshots of browser pages and of listings with findings), SQLite store, frontier, page states.

``--profile`` writes a cProfile of the full crawl to var/bench-crawl.prof.
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


def serve_demo() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "crawler.demo.server"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _child(mode: str, url: str, home: str, out: str, profile: bool = False) -> None:
    """Run one crawl in this (fresh) process and write its stats to ``out``."""
    os.environ["NETSWORD_HOME"] = home
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
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(ListingSpider)
        process.crawl(crawler, site="demo", base_url=url)
        process.start()
        stats = crawler.stats.get_stats()
    Path(out).write_text(json.dumps({k: v for k, v in stats.items() if isinstance(v, int | float | str)}))


def crawl(mode: str, url: str, profile: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{mode}-") as home:
        out = Path(home) / "stats.json"
        cmd = [sys.executable, "-m", "bench.bench_crawl", "--child", mode, url, home, str(out)]
        if profile:
            cmd.append("--profile")
        t0 = time.monotonic()
        subprocess.run(cmd, cwd=ROOT, check=True)
        wall = time.monotonic() - t0
        stats = json.loads(out.read_text())
    stats["wall"] = wall
    return stats


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--child"]:
        _child(args[1], args[2], args[3], args[4], profile="--profile" in args)
        return
    server, url = serve_demo()
    try:
        crawl("bare", url)  # warm-up: OS caches, Chromium first start
        rows = [("bare spider (parse only)", crawl("bare", url)),
                ("full netsword pipeline", crawl("full", url, profile="--profile" in args))]
        rows += [(f"variant {v}", crawl(v, url)) for v in args if v.startswith("full:")]
    finally:
        server.terminate()
        server.wait()
    print(f"{'crawl':28} {'pages':>6} {'browser':>8} {'seconds':>8} {'pages/s':>8} {'share':>6}")
    base = None
    for name, s in rows:
        pages, secs = s.get("response_received_count", 0), s.get("elapsed_time_seconds") or s["wall"]
        rate = pages / secs if secs else 0.0
        base = base or rate
        print(f"{name:28} {pages:6d} {s.get('netsword/browser/pages', s.get('playwright/page_count', 0)):8d} "
              f"{secs:8.1f} {rate:8.1f} {rate / base:6.0%}")
    print("(target: full >= 50% of bare; both fetch the same pages, robots.txt obeyed, no delay)")
    full = rows[1][1]
    print(f"full: {full.get('evidence/finding_screenshots', 0)} finding screenshots, "
          f"{full.get('evidence/finding_screenshot_seconds', 0):.1f} s rendering + queueing, summed (background)")


if __name__ == "__main__":
    main()
