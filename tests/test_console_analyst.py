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


def test_bulk_dismissal_records_a_reason_per_finding_and_spares_rule_precision(console, browser):
    from leads.rulestats import rule_stats
    from leads.triage import lead_state

    store = console.store
    page, errors = login(browser, console)
    page.goto(console.url + "/leads?site=shopx")
    ids = [c.get_attribute("value") for c in page.locator("input[name=lead_id]").all()]
    assert sorted(ids) == ["shopx:S05", "shopx:S06"]
    findings = {f["finding_id"]: f["rule_id"] for f in store.iter_findings(SearchQuery(site="shopx"))}
    for box in page.locator("input[name=lead_id]").all():
        box.check()
    page.select_option("#bulk-action", "dismiss")
    with page.expect_navigation():  # no reason: refused, nothing changed
        page.click("#bulk-submit")
    assert "请选择排除原因" in page.inner_text(".flash")
    assert lead_state(store, "shopx:S05").status == "new"
    for box in page.locator("input[name=lead_id]").all():
        box.check()
    page.select_option("#bulk-action", "dismiss")
    page.select_option("#bulk-reason", "out_of_scope")
    page.click("#bulk-submit")
    page.wait_for_url("**/leads?site=shopx*")
    assert "批量排除：2 条线索已更改" in page.inner_text(".flash")
    for lead_id in ids:
        state = lead_state(store, lead_id)
        assert state.status == "dismissed" and state.updated_by == "analyst1"
        events = store.triage_events(lead_id)
        mine = {f["finding_id"] for f in store.iter_findings(SearchQuery(site="shopx", shop_id=lead_id[6:]))}
        assert mine and {e.finding_id: e.value for e in events if e.action == "dismiss_reason"} == {
            fid: "out_of_scope" for fid in mine}  # one reason event per finding the dismissal closed
    # "not our area" says nothing about the rules: their precision is untouched
    stats = {s.rule_id: s for s in rule_stats(store, SearchQuery(site="shopx"))}
    assert stats and all(s.dismissed == 0 and s.precision is None and s.set_aside >= 1 for s in stats.values())
    assert sum(s.set_aside for s in stats.values()) == len(findings)
    # by search: every lead the list shows (福建: one shop), without ticking
    page.goto(console.url + "/leads?region=%E7%A6%8F%E5%BB%BA")
    assert page.inner_text("#total") == "1"
    page.select_option("#bulk-action", "confirm")
    page.check("#scope-search")
    with page.expect_navigation():
        page.click("#bulk-submit")
    assert "批量确认：1 条线索已更改" in page.inner_text(".flash")
    assert lead_state(store, "demo:S04").status == "confirmed"
    assert not errors


