"""JSON APIs, captured XHR/fetch answers, sitemap seeds, the schema.org fallback and keyword seeds (issue 16,
items 4 and 5): one real sweep of a small JSON shop on 127.0.0.1 (tests/jsonsite.py) with real Chromium,
a scheduled campaign sweep with keywords, and profile errors with file:line."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import textwrap
from pathlib import Path

import pytest
from cli_helpers import run_cli
from jsonsite import FEED, PAGE_SIZE, PAGES, TITLES, JsonSite
from warcio.archiveiterator import ArchiveIterator

from crawler.browser import launch_options
from crawler.profiles import load_profile
from netsword.yamlsource import SourceError

PROFILE = """\
site: jsonshop
name: JSON 商店
base_url: http://127.0.0.1:9
start_urls: ['{base_url}/api/items', '{base_url}/api/cursor', '{base_url}/app/feed']
allowed_domains: [127.0.0.1]
politeness: {concurrency: 4, delay: 0, autothrottle: false, retries: 1}
seeds:
  sitemaps: ['{base_url}/sitemap.xml']
  robots: true
search:
  url: '{base_url}/search?q={query}'
  terms: [顶级复刻]
pages:
  api_list:
    type: list
    match: ['^/api/items']
    json:
      items: 'data.items'
      follow: 'detail_url'
      next: {param: page, stop_when: 'length(data.items) == `0`'}
  api_item:
    type: listing
    match: ['^/api/item/']
    fields:
      title: 'json:data.title'
      price_text: 'json:data.price'
      shop_id: 'json:data.shop.id'
      shop_name: 'json:data.shop.name'
  api_cursor:
    type: listing
    match: ['^/api/cursor']
    json:
      items: 'items'
      next: {param: cursor, cursor: 'next'}
    fields:
      listing_id: 'json:sku'
      title: 'json:name'
      price_text: "json:join(' ', [to_string(price.value), price.currency])"
      shop_id: 'json:shop.id'
  feed:
    type: listing
    match: ['^/app/feed']
    render: browser
    wait_for: 'div.card'
    capture: {url: '/api/feed'}
    json: {items: 'items'}
    fields:
      listing_id: 'json:id'
      title: 'json:title'
      price_text: 'json:price'
  search:
    type: search
    match: ['^/search\\?']
    follow: ['a.result']
  ld:
    type: listing
    match: ['^/ld/']
    fields:
      title: 'xpath://body/div/div[1]'
  schema:
    type: listing
    match: ['^/(md|rdfa)/']
    generic: true
