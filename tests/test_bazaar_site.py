"""The bazaar (仿真集市, crawler/bazaar/) behaves like a real platform: login, session expiry, 429 with
Retry-After, a verification wall, a JSON API behind a JavaScript front end (checked in real Chromium),
qualification pages; and its ground truth agrees with its content and with the rule packs."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from crawler.bazaar import generate
from crawler.bazaar.server import BazaarServer
from netsword.chromium import find_chromium

ROOT = Path(__file__).resolve().parents[1]
CATALOG = json.loads((ROOT / "crawler" / "bazaar" / "catalog.json").read_text(encoding="utf-8"))
TRUTH = json.loads((ROOT / "crawler" / "bazaar" / "ground_truth.json").read_text(encoding="utf-8"))
needs_chromium = pytest.mark.skipif(not find_chromium(), reason="no Chromium")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, cookie: str | None = None, data: bytes | None = None) -> tuple[int, dict, str]:
    """(status, headers, body) without following redirects."""
    req = urllib.request.Request(url, data=data, headers={"Cookie": f"bz_session={cookie}"} if cookie else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


# ----------------------------------------------------------------------------- login and sessions
def test_listing_pages_and_the_api_need_a_login(bazaar):
    status, headers, _ = fetch(bazaar.url + "/item/10001")
    assert (status, headers["Location"]) == (302, "/login?next=%2Fitem%2F10001")
    for path in ("/shop/501", "/shop/501/license", "/c/shipin", "/search?q=%E8%8C%B6"):
        assert fetch(bazaar.url + path)[0] == 302, path
    status, headers, _ = fetch(bazaar.url + "/api/items?page=1")  # the API too, as a session-cookie front end's
    assert (status, headers["Location"]) == (302, "/login?next=%2Fapi%2Fitems%3Fpage%3D1")
    bazaar.configure(api_walls="json")  # or as a REST back end says it
    status, _, body = fetch(bazaar.url + "/api/items?page=1")
    assert status == 401 and json.loads(body)["code"] == "LOGIN_REQUIRED"
    for path in ("/", "/login", "/robots.txt", "/sitemap.xml", "/static/bazaar.js"):
        assert fetch(bazaar.url + path)[0] == 200, path
    assert 'form id="login-form"' in fetch(bazaar.url + "/login")[2]


def test_the_login_form_sets_a_session_cookie(bazaar):
    status, _, body = fetch(bazaar.url + "/login", data=b"user=analyst&pass=wrong&next=%2F")
    assert status == 200 and "账号或密码错误" in body
    status, headers, _ = fetch(bazaar.url + "/login", data=b"user=analyst&pass=bazaar-2026&next=%2Fitem%2F10001")
    assert status == 303 and headers["Location"] == "/item/10001"
    cookie = re.match(r"bz_session=([^;]+);", headers["Set-Cookie"]).group(1)
    assert "HttpOnly" in headers["Set-Cookie"]
    status, _, body = fetch(bazaar.url + "/item/10001", cookie)
    assert status == 200 and 'class="logout"' in body
    # a foreign site as the target after login is refused
    _, headers, _ = fetch(bazaar.url + "/login", data=b"user=analyst&pass=bazaar-2026&next=%2F%2Fevil.example%2F")
    assert headers["Location"] == "/"


def test_a_session_expires_after_n_requests(bazaar):
    bazaar.configure(session_max_requests=3)
    cookie = bazaar.login()
    assert [fetch(bazaar.url + "/shop/501", cookie)[0] for _ in range(3)] == [200, 200, 200]
    status, headers, _ = fetch(bazaar.url + "/shop/501", cookie)
    assert status == 302 and headers["Location"].endswith("&expired=1")
    assert "登录已过期" in fetch(bazaar.url + headers["Location"])[2]
    status, headers, _ = fetch(bazaar.url + "/api/item/10001", cookie)
    assert status == 302 and headers["Location"].startswith("/login?next=%2Fapi%2Fitem%2F10001")


def test_a_session_expires_after_its_time(bazaar):
    bazaar.configure(session_ttl=0.2)
    cookie = bazaar.login()
    assert fetch(bazaar.url + "/shop/501", cookie)[0] == 200
    time.sleep(0.4)
    status, headers, _ = fetch(bazaar.url + "/shop/501", cookie)
    assert status == 302 and "expired=1" in headers["Location"]


# ----------------------------------------------------------------------------- pushing back
def test_past_the_rate_it_answers_429_with_retry_after(bazaar):
    cookie = bazaar.login()
    bazaar.configure(rate_limit=3, rate_window=60, retry_after=7)
    assert [fetch(bazaar.url + "/shop/501", cookie)[0] for _ in range(3)] == [200, 200, 200]
    status, headers, body = fetch(bazaar.url + "/shop/501", cookie)
    assert (status, headers["Retry-After"]) == (429, "7") and "请求过于频繁" in body
    status, headers, body = fetch(bazaar.url + "/api/items?page=1", cookie)
    assert status == 429 and headers["Retry-After"] == "7" and json.loads(body)["code"] == "TOO_MANY_REQUESTS"
    bazaar.configure(rate_limit=None)
    assert fetch(bazaar.url + "/shop/501", cookie)[0] == 200


def test_after_too_many_requests_the_verification_wall_stays_up(bazaar):
    cookie = bazaar.login()
    bazaar.configure(wall_after=2)
    assert [fetch(bazaar.url + "/shop/501", cookie)[0] for _ in range(2)] == [200, 200]
    for path in ("/shop/501", "/item/10002", "/"):
        status, _, body = fetch(bazaar.url + path, cookie)
        assert status == 200 and 'class="captcha" id="nc_1_wrapper"' in body, path
        assert "安全验证" in body
    status, headers, _ = fetch(bazaar.url + "/api/item/10001", cookie)
    assert (status, headers["Location"]) == (302, "/verify")
    bazaar.configure(api_walls="json", wall_after=0)
    status, _, body = fetch(bazaar.url + "/api/item/10001", cookie)
    assert status == 403 and json.loads(body)["code"] == "VERIFY_REQUIRED"
    assert bazaar.wall_up and bazaar.pushback["verification"] == 5
    bazaar.reset()
    assert fetch(bazaar.url + "/shop/501", bazaar.login())[0] == 200


def test_knobs_from_outside_need_the_admin_token(bazaar):
    def admin(path: str, body: dict, token: str | None) -> tuple[int, dict]:
        req = urllib.request.Request(bazaar.url + path, data=json.dumps(body).encode(),
                                     headers={"X-Bazaar-Admin": token} if token else {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    assert admin("/__admin__/configure", {"wall_after": 1}, None)[0] == 403
    assert admin("/__admin__/configure", {"wall_after": 1}, "wrong")[0] == 403
    status, data = admin("/__admin__/configure", {"no_such_knob": 1}, bazaar.admin_token)
    assert status == 400 and "no_such_knob" in data["msg"]
    status, data = admin("/__admin__/configure", {"session_max_requests": 9}, bazaar.admin_token)
    assert status == 200 and data["knobs"]["session_max_requests"] == 9 == bazaar.knobs.session_max_requests
    assert admin("/__admin__/reset", {}, bazaar.admin_token)[0] == 200
    assert bazaar.knobs.session_max_requests is None


@pytest.mark.parametrize("command", [("-m", "crawler.bazaar"), ("-m", "cli", "bazaar")])
def test_the_command_line_server_prints_its_address_and_account(command):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, *command, "--wall-after", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        assert "analyst / bazaar-2026" in line
        assert [fetch(url + "/")[0] for _ in range(3)] == [200, 200, 200]
        assert 'id="nc_1_wrapper"' in fetch(url + "/")[2]  # --wall-after 2: the third page was the captcha
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ----------------------------------------------------------------------------- the JSON API and pages
def test_the_item_api_pages_through_every_listing_once(bazaar):
    cookie = bazaar.login()
    seen, page = [], 1
    while True:
        status, _, body = fetch(f"{bazaar.url}/api/items?page={page}", cookie)
        data = json.loads(body)["data"]
        assert status == 200 and data["page"] == page and data["total"] == len(CATALOG["listings"])
        if not data["items"]:
            break
        for x in data["items"]:
            assert x["detail_url"] == f"/item/{x['id']}" and x["shop"]["url"] == f"/shop/{x['shop']['id']}"
        seen += [x["id"] for x in data["items"]]
        page += 1
    assert page == data["pages"] + 1
    assert sorted(seen) == sorted(x["id"] for x in CATALOG["listings"])
    status, _, body = fetch(f"{bazaar.url}/api/items?cat=wenwan&page=1", cookie)
    assert {x["id"] for x in json.loads(body)["data"]["items"]} == \
        {x["id"] for x in CATALOG["listings"] if x["category"] == "wenwan"}


def test_the_item_api_gives_what_the_listing_page_shows(bazaar):
    cookie = bazaar.login()
    x = next(x for x in CATALOG["listings"] if x["original_price"])
    status, _, body = fetch(f"{bazaar.url}/api/item/{x['id']}", cookie)
    d = json.loads(body)["data"]
    assert status == 200
    assert (d["id"], d["title"], d["desc"], d["shop"]["id"]) == (x["id"], x["title"], x["description"], x["shop_id"])
    assert d["price"] == f"¥{x['price']:,.2f}" and d["original_price"] == f"¥{x['original_price']:,.2f}"
    assert fetch(f"{bazaar.url}/api/item/99999", cookie)[0] == 404
    shell = fetch(f"{bazaar.url}/item/{x['id']}", cookie)[2]
    assert x["title"] not in shell and 'data-api="/api/item/' in shell  # only JavaScript fills it


def test_licences_are_on_separate_qualification_pages(bazaar):
    cookie = bazaar.login()
    kinds = set()
    for shop in CATALOG["shops"]:
        home = fetch(f"{bazaar.url}/shop/{shop['id']}", cookie)[2]
        assert f'href="/shop/{shop["id"]}/license"' in home and "统一社会信用代码" not in home
        status, _, page = fetch(f"{bazaar.url}/shop/{shop['id']}/license", cookie)
        assert status == 200 and f'data-shop="{shop["id"]}"' in page
        lic = shop["license"]
        if lic is None:
            kinds.add("none")
            assert 'class="license-empty"' in page
        elif lic["shown_as"] == "image":
            kinds.add("image")
            assert lic["uscc"] not in page
            src = re.search(r'<img class="license-img" src="([^"]+)"', page).group(1)
            with urllib.request.urlopen(bazaar.url + src, timeout=30) as r:
                assert r.headers["Content-Type"] == "image/png" and r.read(8) == b"\x89PNG\r\n\x1a\n"
        else:
            kinds.add("text")
            assert f'<span class="uscc">{lic["uscc"]}</span>' in page
    assert kinds == {"none", "image", "text"}


def test_sitemap_and_search(bazaar):
    xml = fetch(bazaar.url + "/sitemap.xml")[2]
    locs = re.findall(r"<loc>([^<]+)</loc>", xml)
    assert len(locs) == len(CATALOG["shops"]) + len(CATALOG["listings"])
    assert f"{bazaar.url}/item/10001" in locs and f"{bazaar.url}/shop/501" in locs
    page = fetch(bazaar.url + "/search?q=%E9%AB%98%E4%BB%BF", bazaar.login())[2]  # 高仿
    found = set(re.findall(r'<a class="goods-link" href="/item/(\d+)">', page))
    assert found == {x["id"] for x in CATALOG["listings"] if "高仿" in x["title"]} and found


# ----------------------------------------------------------------------------- ground truth
def test_the_generator_is_deterministic_and_its_files_are_committed():
    catalog, truth = generate.build()
    assert generate.dump(catalog) == (ROOT / "crawler" / "bazaar" / "catalog.json").read_text(encoding="utf-8")
    assert generate.dump(truth) == (ROOT / "crawler" / "bazaar" / "ground_truth.json").read_text(encoding="utf-8")


def test_ground_truth_names_real_rules_and_covers_the_families():
    from pipelines.match import RuleSet

    ids = {r.id for r in RuleSet.load().rules}
    named = {r for v in TRUTH["violations"] for r in v["rules"]}
    assert named <= ids, named - ids
    families = {"cf.replica-with-brand", "ad.absolute-terms", "ad.food-disease-claims", "ad.cosmetic-medical-claims",
                "pro.wildlife", "pro.tobacco", "pro.fireworks", "lic.missing", "price.inflated-reference",
                "price.hidden-charges"}
    assert families <= named, families - named
    assert len(TRUTH["lookalikes"]) >= 20
    assert len(TRUTH["violations"]) / (len(CATALOG["listings"]) + len(CATALOG["shops"])) < 0.3


def profile_items() -> list:
    """ListingItem / ShopItem as crawler/sites/bazaar.yml extracts them (the item JSON; the shop page with its
    qualification page merged in; a licence picture's text as OCR reads a sharp picture)."""
    from crawler.demo.pictures import picture_text
    from crawler.items import ListingItem, ShopItem
    from pipelines.images.text import assemble

    labels = {c["slug"]: c["label"] for c in CATALOG["categories"]}
    pics = CATALOG["pictures"]
    items: list = []
    for x in CATALOG["listings"]:
        op = x["original_price"]
        items.append(ListingItem(
            site="bazaar", listing_id=x["id"], shop_id=x["shop_id"], title=x["title"], price_text=f"¥{x['price']:,.2f}",
            original_price_text=f"¥{op:,.2f}" if op else "", category=labels[x["category"]],
            description=x["description"], promo=x["promo"] or "", service=x["service"], attributes=x["attributes"]))
    for s in CATALOG["shops"]:
        lic = s["license"] or {}
        text = lic.get("shown_as") == "text"
        parts = (["营业执照", f"企业名称：{lic['company']}"] + ([f"统一社会信用代码：{lic['uscc']}"] if text else [])
                 + ([f"{lic['food_license_label']}：{lic['food_license']}"] if lic.get("food_license") else [])) \
            if lic else []
        lines = picture_text(pics[lic["picture"]], pics).splitlines() if lic.get("picture") else []
        items.append(ShopItem(
            site="bazaar", shop_id=s["id"], name=s["name"], operator=lic.get("company", ""),
            license_text=" ".join(parts), license_number=lic["uscc"] if text else "",
            license_image=f"/img/{lic['picture']}.png" if lic.get("picture") else "",
            food_license=lic.get("food_license", ""), description=s["intro"], service=s["policy"],
            notices=s["notice"], phone=s["phone"],
            images=[{"role": "license", "status": "ok", "ocr": "given", "sha256": "", "url": "",
                     "lines": [{"text": t, "box": [0, 0, 0, 0]} for t in lines]}] if lines else []))
        assemble(items[-1])
    return items


def test_the_rule_packs_find_the_ground_truth_offline():
    """No crawl: the rule packs on what the profile extracts give the ground truth (P and R >= 0.95), and every
    expected rule fires on its subject."""
    from crawler.bazaar.evaluate import missing_rules
    from crawler.demo.evaluate import score, truth_keys
    from pipelines.match import RuleSet
    from pipelines.normalize import NormalizePipeline

    rules, normalize = RuleSet.load(), NormalizePipeline(tokens=False)
    findings = []
    for item in profile_items():
        normalize.process_item(item)
        findings += rules.match(item)
    ev = score(truth_keys(ROOT / "crawler" / "bazaar" / "ground_truth.json"),
               {(f.subject_kind, f.subject_id.split(":", 1)[1], f.category) for f in findings})
    print("\n" + ev.table())
    assert ev.precision >= 0.95 and ev.recall >= 0.95, (ev.missed, ev.false_alarms)
    assert missing_rules(findings) == []


def test_without_the_qualification_pages_every_shop_looks_unlicensed():
    """Why sub-pages matter: a shop home page alone has no licence, so lic.missing fires on every shop."""
    from crawler.items import ShopItem
    from pipelines.match import RuleSet

    rules = RuleSet.load()
    flagged = [s["id"] for s in CATALOG["shops"]
               if any(f.rule_id == "lic.missing" for f in rules.match(ShopItem(
                   site="bazaar", shop_id=s["id"], name=s["name"], description=s["intro"], service=s["policy"],
                   notices=s["notice"])))]
    assert flagged == [s["id"] for s in CATALOG["shops"]]


# ----------------------------------------------------------------------------- the front end, in Chromium
@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    from crawler.browser import launch_options

    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        yield browser
        browser.close()


def _browser_login(chromium, bazaar: BazaarServer, next_path: str):
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(bazaar.url + next_path)
    assert page.url.startswith(bazaar.url + "/login?next=")
    page.fill("input[name=user]", "analyst")
    page.fill("input[name=pass]", "bazaar-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("a.logout")
    return context, page


@needs_chromium
def test_the_listing_page_is_filled_by_javascript_from_the_api(chromium, bazaar):
    x = next(x for x in CATALOG["listings"] if x["promo"])
    context, page = _browser_login(chromium, bazaar, f"/item/{x['id']}")
    try:
        assert page.url == f"{bazaar.url}/item/{x['id']}"
        page.wait_for_selector("body[data-loaded]")
        assert page.inner_text("h1.item-title") == x["title"]
        assert page.inner_text("span.item-price") == f"¥{x['price']:,.2f}"
        assert page.inner_text("div.item-promo") == x["promo"]
        assert page.get_attribute("a.item-shop", "href") == f"/shop/{x['shop_id']}"
        assert f"/api/item/{x['id']}" in [p for _, p, _ in bazaar.log]
    finally:
        context.close()


@needs_chromium
def test_the_category_page_scrolls_in_more_items(chromium, bazaar):
    sizes = {c["slug"]: sum(x["category"] == c["slug"] for x in CATALOG["listings"]) for c in CATALOG["categories"]}
    slug = max(sizes, key=sizes.__getitem__)
    expected = [x["id"] for x in CATALOG["listings"] if x["category"] == slug]
    assert len(expected) > 20
    context, page = _browser_login(chromium, bazaar, f"/c/{slug}")
    try:
        page.wait_for_selector("div.goods")
        assert page.locator("div.goods").count() == 20  # the first page only, until the reader scrolls
        for _ in range(20):
            if page.get_attribute("body", "data-end"):
                break
            page.mouse.wheel(0, 5000)
            page.wait_for_timeout(200)
        assert page.get_attribute("body", "data-end") == "1"
        assert page.eval_on_selector_all("div.goods", "els => els.map(e => e.dataset.id)") == expected
    finally:
        context.close()


@needs_chromium
def test_in_the_browser_an_expired_session_and_the_wall_show_their_pages(chromium, bazaar):
    context, page = _browser_login(chromium, bazaar, "/item/10003")
    try:
        page.wait_for_selector("body[data-loaded]")
        bazaar.configure(session_max_requests=0)  # the next request of this session is one too many
        page.goto(bazaar.url + "/item/10004")
        page.wait_for_selector("form#login-form")
        assert "登录已过期" in page.inner_text("body")
        bazaar.configure(session_max_requests=None, wall_after=0)
        page.goto(bazaar.url + "/item/10004")
        page.wait_for_selector("div.captcha")
        assert page.locator("#nc_1_wrapper").count() == 1
    finally:
        context.close()


@needs_chromium
def test_the_front_end_follows_an_api_call_that_met_the_end_of_the_session(chromium, bazaar):
    """The shell page is still served, its API call is one request too many: the script goes to the login."""
    context, page = _browser_login(chromium, bazaar, "/item/10005")
    try:
        page.wait_for_selector("body[data-loaded]")
        token = next(c["value"] for c in context.cookies() if c["name"] == "bz_session")
        bazaar.configure(session_max_requests=bazaar.session_requests(token) + 1)
        page.goto(bazaar.url + "/item/10006")
        page.wait_for_selector("form#login-form")
        assert page.url == f"{bazaar.url}/login?next=%2Fitem%2F10006&expired=1"
        assert "登录已过期" in page.inner_text("body")
        assert ("GET", "/item/10006", 200) in bazaar.log
    finally:
        context.close()