def test_handover_with_a_due_date_and_overdue_leads_stand_out(console, browser):
    import json
    from datetime import timedelta

    from leads.triage import lead_state
    from netsword.clock import today_beijing
    from pipelines.store.base import TriageEvent

    store = console.store
    page, errors = login(browser, console)
    due = (today_beijing() + timedelta(days=10)).isoformat()
    page.goto(console.url + "/leads/demo:S01")
    page.fill("#handover-unit", "天河区市场监管局执法大队")
    page.fill("#handover-due", due)
    page.click("#handover-submit")
    page.wait_for_url("**/leads/demo:S01")
    state = page.inner_text("#handover-state")
    assert "天河区市场监管局执法大队" in state and due in state and "超期" not in state
    assert "交办 天河区市场监管局执法大队，期限 " + due in page.inner_text("#audit")
    h = lead_state(store, "demo:S01").handover
    assert h is not None and (h.unit, h.due, h.by) == ("天河区市场监管局执法大队", due, "analyst1")
    # the 交办函 button: the handover notice (leads/records), naming the unit, the due day and the lead
    with page.expect_download() as download:
        page.click("text=交办函")
    import docx

    notice = docx.Document(download.value.path())
    text = "\n".join([p.text for p in notice.paragraphs]
                     + [c.text for t in notice.tables for r in t.rows for c in r.cells])
    assert download.value.suggested_filename == "线索交办通知书-demo-S01.docx"
    assert "天河区市场监管局执法大队" in text and "demo:S01" in text
    # a past due date is refused
    page.fill("#handover-unit", "某单位")
    page.fill("#handover-due", "2020-01-01")
    with page.expect_navigation():
        page.click("#handover-submit")
    assert "已过" in page.inner_text(".flash") and lead_state(store, "demo:S01").handover.unit == h.unit
    # a handover made weeks ago whose due day has passed: overdue, in red, on the list and the lead page
    past = (today_beijing() - timedelta(days=3)).isoformat()
    store.add_triage_event(TriageEvent("demo:S02", "handover", json.dumps({"unit": "越秀区市场监管局", "due": past},
                                                                        ensure_ascii=False), "admin1"))
    store.flush()
    page.goto(console.url + "/leads?site=demo")
    row = page.locator("tr", has=page.locator("input[value='demo:S02']"))
    badge = row.locator(".handover.overdue")
    assert badge.count() == 1 and "已超期" in badge.inner_text()
    assert page.locator(".handover.overdue").count() == 1  # only that one
    assert badge.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
    page.goto(console.url + "/leads/demo:S02")
    assert "已超期" in page.inner_text("#handover-state.overdue")
    page.fill("input[name=result]", "已立案调查")
    page.locator("#handover button", has_text="记录办理结果").click()
    page.wait_for_url("**/leads/demo:S02")
    assert "已反馈" in page.inner_text("#handover-state.done")
    # a batch: the two shopx leads to one unit
    page.goto(console.url + "/leads?site=shopx")
    for box in page.locator("input[name=lead_id]").all():
        box.check()
    page.select_option("#bulk-action", "handover")
    page.fill("#bulk-unit", "成都市武侯区市场监管局")
    page.fill("#bulk-due", due)
    with page.expect_navigation():
        page.click("#bulk-submit")
    assert "批量交办：2 条线索已更改" in page.inner_text(".flash")
    assert {lead_state(store, i).handover.unit for i in ("shopx:S05", "shopx:S06")} == {"成都市武侯区市场监管局"}
    assert not errors


def test_review_queue_walks_unreviewed_leads_with_keyboard_keys(console, browser):
    from leads.triage import lead_state
    from leads.web.triage_views import review_queue

    store = console.store
    queue = [lead.lead_id for lead in review_queue(store)]
    assert len(queue) >= 3
    page, errors = login(browser, console)
    response = page.goto(console.url + "/review")
    assert page.url.endswith("/review/" + queue[0])
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert page.locator("script[src='/static/review.js']").count() == 1
    assert page.locator("script:not([src])").count() == 0  # no inline script
    assert f"第 1 条 / 共 {len(queue)} 条待核查" in page.inner_text("#queue-position")
    page.keyboard.press("c")  # confirm -> the next lead
    page.wait_for_url("**/review/" + queue[1])
    assert lead_state(store, queue[0]).status == "confirmed"
    page.keyboard.press("n")  # skip
    page.wait_for_url("**/review/" + queue[2])
    assert lead_state(store, queue[1]).status == "new"
    page.keyboard.press("p")  # back
    page.wait_for_url("**/review/" + queue[1])
    page.keyboard.press("x")  # no reason chosen yet: the browser asks for one, nothing is sent
    assert page.url.endswith("/review/" + queue[1]) and lead_state(store, queue[1]).status == "new"
    page.keyboard.press("5")  # 商品已下架或店铺已关闭
    page.keyboard.press("x")
    page.wait_for_url("**/review/" + queue[2])
    state = lead_state(store, queue[1])
    assert state.status == "dismissed" and set(state.reasons.values()) == {"gone"}
    with page.expect_navigation():
        page.keyboard.press("a")
    assert lead_state(store, queue[2]).assignee == "analyst1"
    page.goto(console.url + "/leads/" + queue[2])
    assert re.search(r"analyst1：\s*承办人", page.inner_text("#audit"))
    other = page.goto(console.url + "/search")
    assert "script-src" not in other.headers["content-security-policy"]  # other pages: still no scripts
    assert not errors