"""


def _sites(tmp: Path, text: str = PROFILE) -> Path:
    (tmp / "sites").mkdir(exist_ok=True)
    (tmp / "sites" / "jsonshop.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp / "sites"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jsonshop")
    mp = pytest.MonkeyPatch()
    mp.setenv("NETSWORD_SITES_DIR", str(_sites(tmp)))
    try:
        with JsonSite() as site:
            proc = run_cli("crawl", "--site", "jsonshop", "--base-url", site.url, "--sweep-id", "json-1",
                           "-s", f"PLAYWRIGHT_LAUNCH_OPTIONS={json.dumps(launch_options())}",
                           "-s", "EVIDENCE_FINDING_SCREENSHOTS=False", home=tmp / "home", timeout=400)
            hits = dict(site.hits)
    finally:
        mp.undo()
    assert proc.returncode == 0, proc.stderr[-4000:]
    db = sqlite3.connect(tmp / "home" / "netsword.db")
    stats = json.loads(db.execute("select stats from sweeps where sweep_id='json-1'").fetchone()[0])
    listings = {r[0]: {"title": r[1], "price": r[2], "shop_id": r[3], "url": r[4]}
                for r in db.execute("select listing_id, title, price, shop_id, url from listings")}
    findings = [dict(zip(("listing", "field", "snippet"), r, strict=True)) for r in
                db.execute("select l.listing_id, f.field, f.snippet from findings f join listings l "
                           "on l.subject_id = f.subject_id")]
    snaps = {url: path for url, path in db.execute("select url, path from snapshots")}
    db.close()
    return {"proc": proc, "hits": hits, "stats": stats, "listings": listings, "findings": findings,
            "snaps": snaps, "home": tmp / "home"}


def _evidence(sweep, rel: str) -> bytes:
    return gzip.decompress((sweep["home"] / "evidence" / rel).read_bytes())


def test_a_json_list_pages_by_number_until_a_page_is_empty_and_its_links_are_followed(sweep):
    hits = sweep["hits"]
    assert [hits.get(f"/api/items?page={n}", 0) for n in range(2, PAGES + 2)] == [1] * PAGES  # 2, 3 and the empty 4
    assert f"/api/items?page={PAGES + 2}" not in hits
    wanted = {f"P{n}" for n in range(1, PAGE_SIZE * PAGES + 1)}
    got = {k.rsplit("/", 1)[-1]: v for k, v in sweep["listings"].items() if k.startswith("api/item/")}
    assert set(got) == wanted
    assert got["P7"]["title"] == TITLES["P7"] and got["P7"]["price"] == 107.0 and got["P7"]["shop_id"] == "S1"
    # the JSON body is the page's snapshot, as fetched
    page2 = next(p for u, p in sweep["snaps"].items() if u.endswith("/api/items?page=2"))
    assert json.loads(_evidence(sweep, page2))["data"]["page"] == 2


def test_a_cursor_list_gives_one_listing_per_record(sweep):
    hits = sweep["hits"]
    assert hits["/api/cursor?cursor=c2"] == 1 and hits["/api/cursor?cursor=c3"] == 1
    got = {k: v for k, v in sweep["listings"].items() if k.startswith("C")}
    assert set(got) == {f"C{i}{k}" for i in range(3) for k in range(3)}
    assert got["C21"]["title"] == "精仿原单包 C21" and got["C21"]["price"] == 51.0 and got["C21"]["shop_id"] == "S9"
    assert sweep["stats"]["netsword/json/records"] == 9 + len(FEED["items"])


def test_json_fields_raise_findings_with_snippets(sweep):
    hits = [f for f in sweep["findings"] if f["field"] == "title" and f["listing"].startswith(("api/item/P", "C"))]
    assert any("高仿" in f["snippet"] for f in hits if f["listing"].startswith("api/"))
    assert any("精仿" in f["snippet"] for f in hits if f["listing"].startswith("C"))


def test_a_browser_pages_own_fetch_is_captured_its_records_extracted_and_kept_as_evidence(sweep):
    got = {k: v for k, v in sweep["listings"].items() if k.startswith("F")}
    assert {k: v["title"] for k, v in got.items()} == {i["id"]: i["title"] for i in FEED["items"]}
    assert got["F3"]["price"] == 303.0
    home = sweep["home"] / "evidence"
    manifest = [json.loads(line) for line in (home / "manifests" / "json-1.jsonl").read_text().splitlines()]
    caps = [e for e in manifest if e["kind"] == "capture"]
    assert len(caps) == 1 and caps[0]["url"].endswith("/api/feed") and caps[0]["requested_url"].endswith("/app/feed")
    assert json.loads(_evidence(sweep, caps[0]["html_path"])) == FEED
    records = []
    for warc in sorted((home / "warc" / "json-1").glob("*.warc.gz")):
        with open(warc, "rb") as fh:
            records += [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
                        for r in ArchiveIterator(fh)]
    resources = [body for kind, uri, body in records if kind == "resource" and uri.endswith("/api/feed")]
    assert len(resources) == 1 and json.loads(resources[0]) == FEED
    verify = run_cli("evidence", "verify", "json-1", home=sweep["home"], timeout=120)
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]


def test_sitemaps_index_gzip_and_robots_seed_only_pages_a_page_type_wants(sweep):
    hits, stats = sweep["hits"], sweep["stats"]
    for path in ("/sitemap.xml", "/sitemap-items.xml.gz", "/sitemap-pages.xml", "/robots.txt", "/sitemap-robots.xml"):
        assert hits.get(path), path
    assert "/about.html" not in hits and "/help/faq.html" not in hits
    assert stats["netsword/seeds/sitemap_unmatched"] == 2
    assert stats["netsword/seeds/sitemaps"] == 4
    assert {"ld/P1", "ld/P2", "md/P3", "rdfa/P4", "ld/P5"} <= set(sweep["listings"])


def test_schema_org_data_fills_the_fields_a_profile_has_no_selector_for(sweep):
    got = sweep["listings"]
    # ld: the profile selects the title only; price from JSON-LD (extruct)
    assert (got["ld/P1"]["title"], got["ld/P1"]["price"]) == (TITLES["P1"], 199.0)
    # no selectors at all (generic: true): microdata and RDFa
    assert (got["md/P3"]["title"], got["md/P3"]["price"]) == (TITLES["P3"], 288.0)
    assert (got["rdfa/P4"]["title"], got["rdfa/P4"]["price"]) == (TITLES["P4"], 377.0)


# --------------------------------------------------------------------------- keyword seeds

CAMPAIGN = """\
campaign: kw-test
title: 关键词测试
phases:
  - {name: 组织实施, start: 2026-01-01, end: 2026-12-31}
keywords: [高仿, 原单]
sites:
  - site: jsonshop
    base_url: "BASE"
    keywords: [A货]
    profile_terms: true
plan:
  hourly: {enabled: false}
festivals:
  - {id: "618", name: 618年中大促, date: "06-18", days: 1}
