"""Browser pages: profile steps (infinite scroll, "load more"), a hung page and a crashed tab retried,
contexts recycled, a screenshot of every browser page. Real Chromium, real server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import sqlite3
import textwrap

import pytest
from cli_helpers import run_cli
from testsite import TestSite

from crawler.browser import launch_options

PROFILE = """\
site: jsshop
name: 脚本店
start_urls: ['{base_url}/']
allowed_domains: [127.0.0.1]
politeness: {concurrency: 4, delay: 0, autothrottle: false, retries: 2}
pages:
  home:
    match: ['^/$']
    follow: ['a.go']
  scroll:
    type: list
    match: ['^/scroll/']
    render: browser
    steps:
      - wait_for: 'div.card'
      - scroll_to_end: {max_rounds: 20, pause_ms: 100}
  loadmore:
    type: list
    match: ['^/loadmore/']
    render: browser
    steps:
      - wait_for: 'div.card'
      - click: 'button.load-more'
        times: 5
  listing:
    type: listing
    match: ['^/(hang|crash|item)/']
    render: browser
    fields:
      title: 'h1.title'
      price_text: 'span.price'
"""


@pytest.fixture(scope="module")
def browser_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    (tmp / "sites").mkdir()
    (tmp / "sites" / "jsshop.yml").write_text(textwrap.dedent(PROFILE), encoding="utf-8")
    opts = launch_options()
    opts["args"] = [*opts["args"], "--js-flags=--max-old-space-size=32"]  # the crash page kills its tab fast
    mp = pytest.MonkeyPatch()
    mp.setenv("NETSWORD_SITES_DIR", str(tmp / "sites"))
    links = ["/scroll/", "/loadmore/", "/hang/H1.html?n=1", "/crash/C1.html?n=1", "/item/B1.html", "/item/B2.html"]
    try:
        with TestSite(links) as site:
            proc = run_cli("crawl", "--site", "jsshop", "--base-url", site.url, "--sweep-id", "js-1",
                           "-s", "NETSWORD_BROWSER_PAGE_TIMEOUT=8", "-s", "NETSWORD_BROWSER_RECYCLE_PAGES=2",
                           "-s", "NETSWORD_BROWSER_CONTEXTS=1", "-s", "NETSWORD_RETRY_BACKOFF_BASE=0.1",
                           "-s", f"PLAYWRIGHT_LAUNCH_OPTIONS={json.dumps(opts)}", "-s", "LOG_LEVEL=INFO",
                           home=tmp / "home", timeout=400)
            hits = dict(site.hits)
    finally:
        mp.undo()
    assert proc.returncode == 0, proc.stderr[-4000:]
    db = sqlite3.connect(tmp / "home" / "netsword.db")
    stats = json.loads(db.execute("select stats from sweeps where sweep_id='js-1'").fetchone()[0])
    snaps = {url.split("/", 3)[3]: (path, rendered)
             for url, path, rendered in db.execute("select url, path, rendered from snapshots")}
    titles = {r[0] for r in db.execute("select title from listings")}
    db.close()
    return {"proc": proc, "stats": stats, "snaps": snaps, "titles": titles, "hits": hits, "home": tmp / "home"}


def _html(sweep, key: str) -> str:
    path, _ = sweep["snaps"][key]
    return gzip.decompress((sweep["home"] / "evidence" / path).read_bytes()).decode()


def test_scroll_to_end_loads_every_card(browser_sweep):
    assert _html(browser_sweep, "scroll/").count('class="item-link"') == 50


def test_load_more_is_clicked_until_it_disappears(browser_sweep):
    assert _html(browser_sweep, "loadmore/").count('class="item-link"') == 40


def test_hung_and_crashed_pages_are_retried_not_fatal(browser_sweep):
    stats, titles = browser_sweep["stats"], browser_sweep["titles"]
    assert "测试商品 H1" in titles and "测试商品 C1" in titles, browser_sweep["proc"].stderr[-3000:]
    assert stats.get("netsword/browser/hung", 0) >= 1
    assert stats.get("netsword/browser/failed", 0) >= 1  # the crashed tab
    assert stats.get("netsword/pages/failed", 0) == 0
    assert browser_sweep["hits"]["/crash/C1.html"] >= 2


def test_contexts_are_recycled_and_every_browser_page_has_a_screenshot(browser_sweep):
    stats = browser_sweep["stats"]
    assert stats.get("netsword/browser/contexts_recycled", 0) >= 2
    assert stats["netsword/browser/pages"] == 6
    shots = list((browser_sweep["home"] / "evidence" / "screenshots").glob("*.png"))
    assert len(shots) >= 6
    for path, rendered in browser_sweep["snaps"].values():
        if rendered:
            sha = path.rsplit("/", 1)[-1].split(".")[0]
            png = browser_sweep["home"] / "evidence" / "screenshots" / f"{sha}.png"
            assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
