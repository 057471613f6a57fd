"""Snapshots in the page's own charset: GBK pages (one with only ``<meta charset=gbk>``, one with no declared
charset at all) are served by the console with their charset and pictured by the snapshot renderer in
Chinese, not mojibake. The stored bytes stay as received."""

from __future__ import annotations

import asyncio
import re
import secrets

import pytest
from fastapi.testclient import TestClient
from hostilesite import listing_html
from leads_fixtures import ConsoleServer

from crawler.browser import find_chromium, launch_options, snapshot_launch_options
from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app
from pipelines.evidence import EvidenceStore, decode_html
from pipelines.evidence.render import RenderThread
from pipelines.store import open_store

PASSWORD = "correct-horse-1"
TITLE = "国标编码商品 高仿耐克运动鞋"
HTTP_EQUIV = '<meta http-equiv="Content-Type" content="text/html; charset=gbk">'
PAGES = {  # name -> the page's bytes as a GBK shop would send them
    "meta": listing_html(TITLE, price="199元", charset="gbk").encode("gbk"),
    "http-equiv": listing_html(TITLE, price="199元", head=HTTP_EQUIV, charset="").encode("gbk"),
    "undeclared": listing_html(TITLE, price="199元", charset="").encode("gbk"),
    "utf-8": listing_html(TITLE, price="199元").encode("utf-8"),
}
needs_chromium = pytest.mark.skipif(not find_chromium(), reason="no Chromium")


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    home = tmp_path_factory.mktemp("charset-home")
    store = open_store(home / "netsword.db")
    add_user(store, "analyst1", PASSWORD)
    shas = {}
    for name, body in PAGES.items():
        sha, rel = EvidenceStore(home / "evidence").put_html(body)
        store.record_snapshot(sha, f"http://gbk.test/{name}.html", rel, "2026-06-01T02:00:00+00:00", 200, "sw1", False)
        shas[name] = sha
    store.flush()
    app = create_app(ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), secrets.token_urlsafe(48)),
                     store=store)
    yield app, shas
    store.close()


def _logged_in(app) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"username": "analyst1", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    return c


@pytest.mark.parametrize(("name", "charset"), [("meta", "gb18030"), ("http-equiv", "gb18030"),
                                               ("undeclared", "gb18030"), ("utf-8", "utf-8")])
def test_the_snapshot_is_served_in_its_own_charset(console, name, charset):
    app, shas = console
    r = _logged_in(app).get(f"/evidence/{shas[name]}/page")
    assert r.status_code == 200
    assert r.headers["content-type"] == f"text/html; charset={charset}"
    assert r.content == PAGES[name]  # the bytes as received, not re-encoded
    assert TITLE in r.content.decode(charset)
    assert r.headers["content-security-policy"].startswith("sandbox; default-src 'none'")  # still the sandbox


def test_a_charset_browsers_have_no_name_for_is_served_as_utf8(tmp_path):
    """UTF-32 (here with its BOM) is no web encoding: the decoded text goes out as UTF-8."""
    body = b"\xff\xfe\x00\x00" + listing_html(TITLE).encode("utf-32-le")
    store = open_store(tmp_path / "netsword.db")
    try:
        add_user(store, "analyst1", PASSWORD)
        sha, rel = EvidenceStore(tmp_path / "evidence").put_html(body)
        store.record_snapshot(sha, "http://utf32.test/1.html", rel, "2026-06-01T02:00:00+00:00", 200, "sw1", False)
        app = create_app(ConsoleConfig(str(tmp_path / "netsword.db"), str(tmp_path / "evidence"),
                                       secrets.token_urlsafe(48)), store=store)
        r = _logged_in(app).get(f"/evidence/{sha}/page")
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert TITLE in r.content.decode("utf-8")
    finally:
        store.close()


@needs_chromium
def test_the_analyst_reads_chinese_in_the_snapshot_frame(console):
    from playwright.sync_api import sync_playwright

    app, shas = console
    with ConsoleServer(app) as server, sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            page.goto(server.url + "/login")
            page.fill("input[name=username]", "analyst1")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(server.url + "/")  # the dashboard
            for name in ("meta", "undeclared"):
                page.goto(server.url + f"/evidence/{shas[name]}")
                assert page.frame_locator("iframe.snapshot").locator("h1").inner_text() == TITLE, name
        finally:
            browser.close()


def test_the_renderer_decodes_like_the_crawler():
    from scrapy.http import HtmlResponse

    for name, body in PAGES.items():
        encoding, text = decode_html(body)
        response = HtmlResponse(f"http://gbk.test/{name}.html", body=body, headers={"Content-Type": "text/html"})
        assert (encoding, TITLE in text) == (response.encoding, True), name


@needs_chromium
def test_a_gbk_page_is_pictured_as_its_utf8_twin():
    """The same page in GBK (meta only, or nothing declared) and in UTF-8 gives the same picture; the
    mojibake of reading GBK as UTF-8 does not (so the comparison can tell)."""
    mojibake = PAGES["undeclared"].decode("utf-8", errors="replace").encode("utf-8")

    async def main() -> dict[str, bytes]:
        renderer = RenderThread(snapshot_launch_options(launch_options()))
        try:
            return {name: await renderer.screenshot(body, f"http://gbk.test/{name}.html")
                    for name, body in {**PAGES, "mojibake": mojibake}.items()}
        finally:
            await renderer.close()

    shots = asyncio.run(main())
    assert shots["undeclared"] == shots["utf-8"] == shots["meta"] == shots["http-equiv"]
    assert shots["mojibake"] != shots["utf-8"]
