"""Store benchmark: write rate of a sweep and search latency, on synthetic Chinese listings.

    .venv/bin/python -m bench.bench_store [--listings 20000] [--db /tmp/bench.db]

Writes go the way the crawl pipeline sends them (snapshot record, listing, findings per
page); a second sweep re-sends the same pages with a few price changes. Prints tables.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from crawler.items import CATEGORIES, SEVERITIES, Finding, ListingItem, ShopItem
from leads.export import export
from pipelines.store import SearchQuery, open_store

BRANDS = ["耐克", "阿迪达斯", "李宁", "安踏", "华为", "小米", "苹果", "欧莱雅", "雅诗兰黛", "茅台", "Nike", "Apple"]
GOODS = ["运动鞋", "跑步鞋", "手机壳", "蓝牙耳机", "口红", "面霜", "白酒", "保温杯", "连衣裙", "双肩包",
         "手表", "充电宝", "月饼礼盒", "保健茶", "奶粉", "仿真花", "古风摆件", "高端茶具"]
MODS = ["新款", "正品", "包邮", "限时特价", "官方旗舰", "高仿", "原单", "A货", "国家级", "全网最低价", "同款", "爆款",
        "七天无理由退货", "假一赔十", "厂家直销", "2026新品", "买一送一"]
RULES = [("counterfeit.imitation", CATEGORIES[0], "high"), ("ad.absolute", CATEGORIES[8], "medium"),
         ("price.fake-original", CATEGORIES[7], "medium"), ("consumer.no-return", CATEGORIES[9], "low"),
         ("banned.wildlife", CATEGORIES[12], "critical")]


def make_items(n: int, sweep: str, at: str, seed: int = 7, reprice: float = 0.0) -> list[ListingItem]:
    rnd = random.Random(seed)
    price_rnd = random.Random(seed + 1000 + int(reprice * 100))
    items = []
    for i in range(n):
        title = f"{rnd.choice(BRANDS)}{rnd.choice(MODS)}{rnd.choice(GOODS)} {rnd.choice(MODS)}"
        desc = "".join(rnd.choice(MODS + GOODS) for _ in range(rnd.randint(5, 30)))
        price = round(rnd.uniform(5, 3000), 2)
        if reprice and price_rnd.random() < reprice:
            price = round(price * 1.3, 2)
        shop_id = f"s{rnd.randrange(n // 40 + 1)}"
        item = ListingItem(url=f"http://bench.test/item/{i}.html", site="bench", sweep_id=sweep, status=200,
                           fetched_at=at, html_sha256=f"{i:08d}{price:.2f}".ljust(64, "0"),
                           html_path=f"html/{i}.html.gz", listing_id=str(i), shop_id=shop_id,
                           shop_name=f"店铺{shop_id}", title=title, description=desc, promo="满300减50",
                           service=rnd.choice(["支持七天无理由退货", "不支持七天无理由退货", ""]), price=price)
        if rnd.random() < 0.3:
            for rule_id, category, severity in rnd.sample(RULES, rnd.randint(1, 3)):
                item.findings.append(Finding(
                    rule_id=rule_id, rule_version="1", pack=rule_id.split(".")[0], title=rule_id, category=category,
                    severity=severity, basis="《电子商务法》", subject_kind="listing", subject_id=item.subject_id,
                    site="bench", shop_id=shop_id, url=item.url, field="title", matched=[title[:2]],
                    snippet=f"【{title[:6]}】{title[6:20]}", snapshot_sha256=item.html_sha256, sweep_id=sweep,
                    found_at=at))
        items.append(item)
    return items


def write_sweep(store, items: list[ListingItem], sweep: str, at: str) -> tuple[float, int]:
    store.start_sweep(sweep, "bench", at, {})
    t0 = time.perf_counter()
    n_findings = 0
    for item in items:  # what StorePipeline.process_item does
        store.record_snapshot(item.html_sha256, item.url, item.html_path, item.fetched_at, item.status,
                              item.sweep_id, item.rendered)
        store.upsert_listing(item)
        if item.findings:
            store.upsert_findings(item.findings)
            n_findings += len(item.findings)
    store.flush()
    elapsed = time.perf_counter() - t0
    store.finish_sweep(sweep, at, {})
    return elapsed, n_findings


def timed(fn, repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listings", type=int, default=20_000)
    ap.add_argument("--db", default="")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "bench.db"
    db.unlink(missing_ok=True)
    store = open_store(db)
    for i in range(args.listings // 40 + 1):
        store.upsert_shop(ShopItem(url=f"http://bench.test/shop/s{i}/", site="bench", shop_id=f"s{i}", name=f"店铺s{i}",
                                   operator=f"某某商贸有限公司{i}", fetched_at="2026-06-01T00:00:00+00:00"))

    print(f"{'write':<34}{'items':>8}{'findings':>10}{'seconds':>9}{'listings/s':>12}{'(+findings)/s':>15}")
    for sweep, at, reprice in (("sw1", "2026-06-01T00:00:00+00:00", 0.0), ("sw2", "2026-06-10T00:00:00+00:00", 0.1)):
        items = make_items(args.listings, sweep, at, reprice=reprice)
        secs, nf = write_sweep(store, items, sweep, at)
        label = "sweep 1 (new)" if sweep == "sw1" else "sweep 2 (same pages, 10% repriced)"
        print(f"{label:<34}{len(items):>8}{nf:>10}{secs:>9.2f}{len(items) / secs:>12.0f}"
              f"{(len(items) + nf) / secs:>15.0f}")

    queries = [("高仿 (flagged)", SearchQuery(text="高仿")),
               ("高仿 (all listings)", SearchQuery(text="高仿", flagged_only=False)),
               ("七天无理由 (all)", SearchQuery(text="七天无理由", flagged_only=False)),
               ("nike (all)", SearchQuery(text="nike", flagged_only=False)),
               ("仿 (1 char, all)", SearchQuery(text="仿", flagged_only=False)),
               ("no text, flagged", SearchQuery()), ("no text, everything", SearchQuery(flagged_only=False)),
               ("category filter", SearchQuery(category=CATEGORIES[0])),
               ("高仿 + severity + price", SearchQuery(text="高仿", severity=list(SEVERITIES[2:]), price_max=500)),
               ("page 50 of 高仿", SearchQuery(text="高仿", flagged_only=False, offset=1000, limit=20))]
    print(f"\n{'search':<28}{'hits':>8}{'median ms':>11}{'p95 ms':>9}")
    for label, q in queries:
        med, p95, res = timed(lambda q=q: store.search(q), args.repeat)
        print(f"{label:<28}{res.total:>8}{med:>11.1f}{p95:>9.1f}")
    med, _, n = timed(lambda: sum(1 for _ in store.iter_findings()), 3)
    print(f"{'iter_findings (all)':<28}{n:>8}{med:>11.1f}")
    print(f"\n{'export (all findings)':<28}{'rows':>8}{'seconds':>11}")
    for fmt in ("csv", "json", "xlsx"):
        t0 = time.perf_counter()
        rows = export(store, db.parent / f"bench.{fmt}", fmt)
        print(f"{fmt:<28}{rows:>8}{time.perf_counter() - t0:>11.2f}")
    counts = store.counts()
    store.close()
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e6
    print(f"\nlistings {counts['listings']}, versions {counts['listing_versions']}, findings {counts['findings']}, "
          f"db {size:.1f} MB")
    if not args.db:
        shutil.rmtree(db.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
