"""The analyst console's campaign tools in real headless Chromium against a real uvicorn server on 127.0.0.1:
the dashboard (its charts against the store's own counts), readable evidence and the price timeline on the
lead page, bulk triage, the review queue, handover; the data from tests/console_data.py (real rule engine,
real SQLite store)."""

from __future__ import annotations

import re
import secrets
from types import SimpleNamespace

import pytest
from console_data import SWEEPS, build_console_data
from leads_fixtures import ConsoleServer

from leads.leads import build_leads
from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app
from pipelines.store import open_store
from pipelines.store.base import SearchQuery

playwright = pytest.importorskip("playwright.sync_api")
PASSWORD = "correct-horse-1"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    home = tmp_path_factory.mktemp("analyst-home")
    store = open_store(home / "netsword.db")
    data = build_console_data(store)
    add_user(store, "analyst1", PASSWORD, "analyst")
    add_user(store, "analyst2", PASSWORD, "analyst")
    add_user(store, "admin1", PASSWORD, "admin")
    store.flush()
    config = ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), secrets.token_urlsafe(48))
    app = create_app(config, store=store)
    with ConsoleServer(app) as server:
        yield SimpleNamespace(url=server.url, app=app, store=store, home=home, **data)
    store.close()


@pytest.fixture(scope="module")
def browser():
    from crawler.browser import launch_options

    with playwright.sync_playwright() as p:
        b = p.chromium.launch(**launch_options())
        yield b
        b.close()


def login(browser, console, user: str = "analyst1", *, width: int = 1360, height: int = 900):
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(console.url + "/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(console.url + "/")
    return page, errors


def test_dashboard_charts_match_the_store_and_link_to_their_search(console, browser):
    page, errors = login(browser, console)
    assert page.locator("h1").first.inner_text().startswith("行动总览")
    store = console.store
    columns = page.locator("#svg-sweeps g.column")
    assert columns.count() == len(SWEEPS)
    for i, (sweep_id, *_rest) in enumerate(SWEEPS):
        col = columns.nth(i)
        assert col.get_attribute("data-label") == sweep_id
        by_category = {k: v for k, v in store.counts(sweep_id)["by_category"].items() if v}
        segs = {s.get_attribute("data-series"): int(s.get_attribute("data-value"))
                for s in col.locator("rect.seg").all()}
        assert int(col.get_attribute("data-total")) == sum(by_category.values()), sweep_id
        assert segs == {k: v for k, v in by_category.items() if k in segs}  # named categories exactly
    # the two sweeps inside 618 (06-16..06-18) are marked, the others not
    assert page.locator("#svg-sweeps rect.band-festival").count() == 2
    assert {b.get_attribute("data-festival") for b in page.locator("#svg-sweeps rect.band-festival").all()} == {
        "618年中大促"}
    # leads per platform: the store's lead count, and the bar opens that lead list
    leads = build_leads(store, SearchQuery())
    bars = {r.get_attribute("data-label"): int(r.locator("rect.bar").get_attribute("data-value"))
            for r in page.locator("#svg-site g.row").all()}
    assert bars == {site: sum(1 for x in leads if x.site == site) for site in ("demo", "shopx")}
    page.locator("#svg-site g.row[data-label=demo] a").first.click()
    page.wait_for_url("**/leads?site=demo")
    assert int(page.inner_text("#total")) == bars["demo"]
    page.go_back()
    # by region (province of the shop address): 广东 has the two shops of one operator
    regions = {r.get_attribute("data-label"): int(r.locator("rect.bar").get_attribute("data-value"))
               for r in page.locator("#svg-region g.row").all()}
    assert regions["广东"] == 2 and regions["未知地区"] == 1
    page.locator("#svg-region g.row[data-label=广东] a").first.click()
    page.wait_for_url("**/leads?region=*")
    assert int(page.inner_text("#total")) == 2
    page.go_back()
    # a sweep column opens the search of that sweep
    page.locator("#svg-sweeps g.column[data-label=demo-0616] a").click()
    page.wait_for_url("**/search?sweep=demo-0616")
    assert page.locator("select[name=sweep] option[selected]").get_attribute("value") == "demo-0616"
    page.go_back()
    # before/during 618: numbers of the search each bar opens
    cmp_rows = page.locator("#svg-compare-1 g.row")
    assert cmp_rows.count() >= 2
    row = cmp_rows.first
    during = row.locator("rect.bar[data-series=节日期间]")
    n = int(during.get_attribute("data-value"))
    category = row.get_attribute("data-label")
    q = SearchQuery(category=category, seen_from="2026-06-15T16:00:00+00:00", seen_before="2026-06-18T16:00:00+00:00")
    assert n == sum(1 for _ in store.iter_findings(q))
    assert page.locator("#svg-operators g.row").count() >= 5 and page.locator("#groups td a").count() == 2
    assert page.locator("#sweep-health td.bad").count() == 3  # sweeps with failed pages stand out
    assert page.locator("script").count() == 0 and not errors


def test_lead_page_reads_the_price_finding_and_shows_its_timeline(console, browser):
    page, errors = login(browser, console)
    page.goto(console.url + "/leads/" + console.price_lead)
    row = page.locator("tr", has=page.locator("text=price.raised-before-discount"))
    sentence = row.locator(".explain").inner_text()
    assert sentence.startswith("划线价¥599，高于售价¥399") and "节前基准售价¥399" in sentence
    assert "baseline_price" not in page.inner_text("main")
    figure = page.locator("#price-timelines figure.timeline")
    assert figure.count() == 1 and figure.get_attribute("data-subject") == console.price_listing
    assert figure.locator("circle.point").count() == 3  # 06-06 (baseline), 06-11 (raised), 06-16 (festival)
    kinds = {g.get_attribute("data-kind") for g in figure.locator("g.band").all()}
    assert kinds == {"baseline", "festival"}
    box = figure.locator("svg").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    svg = page.request.get(console.url + "/charts/price.svg?subject=" + console.price_listing)
    assert svg.ok and svg.headers["content-type"].startswith("image/svg+xml") and b"<circle" in svg.body()
    assert not errors


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
