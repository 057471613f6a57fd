"""Browser pages at scale: pages/s and memory after 500, 1,000 and 2,000 browser pages of the demo.

    python -m bench browser            # 2,000 pages
    python -m bench.bench_browser 600  # fewer, for a quick look

Every listing page of the demo is fetched through Chromium (``render: browser``; the URLs repeat
with ``?r=N`` to reach the count), with the whole pipeline: a full-page screenshot of every page,
normalise, rules, evidence, SQLite. Printed: browser pages/s, the crawl process's RSS, and the
proportional memory (PSS) of the browser's processes at each milestone; memory should stay flat
(contexts are recycled every NETSWORD_BROWSER_RECYCLE_PAGES pages).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_crawl import ROOT, serve_demo

MILESTONES = (500, 1000, 2000)


def profile_yaml(base: str, ids: list[str], pages: int) -> str:
    urls = [f"{base}/item/{ids[i % len(ids)]}.html?r={i // len(ids)}" for i in range(pages)]
    demo = (ROOT / "crawler" / "sites" / "demo.yml").read_text(encoding="utf-8")
    fields = demo[demo.index("    fields:\n      listing_id"):demo.index("  shop:")]
    lines = "\n".join(f"  - '{u}'" for u in urls)
    return (f"site: demobrowser\nname: 演示商城（浏览器）\nstart_urls:\n{lines}\nallowed_domains: [127.0.0.1]\n"
            f"politeness: {{concurrency: 8, delay: 0, autothrottle: false}}\n"
            f"pages:\n  listing:\n    type: listing\n    match: ['^/item/']\n    render: browser\n{fields}")


def main() -> None:
    args = [a for a in sys.argv[1:] if a.isdigit()]
    total = int(args[0]) if args else MILESTONES[-1]
    milestones = [m for m in MILESTONES if m <= total] or [total]
    catalog = json.loads((ROOT / "crawler" / "demo" / "catalog.json").read_text(encoding="utf-8"))
    ids = sorted(x["id"] for x in catalog["listings"])
    server, url = serve_demo()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
            sites = Path(tmp) / "sites"
            sites.mkdir()
            (sites / "demobrowser.yml").write_text(profile_yaml(url, ids, total), encoding="utf-8")
            env = {**os.environ, "NETSWORD_HOME": str(Path(tmp) / "home"), "NETSWORD_SITES_DIR": str(sites)}
            env.pop("NETSWORD_STORE", None)
            cmd = [sys.executable, "-m", "cli", "crawl", "--site", "demobrowser", "--sweep-id", "bench-browser",
                   "-s", f"NETSWORD_BROWSER_MEMORY_AT={','.join(map(str, milestones))}",
                   "-s", "CONCURRENT_REQUESTS=16", "-s", "NETSWORD_PROGRESS_INTERVAL=0"]
            t0 = time.monotonic()
            subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
            wall = time.monotonic() - t0
            import sqlite3

            db = sqlite3.connect(Path(tmp) / "home" / "netsword.db")
            stats = json.loads(db.execute("select stats from sweeps").fetchone()[0])
            db.close()
    finally:
        server.terminate()
        server.wait()
    pages = stats.get("netsword/browser/pages", 0)
    secs = stats.get("elapsed_time_seconds") or wall
    print(f"{pages} browser pages in {secs:.0f} s: {pages / secs:.1f} pages/s (target >= 5), "
          f"{stats.get('netsword/browser/screenshots', 0)} screenshots, "
          f"{stats.get('netsword/browser/contexts_recycled', 0)} contexts recycled, "
          f"failed {stats.get('netsword/pages/failed', 0)}")
    print(f"{'after pages':>12} {'crawler RSS MB':>15} {'browser PSS MB':>15}")
    first = None
    for m in milestones:
        rss, pss = stats.get(f"netsword/browser/rss_mb/{m}"), stats.get(f"netsword/browser/chromium_pss_mb/{m}")
        if rss is None:
            continue
        first = first or (rss, pss)
        print(f"{m:12d} {rss:15.0f} {pss:15.0f}")
    if first:
        last = (stats.get(f"netsword/browser/rss_mb/{milestones[-1]}"),
                stats.get(f"netsword/browser/chromium_pss_mb/{milestones[-1]}"))
        if last[0]:
            print(f"growth from {milestones[0]} to {milestones[-1]} pages: crawler {last[0] / first[0] - 1:+.0%}, "
                  f"browser {last[1] / first[1] - 1:+.0%} (target: within 20%)")


if __name__ == "__main__":
    main()
