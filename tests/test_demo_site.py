"""The bundled demo marketplace: generator output, ground truth, server pages and HTTP behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from parsel import Selector

from crawler.demo import lint
from crawler.demo import templates as t
from crawler.demo.server import DemoServer
from crawler.items import CATEGORIES
from pipelines.match.identifiers import food_license_kind, uscc_check_char, uscc_is_valid

DEMO = Path(__file__).resolve().parents[1] / "crawler" / "demo"
CATALOG = json.loads((DEMO / "catalog.json").read_text(encoding="utf-8"))
TRUTH = json.loads((DEMO / "ground_truth.json").read_text(encoding="utf-8"))
LABELLED = {(v["kind"], v["id"]): v for v in TRUTH["violations"]}


@pytest.fixture(scope="module")
def site():
    with DemoServer() as server:
        yield server


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def page(site: DemoServer, path: str) -> Selector:
    status, headers, body = get(site.url + path)
    assert status == 200, path
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    return Selector(text=body.decode("utf-8"))


# ------------------------------------------------------------------ identifiers
@pytest.mark.parametrize("code", ["91350100M000100Y43", "91330100799655058B", "9144030071526726XG"])
def test_uscc_known_good_codes(code: str) -> None:
    assert uscc_is_valid(code)
    assert uscc_check_char(code[:17]) == code[17]
    assert uscc_is_valid(f" {code.lower()} ")


@pytest.mark.parametrize("code", ["91350100M000100Y44", "91330100799655058", "91330100799655058BX",
                                  "91330100799O55058B", "", "9144030071526726XZ"])
def test_uscc_rejects_bad_codes(code: str) -> None:
    assert not uscc_is_valid(code)


def test_food_license_format() -> None:
    assert food_license_kind("SC10350010600812") == "SC"
    assert food_license_kind("JY13301060045678") == "JY"
    assert food_license_kind("JY3702030012") is None
    assert food_license_kind("YB13101150012345") is None


# ------------------------------------------------------------------ catalog and ground truth
def test_catalog_size_and_shape() -> None:
    shops, listings = CATALOG["shops"], CATALOG["listings"]
    assert len(shops) >= 36 and len(listings) >= 330
    assert TRUTH["counts"] == {"shops": len(shops), "listings": len(listings)}
    assert {c["slug"] for c in CATALOG["categories"]} == {
        "food", "health", "drugs", "digital", "auto", "furniture", "home", "kids", "apparel", "ebike", "helmet"}
    shop_ids = {s["id"] for s in shops}
    for x in listings:
        assert x["shop_id"] in shop_ids
        assert x["price"] > 0 and x["title"] and x["description"] and x["service"]
    assert len({x["id"] for x in listings}) == len(listings)


def test_generator_is_deterministic_and_matches_committed_files() -> None:
    from crawler.demo.generate import build

    catalog, truth = build()
    assert json.loads(json.dumps(catalog, ensure_ascii=False)) == CATALOG
    assert json.loads(json.dumps(truth, ensure_ascii=False)) == TRUTH


def test_ground_truth_spread_and_rate() -> None:
    cats = Counter(c for v in TRUTH["violations"] for c in v["categories"])
    assert set(cats) <= set(CATEGORIES)
    assert len(cats) >= 10
    subjects = TRUTH["counts"]["shops"] + TRUTH["counts"]["listings"]
    assert 0.12 <= len(TRUTH["violations"]) / subjects <= 0.18
    kinds = Counter(v["kind"] for v in TRUTH["violations"])
    assert kinds["shop"] >= 6 and kinds["listing"] >= 40
    by_id = {x["id"]: x for x in CATALOG["listings"]}
    kids = [v for v in TRUTH["violations"] if v["kind"] == "listing" and by_id[v["id"]]["category"] == "kids"]
    assert len(kids) >= 8
    assert len(TRUTH.get("lookalikes", [])) >= 60


def test_evidence_is_in_the_subject_and_benign_subjects_are_clean() -> None:
    allows = {(x["kind"], x["id"]): x["allow"] for x in TRUTH["lookalikes"]}
    pictures = CATALOG["pictures"]  # text painted into a listing's pictures counts as its text
    subjects = [("listing", x, lint.listing_text(x, pictures)) for x in CATALOG["listings"]]
    subjects += [("shop", s, lint.shop_text(s)) for s in CATALOG["shops"]]
    for kind, subj, text in subjects:
        v = LABELLED.get((kind, subj["id"]))
        if v is None:
            assert lint.find_markers(text, allows.get((kind, subj["id"]), [])) == [], subj["id"]
            continue
        for piece in v["evidence"].split("；"):
            if piece.startswith("¥"):
                assert t.format_price(subj["original_price"]) == piece
            elif not piece.startswith("未展示"):
                assert piece in text, (subj["id"], piece)


def test_struck_through_prices() -> None:
    for x in CATALOG["listings"]:
        if not x["original_price"]:
            continue
        ratio = x["original_price"] / x["price"]
        is_price = "不正当价格行为" in LABELLED.get(("listing", x["id"]), {}).get("categories", [])
        msrp = "厂商建议零售价" in (x["promo"] or "")
        assert is_price == (ratio >= 8 and not msrp), x["id"]
    msrp_high = [x for x in CATALOG["listings"] if x["original_price"] and x["original_price"] / x["price"] >= 8
                 and "厂商建议零售价" in (x["promo"] or "")]
    assert len(msrp_high) >= 2  # lawful look-alikes of the price rule


def test_shop_licences_agree_with_truth() -> None:
    disclose = "电子商务经营者未履行市场主体公示义务"
    modes = Counter()
    for s in CATALOG["shops"]:
        lic = s["license"]
        labelled = disclose in LABELLED.get(("shop", s["id"]), {}).get("categories", [])
        if lic is None:
            modes["none"] += 1
            assert labelled
        elif lic.get("picture") and (CATALOG["pictures"][lic["picture"]]["blur"]
                                     or CATALOG["pictures"][lic["picture"]]["name"] != lic["company"]):
            modes["unreadable or another's"] += 1  # shown only as a picture, blurred or naming another company
            assert labelled, s["id"]
        elif lic.get("uscc"):
            valid = uscc_is_valid(lic["uscc"])
            modes["valid" if valid else "invalid"] += 1
            assert labelled == (not valid), s["id"]
        else:
            modes["exempt"] += 1
            assert lic.get("exemption") and not labelled
    assert modes["none"] >= 2 and modes["invalid"] >= 3 and modes["valid"] >= 25 and modes["exempt"] == 1


# ------------------------------------------------------------------ pages
def test_home_links_every_category(site: DemoServer) -> None:
    sel = page(site, "/")
    hrefs = sel.css("a.cat-link::attr(href)").getall()
    assert sorted(hrefs) == sorted(f"/category/{c['slug']}/" for c in CATALOG["categories"])
    assert "网剑演示商城 · 仅用于演示" in sel.css("footer::text").get()
    assert sel.css('meta[charset="utf-8"]')


@pytest.mark.parametrize("slug", [c["slug"] for c in CATALOG["categories"] if not c["js"]])
def test_category_pages_paginate_through_all_listings(site: DemoServer, slug: str) -> None:
    seen: list[str] = []
    path: str | None = f"/category/{slug}/"
    pages = 0
    while path:
        sel = page(site, path)
        cards = sel.css("div.card a.item-link::attr(href)").getall()
        assert 0 < len(cards) <= t.PAGE_SIZE
        seen += cards
        path = sel.css("a.next::attr(href)").get()
        pages += 1
        assert pages < 20
    expected = [f"/item/{x['id']}.html" for x in CATALOG["listings"] if x["category"] == slug]
    assert sorted(seen) == sorted(expected)
    assert pages == -(-len(expected) // t.PAGE_SIZE)


def test_kids_category_is_rendered_by_javascript(site: DemoServer) -> None:
    status, _, body = get(site.url + "/category/kids/")
    assert status == 200
    html = body.decode()
    assert "item-link" not in html
    assert 'src="/static/catalog.js"' in html
    status, headers, js = get(site.url + "/static/catalog.js")
    assert status == 200 and "javascript" in headers["Content-Type"] and js
    seen: list[str] = []
    api: str | None = "/api/category/kids?page=1"
    n = 0
    while api:
        status, headers, body = get(site.url + api)
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        data = json.loads(body)
        n += 1
        assert data["page"] == n and len(data["cards"]) <= t.PAGE_SIZE
        seen += [c["url"] for c in data["cards"]]
        if data["next"]:
            assert data["next"] == f"/category/kids/?page={n + 1}"
        api = data["next_api"]
    kids = [f"/item/{x['id']}.html" for x in CATALOG["listings"] if x["category"] == "kids"]
    assert sorted(seen) == sorted(kids)
    # the HTML page for page 2 exists too (the browser follows a.next there)
    assert get(site.url + "/category/kids/?page=2")[0] == 200


def test_listing_page_has_every_contract_selector(site: DemoServer) -> None:
    x = next(x for x in CATALOG["listings"] if x["original_price"] and x["promo"] and len(x["attributes"]) >= 3)
    shop = next(s for s in CATALOG["shops"] if s["id"] == x["shop_id"])
    label = next(c["label"] for c in CATALOG["categories"] if c["slug"] == x["category"])
    sel = page(site, f"/item/{x['id']}.html")
    assert sel.css("body::attr(data-listing-id)").get() == x["id"]
    assert sel.css("h1.title::text").get() == x["title"]
    assert sel.css("span.price::text").get() == t.format_price(x["price"])
    assert sel.css("del.original-price::text").get() == t.format_price(x["original_price"])
    assert sel.css("div.desc::text").get() == x["description"]
    assert sel.css("div.promo::text").get() == x["promo"]
    assert sel.css("div.service::text").get() == x["service"]
    assert sel.css("nav.breadcrumb a.cat::text").get() == label
    assert sel.css("a.shop-link::attr(href)").get() == f"/shop/{shop['id']}/"
    assert sel.css("a.shop-link::text").get() == shop["name"]
    rows = {r.css("th::text").get(): r.css("td::text").get() for r in sel.css("table.attrs tr")}
    assert rows == x["attributes"]
    plain = next(x for x in CATALOG["listings"] if not x["original_price"] and not x["promo"])
    sel = page(site, f"/item/{plain['id']}.html")
    assert not sel.css("del.original-price") and not sel.css("div.promo")


def _shop_where(pred) -> dict[str, Any]:
    return next(s for s in CATALOG["shops"] if pred(s))


def test_shop_pages_valid_invalid_and_missing_licence(site: DemoServer) -> None:
    valid = _shop_where(lambda s: s["license"] and s["license"].get("uscc") and uscc_is_valid(s["license"]["uscc"])
                        and s["license"].get("image"))
    sel = page(site, f"/shop/{valid['id']}/")
    assert sel.css("body::attr(data-shop-id)").get() == valid["id"]
    assert sel.css("h1.shop-name::text").get() == valid["name"]
    assert sel.css("div.shop-intro::text").get() == valid["intro"]
    assert sel.css("div.contact span.phone::text").get() == valid["phone"]
    assert sel.css("div.contact span.address::text").get() == valid["address"]
    assert sel.css("div.license span.company::text").get() == valid["operator"]
    assert uscc_is_valid(sel.css("div.license span.uscc::text").get())
    img = sel.css("div.license img.license-img::attr(src)").get()
    assert img and get(site.url + img)[0] == 200
    assert sel.css("div.policy::text").get() == valid["policy"]
    assert sel.css("div.notice::text").get() == valid["notice"]
    links = sel.css("a.item-link::attr(href)").getall()
    assert sorted(links) == sorted(f"/item/{x['id']}.html" for x in CATALOG["listings"] if x["shop_id"] == valid["id"])

    invalid = _shop_where(lambda s: s["license"] and s["license"].get("uscc")
                          and not uscc_is_valid(s["license"]["uscc"]))
    shown = page(site, f"/shop/{invalid['id']}/").css("div.license span.uscc::text").get()
    assert shown == invalid["license"]["uscc"] and not uscc_is_valid(shown)

    missing = _shop_where(lambda s: s["license"] is None)
    sel = page(site, f"/shop/{missing['id']}/")
    assert not sel.css("div.license") and sel.css("h1.shop-name")

    food = _shop_where(lambda s: s["license"] and food_license_kind(s["license"].get("food_license") or ""))
    assert page(site, f"/shop/{food['id']}/").css("div.license span.food-license::text").get() == \
        food["license"]["food_license"]


def test_search_paginates_title_matches(site: DemoServer) -> None:
    q = "高仿"
    expected = sorted(f"/item/{x['id']}.html" for x in CATALOG["listings"] if q in x["title"])
    assert expected
    sel = page(site, "/search?q=" + quote(q))
    assert sorted(sel.css("div.card a.item-link::attr(href)").getall()) == expected
    many = "款"  # enough hits for several pages
    total = sum(many in x["title"] for x in CATALOG["listings"])
    seen: list[str] = []
    path: str | None = "/search?q=" + quote(many)
    while path:
        sel = page(site, path)
        seen += sel.css("a.item-link::attr(href)").getall()
        path = sel.css("a.next::attr(href)").get()
    assert total > t.PAGE_SIZE and len(seen) == len(set(seen)) == total


def test_robots_sitemap_and_not_found(site: DemoServer) -> None:
    status, _, body = get(site.url + "/robots.txt")
    assert status == 200 and "Disallow: /cart" in body.decode() and "Allow: /" in body.decode()
    status, headers, body = get(site.url + "/sitemap.xml")
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    sel = Selector(text=body.decode(), type="xml")
    sel.remove_namespaces()
    locs = sel.xpath("//loc/text()").getall()
    assert sorted(locs) == sorted(f"{site.url}/shop/{s['id']}/" for s in CATALOG["shops"])
    for path in ("/nope", "/item/L9999.html", "/shop/S999/", "/category/weapons/", "/category/food/?page=99",
                 "/category/food/?page=abc", "/api/category/kids?page=0"):
        assert get(site.url + path)[0] == 404, path
    status, _, _ = get(site.url + "/category/food")  # urllib follows the 301
    assert status == 200


def test_conditional_get_and_request_counter(site: DemoServer) -> None:
    before = site.requests
    status, headers, body = get(site.url + "/item/L0001.html")
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag and modified
    status, headers, body = get(site.url + "/item/L0001.html", {"If-None-Match": etag})
    assert status == 304 and body == b"" and headers["ETag"] == etag
    assert get(site.url + "/item/L0001.html", {"If-None-Match": '"other"'})[0] == 200
    assert get(site.url + "/item/L0001.html", {"If-Modified-Since": modified})[0] == 304
    assert site.requests == before + 4


def test_price_factor_changes_prices_and_etags() -> None:
    x = CATALOG["listings"][0]
    with DemoServer() as server:
        status, headers, body = get(f"{server.url}/item/{x['id']}.html")
        etag, modified = headers["ETag"], headers["Last-Modified"]
        server.price_factor = 1.3
        status, headers, body = get(f"{server.url}/item/{x['id']}.html", {"If-None-Match": etag})
        assert status == 200 and headers["ETag"] != etag
        assert get(f"{server.url}/item/{x['id']}.html", {"If-Modified-Since": modified})[0] == 200
        price = Selector(text=body.decode()).css("span.price::text").get()
        assert price == t.format_price(round(x["price"] * 1.3, 2))
        with pytest.raises(ValueError):
            server.price_factor = 0


HOSTILE = '<script>alert("x")</script>'


def test_catalog_strings_are_escaped() -> None:
    cats = [{"slug": "food", "label": "食品" + HOSTILE, "js": False}]
    shop = {"id": "S001", "name": "店" + HOSTILE, "category": "food", "intro": HOSTILE, "phone": HOSTILE,
            "address": '"><img src=x onerror=alert(1)>', "policy": HOSTILE, "notice": HOSTILE, "opened": HOSTILE,
            "license": {"company": HOSTILE, "uscc": HOSTILE, "food_license": HOSTILE, "other": [HOSTILE],
                        "image": True}}
    listing = {"id": "L0001", "shop_id": "S001", "category": "food", "title": HOSTILE, "price": 1.0,
               "original_price": 2.0, "description": HOSTILE, "promo": HOSTILE, "service": HOSTILE,
               "attributes": {HOSTILE: HOSTILE}, "sold": HOSTILE}
    pages = [t.render_listing(cats, listing, shop, 1.0), t.render_shop(cats, shop, [listing], 1.0),
             t.render_home(cats, [shop], 1), t.render_license_svg(shop)]
    for html in pages:
        assert "<script>" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    # the same through the server, with a hostile synthetic catalog
    catalog = {"categories": cats, "shops": [shop], "listings": [listing], "updated": "2025-01-01T00:00:00Z"}
    with DemoServer(catalog=catalog) as server:
        for path in ("/", "/category/food/", "/shop/S001/", "/item/L0001.html", "/search?q=%3Cscript%3E"):
            status, _, body = get(server.url + path)
            assert status == 200 and b"<script>" not in body, path
        status, _, body = get(server.url + "/api/category/food")
        assert json.loads(body)["cards"][0]["title"] == HOSTILE  # JSON keeps raw text; the page script uses textContent


def test_module_runs_in_the_foreground() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "crawler.demo.server", "--port", "0"], cwd=DEMO.parents[1],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert get(url + "/")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.stderr.read() == ""  # quiet: no request log
