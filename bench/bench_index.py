"""Indexing and search benchmark of the Store engines: SQLite beside the real search engine, in one run.

    python -m bench.bench_index [--findings 100000] [--listings 100000[,1000000]] [--repeat 7] [--db FILE]
                                [--heap 4g] [--skip-es] [--stand-in] [--skip-index] [--skip-search]

The real search engine is OpenSearch 2.19 from ``deploy/testengine`` (one JVM, ``--heap`` 4 GB by
default, started here on 127.0.0.1; built by ``make bench``), or a real Elasticsearch with
NETSWORD_TEST_ES_URL.

1. Indexing: ``--findings`` findings (two per listing, the way the crawl pipeline saves pages:
   snapshot record, listing, findings, resolve) into SQLite and the search engine (``--stand-in``:
   the noida-db Elasticsearch stand-in too). Prints findings/s and the documents written per second.
2. Search: 20 typical analyst queries over ``--listings`` listings (30% flagged, 1-3 findings each)
   in SQLite and in the search engine, p50/p95 over ``--repeat`` runs each, and over all of them.
   With several sizes (``--listings 100000,1000000``) each engine's corpus is built to the first
   size, queried, then grown to the next (the corpus of n listings is the first n of a larger one).

Corpora are built with each store's ``bulk_load()`` (the search engine: no periodic refresh, translog
flushed asynchronously), with a progress line every 100,000 listings and the load average
(``--db`` keeps the SQLite file for the next run).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.bench_store import BRANDS, GOODS, MODS, RULES
from crawler.items import CATEGORIES, Finding, ListingItem, ShopItem
from pipelines.store import SearchQuery, open_store

AT = "2026-06-01T00:00:00+00:00"


def items(n: int, sweep: str = "sw1", per_listing: int | None = None, flagged: float = 0.3,
          seed: int = 11) -> Iterator[ListingItem]:
    """``n`` synthetic Chinese listings, lazily; ``per_listing`` findings on every one, else on ``flagged`` of them.

    Cheap enough for a million: the random draws of a listing are a few ``choices`` calls, not one call per
    word (titles brand + modifier + goods + modifier, descriptions 5-20 words of the same vocabulary).
    Listing ``i`` belongs to one of the shops ``s0`` .. ``s{i // 40}``: about 40 listings per shop, older shops
    bigger, and the first ``n`` listings are the same whatever ``n`` (a corpus grows by appending)."""
    rnd = random.Random(seed)
    words = MODS + GOODS
    sites = ("bench", "mall")
    services = ("支持七天无理由退货", "不支持七天无理由退货", "")
    for i in range(n):
        brand, good = rnd.choice(BRANDS), rnd.choice(GOODS)
        mod1, mod2 = rnd.choices(MODS, k=2)
        title = f"{brand}{mod1}{good} {mod2}"
        shop_id = f"s{int(rnd.random() * (i // 40 + 1))}"
        site = sites[rnd.random() < 0.5]
        url = f"http://bench.test/item/{i}.html"
        item = ListingItem(url=url, site=site, sweep_id=sweep, status=200, fetched_at=AT,
                           html_sha256=f"{i:012d}".ljust(64, "0"), html_path=f"html/{i}.html.gz", listing_id=str(i),
                           shop_id=shop_id, shop_name=f"店铺{shop_id}", title=title,
                           description="".join(rnd.choices(words, k=5 + int(rnd.random() * 16))),
                           service=services[int(rnd.random() * 3)], price=round(5 + rnd.random() * 2995, 2))
        k = per_listing if per_listing is not None else (1 + int(rnd.random() * 3) if rnd.random() < flagged else 0)
        if k:
            sid = item.subject_id
            for rule_id, category, severity in rnd.sample(RULES, k):
                item.findings.append(Finding(
                    rule_id=rule_id, rule_version="1", pack=rule_id.split(".")[0], title=rule_id, category=category,
                    severity=severity, basis="《电子商务法》", subject_kind="listing", subject_id=sid, site=site,
                    shop_id=shop_id, url=url, field="title", matched=[title[:2]],
                    snippet=f"【{title[:6]}】{title[6:20]}", snapshot_sha256=item.html_sha256, sweep_id=sweep,
                    found_at=AT))
        yield item


def index_run(url: str, findings: int) -> tuple[int, float]:
    """Save ``findings // 2`` listings with two findings each; returns (findings written, seconds)."""
    store = open_store(url)
    try:
        store.start_sweep("sw1", "bench", AT, {})
        t0 = time.perf_counter()
        n = 0
        with store.bulk_load():  # a search engine refreshes once, at the end
            for item in items(findings // 2, per_listing=2):
                store.save(item)
                n += len(item.findings)
        secs = time.perf_counter() - t0
        counts = store.counts()
        assert counts["findings"] == n, counts
    finally:
        store.close()
    return n, secs


class Engines:
    """The search engines of this run, started once: the real one (OpenSearch from deploy/testengine, or
    NETSWORD_TEST_ES_URL) and the Elasticsearch stand-in; each entry (label, store URL base) or a reason."""

    def __init__(self, tmp: Path, skip: bool, heap: str = "4g") -> None:
        self.tmp = tmp
        self.servers: list[Any] = []
        self.found: list[tuple[str, str]] = []  # (label, "scheme://host")
        self.missing: list[tuple[str, str]] = []
        if skip:
            return
        real = os.environ.get("NETSWORD_TEST_ES_URL", "")
        if real:
            self.found.append(("Elasticsearch (NETSWORD_TEST_ES_URL)", "elasticsearch://" + real.split("://", 1)[1]
                               .rstrip("/")))
        from tests.store_contract.realengine import EngineUnavailable, TestEngine

        try:
            engine = TestEngine(tmp / "opensearch", heap=heap, quick_start=False)
            engine.home.mkdir(parents=True, exist_ok=True)
            engine.start()
            self.servers.append(engine)
            self.found.append((f"{engine.name} (1 JVM, {heap} heap)", f"opensearch://{engine.store_host}"))
            print(f"{engine.name} started in {engine.started_in:.1f} s", flush=True)
        except EngineUnavailable as e:
            self.missing.append(("OpenSearch (deploy/testengine)", str(e).splitlines()[0]))

    def stand_in(self) -> tuple[str, str] | None:
        from tests.store_contract.standin import StandIn, StandInUnavailable

        try:
            server = StandIn(self.tmp / "es").start()
        except StandInUnavailable as e:
            self.missing.append(("Elasticsearch stand-in", str(e)))
            return None
        self.servers.append(server)
        return "Elasticsearch stand-in (noida-db)", f"elasticsearch://{server.store_host}"

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def bench_indexing(findings: int, engines: Engines, stand_in: bool) -> None:
    print(f"{'indexing (load ' + _load() + ')':<34}{'findings':>10}{'seconds':>10}{'findings/s':>12}{'docs/s':>10}")
    tmp = engines.tmp
    n, secs = index_run(f"sqlite:///{tmp}/index.db", findings)
    rows = n + n // 2 + n // 2  # findings, listings, snapshot records
    print(f"{'SQLite (WAL, FTS5)':<34}{n:>10}{secs:>10.1f}{n / secs:>12.0f}{rows / secs:>10.0f}", flush=True)
    targets = list(engines.found)
    if stand_in and (extra := engines.stand_in()):
        targets.append(extra)
    for label, base in targets:
        # a long request timeout: the stand-in refreshes a 100k-document index slowly
        n, secs = index_run(f"{base}/bench?spool={tmp}/spool.jsonl&timeout=600", findings)
        # roots + findings + versions + snapshots: what the engine writes per listing page with 2 findings
        docs = n // 2 * 3 + n
        print(f"{label:<34}{n:>10}{secs:>10.1f}{n / secs:>12.0f}{docs / secs:>10.0f}", flush=True)
    for label, why in engines.missing:
        print(f"{label:<34}  skipped: {why}")


QUERIES: list[tuple[str, SearchQuery]] = [
    ("高仿 (flagged)", SearchQuery(text="高仿")),
    ("高仿 (all listings)", SearchQuery(text="高仿", flagged_only=False)),
    ("七天无理由 (all)", SearchQuery(text="七天无理由", flagged_only=False)),
    ("nike (all)", SearchQuery(text="nike", flagged_only=False)),
    ("仿 (one character)", SearchQuery(text="仿", flagged_only=False)),
    ("no text (default view)", SearchQuery()),
    ("category 假冒伪劣", SearchQuery(category=CATEGORIES[0])),
    ("category 广告 + site", SearchQuery(category=CATEGORIES[8], site="mall")),
    ("severity critical", SearchQuery(severity="critical")),
    ("高仿 + high/critical + <500", SearchQuery(text="高仿", severity=["high", "critical"], price_max=500)),
    ("one shop", SearchQuery(shop_id="s123", flagged_only=False)),
    ("假一赔十 (flagged)", SearchQuery(text="假一赔十")),
    ("全网最低价 + price category", SearchQuery(text="全网最低价", category=CATEGORIES[7])),
    ("国家级 (flagged)", SearchQuery(text="国家级")),
    ("耐克 高仿 (two terms)", SearchQuery(text="耐克 高仿")),
    ("运动鞋 -高仿 (exclusion)", SearchQuery(text="运动鞋 -高仿", flagged_only=False)),
    ("price 100-300 (flagged)", SearchQuery(price_min=100, price_max=300)),
    ("sweep sw1, critical", SearchQuery(sweep_id="sw1", severity="critical")),
    ("page 500 of 高仿", SearchQuery(text="高仿", offset=10_000)),
    ("including resolved, low", SearchQuery(severity="low", include_resolved=True)),
]


def fill_search_corpus(store: Any, listings: int, start: int = 0) -> None:
    """The search benchmark's corpus: ``listings`` listings (30% flagged) and their shops, one sweep. With
    ``start`` the store holds the first ``start`` of them already: the rest is appended."""
    if not start:
        store.start_sweep("sw1", "bench", AT, {})
    with store.bulk_load():
        for i in range(start // 40 + 1 if start else 0, listings // 40 + 1):
            store.upsert_shop(ShopItem(url=f"http://bench.test/shop/s{i}/", site="bench", shop_id=f"s{i}",
                                       name=f"店铺s{i}", operator=f"某某商贸有限公司{i}", fetched_at=AT))
        t0 = time.perf_counter()
        for n, item in enumerate(itertools.islice(items(listings), start, None), start + 1):
            store.save(item, resolve=False)
            if n % 100_000 == 0 and n < listings:  # the big run takes long: say how far it got
                secs = time.perf_counter() - t0
                print(f"  {n:,} of {listings:,} listings in {secs:.0f} s ({(n - start) / secs:.0f}/s; load "
                      f"{os.getloadavg()[0]:.1f})", flush=True)


def _time_queries(label: str, store: Any, listings: int, repeat: int) -> None:
    print(f"\n{'search over ' + str(listings) + ' listings (' + label + ')':<34}{'hits':>9}{'p50 ms':>9}{'p95 ms':>9}")
    every: list[float] = []
    for name, q in QUERIES:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = store.search(q)
            times.append((time.perf_counter() - t0) * 1000)
        every += times
        times.sort()
        print(f"{name:<34}{res.total:>9}{statistics.median(times):>9.1f}{_p95(times):>9.1f}", flush=True)
    every.sort()
    print(f"{'all 20 queries':<34}{'':>9}{statistics.median(every):>9.1f}{_p95(every):>9.1f}"
          "   (target p95 < 100 ms)", flush=True)


def _grow(store: Any, label: str, listings: int) -> bool:
    """Bring the store's corpus to ``listings`` listings (appending to a smaller one); False if it holds more."""
    have = store.counts()["listings"]
    if have > listings:
        print(f"\n{label} holds {have} listings, more than {listings}: skipped (remove it or pick another --db)")
        return False
    if have < listings:
        t0 = time.perf_counter()
        print(f"\nbuilding {listings:,} listings in {label} (from {have:,}; load {_load()})", flush=True)
        fill_search_corpus(store, listings, start=have)
        secs = time.perf_counter() - t0
        print(f"built {listings:,} listings in {label}: {listings - have:,} in {secs:.0f} s "
              f"({(listings - have) / secs:.0f}/s; load {_load()})", flush=True)
    return True


def bench_search(sizes: list[int], repeat: int, db: str, engines: Engines) -> None:
    """At each corpus size (smallest first, each corpus grown from the last): every engine's queries."""
    path = Path(db) if db else engines.tmp / "search.db"
    for listings in sizes:
        store = open_store(path, batch_size=5000)
        try:
            if _grow(store, f"SQLite ({path})", listings):
                _time_queries("SQLite", store, listings, repeat)
        finally:
            store.close()
        for label, base in engines.found:
            store = open_store(f"{base}/search?spool={engines.tmp}/search-spool.jsonl&timeout=600", batch_size=5000)
            try:
                if _grow(store, label, listings):
                    _time_queries(label.split(" (")[0], store, listings, repeat)
            finally:
                store.close()


def _load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _p95(sorted_times: list[float]) -> float:
    return sorted_times[min(len(sorted_times) - 1, round(0.95 * (len(sorted_times) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=100_000, help="findings to index into each engine")
    ap.add_argument("--listings", default="100000",
                    help="listings in the search corpus of each engine; several sizes comma-separated "
                         "(100000,1000000: the queries at 100,000, then the corpus grows to a million)")
    ap.add_argument("--heap", default="4g", help="the OpenSearch JVM's heap (-Xms/-Xmx)")
    ap.add_argument("--repeat", type=int, default=7, help="runs per search query")
    ap.add_argument("--db", default="", help="keep the search corpus in this SQLite file (reused when it matches)")
    ap.add_argument("--skip-es", action="store_true", help="SQLite only: no search engine")
    ap.add_argument("--stand-in", action="store_true", help="index into the Elasticsearch stand-in too")
    ap.add_argument("--skip-search", action="store_true", help="indexing only")
    ap.add_argument("--skip-index", action="store_true", help="search only")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="netsword-bench-"))
    print(f"load at start {_load()}", flush=True)
    engines = Engines(tmp, args.skip_es, args.heap)
    try:
        if not args.skip_index:
            bench_indexing(args.findings, engines, args.stand_in)
        if not args.skip_search:
            bench_search(sorted(int(n) for n in args.listings.split(",")), args.repeat, args.db, engines)
    finally:
        engines.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"load at end {_load()}", flush=True)


if __name__ == "__main__":
    main()
