"""End to end: crawl the demo marketplace over HTTP (and in Chromium), flag, store, search."""

from __future__ import annotations

import json

from cli_helpers import ROOT, run_cli

from crawler.demo.evaluate import evaluate
from pipelines.store import open_store


def test_sweep_matches_ground_truth(demo_sweep):
    store = open_store(f"sqlite:///{demo_sweep['db']}")
    try:
        report = evaluate(store, sweep_id=demo_sweep["sweep_id"])
    finally:
        store.close()
    print("\n" + report.table())
    print("missed:", report.missed[:20])
    print("false alarms:", report.false_alarms[:20])
    assert report.expected > 40
    assert report.precision >= 0.9
    assert report.recall >= 0.9


def test_sweep_saw_every_listing_including_browser_only_ones(demo_sweep):
    catalog = json.loads((ROOT / "crawler" / "demo" / "catalog.json").read_text(encoding="utf-8"))
    store = open_store(f"sqlite:///{demo_sweep['db']}")
    try:
        counts = store.counts()
        kids = [lst for lst in catalog["listings"] if lst["category"] == "kids"]
        kid_ids = {f"demo:{lst['id']}" for lst in kids}
        seen = {sid for sid in kid_ids if store.get_listing(sid) is not None}
    finally:
        store.close()
    assert counts["listings"] == len(catalog["listings"])
    assert counts["shops"] == len(catalog["shops"])
    assert seen == kid_ids, f"{len(kid_ids - seen)} kids listings (JavaScript-inserted) were not crawled"


def test_every_page_kept_with_its_hash(demo_sweep):
    import gzip
    import hashlib

    snapshots = list((demo_sweep["home"] / "evidence" / "html").rglob("*.html.gz"))
    assert len(snapshots) > 300
    for path in snapshots[:50]:
        body = gzip.decompress(path.read_bytes())
        assert hashlib.sha256(body).hexdigest() == path.name.split(".")[0]


def test_every_finding_names_the_snapshot_it_was_made_from(demo_sweep):
    """A finding's snapshot hash is set when the page arrives: it names the kept HTML of its listing."""
    import gzip
    import hashlib

    store = open_store(f"sqlite:///{demo_sweep['db']}")
    try:
        rows = list(store.iter_findings({"include_resolved": True}))
        assert len(rows) > 40
        for row in rows[:60]:
            subject = (store.get_listing if row["subject_kind"] == "listing" else store.get_shop)(row["subject_id"])
            sha = row["snapshot_sha256"]
            assert sha and sha == subject.html_sha256, row["finding_id"]
            body = gzip.decompress((demo_sweep["home"] / "evidence" / subject.html_path).read_bytes())
            assert hashlib.sha256(body).hexdigest() == sha
    finally:
        store.close()


def test_search_cli_lists_counterfeit_listings(demo_sweep):
    proc = run_cli("search", "高仿", home=demo_sweep["home"])
    assert proc.returncode == 0, proc.stderr
    assert "高仿" in proc.stdout
    assert "网络销售假冒伪劣商品" in proc.stdout


def test_javascript_category_was_rendered_in_chromium(demo_sweep, demo_server):
    """The kids category's cards exist only after its script runs: the kept snapshot must show them."""
    import gzip
    import sqlite3
    import urllib.request

    raw = urllib.request.urlopen(f"{demo_server.url}/category/kids/").read().decode()
    assert "item-link" not in raw  # the server's HTML has no cards ...
    db = sqlite3.connect(demo_sweep["db"])
    rows = db.execute("select rendered, path from snapshots where url like '%/category/kids/%'").fetchall()
    db.close()
    assert rows, "the kids category was never fetched"
    for rendered, path in rows:
        assert rendered == 1
        html = gzip.decompress((demo_sweep["home"] / "evidence" / path).read_bytes()).decode()
        assert "item-link" in html  # ... the browser-rendered snapshot has them