def test_phone_layout_at_360px_and_print_stylesheet(console, browser):
    page, errors = login(browser, console, width=360, height=740)
    for path in ("/", "/leads", "/search?q=高仿", "/leads/" + console.price_lead):
        page.goto(console.url + path)
        links = page.locator("header nav a").all()
        assert len(links) >= 8
        for a in links:  # each menu entry on one line: as high as one line of text, wider than one character
            box = a.bounding_box()
            assert box["height"] < 30 and box["width"] > 20, (path, a.inner_text(), box)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, (path, width)  # nothing sticks out sideways
    # the lead page prints as a case file: no forms or buttons, findings, sentences and timeline kept
    page.goto(console.url + "/leads/" + console.price_lead)
    page.emulate_media(media="print")
    assert page.locator("form").first.is_hidden() and page.locator("header").is_hidden()
    assert page.locator(".explain").first.is_visible() and page.locator("#price-timelines svg").is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert not errors


def test_snapshot_page_prints_a_note_instead_of_a_blank_frame(console, browser):
    from pipelines.evidence import EvidenceStore

    sha, rel = EvidenceStore(console.home / "evidence").put_html("<html><body><h1>商品页</h1></body></html>".encode())
    console.store.record_snapshot(sha, "http://demo.test/item/Z.html", rel, "2026-06-16T01:00:00+00:00", 200,
                                  "demo-0616", False)
    console.store.flush()
    page, errors = login(browser, console)
    page.goto(console.url + "/evidence/" + sha)
    assert page.locator("iframe.snapshot").is_visible() and page.locator("#snapshot-print").is_hidden()
    page.emulate_media(media="print")
    assert page.locator("iframe.snapshot").is_hidden()
    note = page.locator("#snapshot-print")
    assert note.is_visible() and sha in note.inner_text() and f"snapshots/{sha}.html" in note.inner_text()
    assert not errors


def test_saved_search_alerts_once_on_new_matches(console, browser):
    from webhook_receiver import WebhookReceiver

    from crawler.items import ListingItem
    from leads.saved import SavedSearches, check_saved_searches
    from netsword.clock import utc_now

    page, errors = login(browser, console, "analyst2")
    page.goto(console.url + "/search?q=" + "高仿 OR 精仿 -香水")
    page.fill("input[name=name]", "高仿精仿（不含香水）")
    page.click("#save-search")
    page.wait_for_url("**/searches")
    row = page.locator("#saved tbody tr").first
    assert "高仿精仿（不含香水）" in row.inner_text() and row.locator("td.num").inner_text() == "0"
    # a sweep finds a new one (the real rule engine), and one that the search excludes
    for lid, title in (("N1", "高仿 古驰 腰带 新款"), ("N2", "高仿 香水 小样")):
        item = ListingItem(url=f"http://demo.test/item/{lid}.html", site="demo", sweep_id="demo-new", status=200,
                           fetched_at=utc_now(), html_sha256=f"sha-{lid}", listing_id=lid, shop_id="S07",
                           shop_name="无名小店", title=title, price=80.0)
        item.findings = console.rules.match(item)
        assert item.findings
        console.store.save(item)
    console.store.flush()
    page.reload()
    n = int(page.locator("#saved tbody tr td.num").first.inner_text())
    assert n == len(console.store.findings_for("demo:N1", kind="listing")) >= 1  # N1's findings, not N2's
    with WebhookReceiver() as hook:
        results = check_saved_searches(console.store, home=console.home, targets=[hook.url("/saved")],
                                       console_url="http://console.example")
        [post] = hook.wait_for(1)
        mine = next(r for r in results if r[0].owner == "analyst2")
        assert mine[1] == n and mine[2].startswith("sent")
        assert "高仿精仿（不含香水）" in post["json"]["title"] and "新发现" in post["json"]["title"]
        assert "古驰" in post["json"]["message"] and "香水" not in post["json"]["message"]
        assert "http://console.example/leads/demo%3AS07" in post["json"]["message"]
        assert check_saved_searches(console.store, home=console.home, targets=[hook.url("/saved")])[0][1] == 0
        assert len(hook.received) == 1  # nothing new: no second alert
    assert SavedSearches.load(console.home).of("analyst2")[0].alerts == 1
    assert SavedSearches.load(console.home).of("analyst1") == []  # one's own searches
    assert not errors