"""


def test_campaign_keywords_become_the_sites_search_urls(tmp_path, monkeypatch):
    from scheduling.campaigns import load_campaign
    from scheduling.plan import plan_jobs
    from scheduling.runs import SweepRequest, SweepRunner

    monkeypatch.setenv("NETSWORD_SITES_DIR", str(_sites(tmp_path)))
    tests = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "quick_crawl_settings")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p))
    home = tmp_path / "home"
    monkeypatch.setenv("NETSWORD_HOME", str(home))
    monkeypatch.delenv("NETSWORD_STORE", raising=False)
    with JsonSite() as site:
        path = tmp_path / "kw.yml"
        path.write_text(CAMPAIGN.replace("BASE", site.url), encoding="utf-8")
        jobs = plan_jobs(load_campaign(path))
        assert {j.kind: j.search for j in jobs} == {"baseline": ("A货", "高仿", "原单", "顶级复刻"),
                                                    "daily": ("A货", "高仿", "原单", "顶级复刻")}
        job = jobs[0]
        assert job.kwargs()["search"] == list(job.search)
        run = SweepRunner(home).run(SweepRequest(job.site, job.kind, job.campaign, job.festival, job.job_id,
                                                 job.base_url, list(job.start_urls), job.campaign_file,
                                                 list(job.search)))
        searched = sorted(site.searched)
        hits = dict(site.hits)
    assert run.status == "ok", run.message
    assert searched == sorted(["A货", "高仿", "原单", "顶级复刻"])
    assert not any(h.startswith("/api/") for h in hits)  # a keyword sweep starts from the search results only
    db = sqlite3.connect(home / "netsword.db")
    listed = {r[0] for r in db.execute("select listing_id from listings")}
    db.close()
    codes = {"ld/Q" + "".join(f"{ord(ch):x}" for ch in t) for t in searched}
    assert listed == codes  # each search's result was followed


def test_campaign_keywords_for_a_site_without_search_name_the_line(tmp_path, monkeypatch):
    from scheduling.campaigns import load_campaign

    text = PROFILE.split("search:\n")[0] + "pages:" + PROFILE.split("\npages:", 1)[1]
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(_sites(tmp_path, text)))
    path = tmp_path / "kw.yml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_campaign(path)
    assert err.value.location.line == 9 and "search:" in str(err.value)  # the site's `keywords:` line


def test_profile_terms_without_terms_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(_sites(tmp_path, PROFILE.replace("  terms: [顶级复刻]\n", ""))))
    proc = run_cli("crawl", "--site", "jsonshop", "--profile-terms", home=tmp_path / "home", timeout=120)
    assert proc.returncode == 1
    assert "search.terms" in proc.stderr and "--profile-terms" in proc.stderr


# --------------------------------------------------------------------------- profile errors


@pytest.mark.parametrize("old, new, line, words", [
    ("      title: 'json:data.title'", "      title: 'json:data.[title'", 25, "Incomplete expression at character 12"),
    ("      items: 'data.items'", "      items: 'data.items[?'", 18, "bad JMESPath"),
    ("      next: {param: cursor, cursor: 'next'}", "      next: {param: cursor, cursor: 'next ||'}", 34, "JMESPath"),
    ("      follow: 'detail_url'", "      follow: '{base_url}/item/{id[}'", 19, "URL template"),
    ("      items: 'data.items'", "      itmes: 'data.items'", 18, "did you mean 'items'"),
    ("    capture: {url: '/api/feed'}", "    capture: {url: '/api/(feed'}", 45, "bad regex"),
    ("    render: browser\n    wait_for: 'div.card'\n    capture: {url: '/api/feed'}\n",
     "    capture: {url: '/api/feed'}\n", 43, "render: browser"),
    ("      next: {param: page, stop_when: 'length(data.items) == `0`'}\n", "      next: {param: page}\n", 19,
     "never stops"),
])
def test_bad_json_keys_name_file_and_line(tmp_path, old, new, line, words):
    assert old in PROFILE
    text = PROFILE.replace(old, new, 1)
    if "param: page}" in new:  # a page-number list without items: nothing would ever stop it
        text = text.replace("      items: 'data.items'\n", "", 1)
    path = _sites(tmp_path, text) / "jsonshop.yml"
    with pytest.raises(SourceError) as err:
        load_profile(path)
    assert err.value.location.path == str(path)
    assert err.value.location.line == line, str(err.value)
    assert words in str(err.value) + (err.value.hint or "")


def test_the_profile_loads(tmp_path):
    profile = load_profile(_sites(tmp_path) / "jsonshop.yml")
    assert profile.pages["feed"].capture.url == "/api/feed"
    assert profile.seeds.sitemaps == ["{base_url}/sitemap.xml"]


def test_profile_check_shows_json_fields_of_the_first_record(tmp_path, monkeypatch):
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(_sites(tmp_path)))
    with JsonSite() as site:
        proc = run_cli("profile", "check", "jsonshop", f"{site.url}/api/cursor", home=tmp_path / "home", timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "精仿原单包 C00" in proc.stdout and "50 CNY" in proc.stdout
