"""A site nobody wrote a profile for: ``crawler/sites/generic.yml`` (``type: auto``, crawler.autodetect).

The pages are told apart by their markup alone; the end-to-end test sweeps the demo marketplace with the
generic profile (none of the demo's selectors) and scores it against the demo's ground truth, on all its
listings and shops (the kids category fills its cards by JavaScript: its pages are fetched again in the browser).
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from cli_helpers import ROOT, run_cli

from crawler.autodetect import classify, needs_javascript
from crawler.demo.evaluate import GROUND_TRUTH, predicted_keys, score, truth_keys
from crawler.profiles import load_profile
from netsword.yamlsource import SourceError
from pipelines.store import open_store

URL = "http://shop.example.test/goods/123.html"


def page(body: str, head: str = "") -> str:
    return f"<html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"


def test_a_product_declared_in_json_ld_is_a_listing():
    ld = {"@context": "https://schema.org", "@type": "Product", "name": "高仿名表 一比一 机械表",
          "description": "顶级复刻 原装机芯", "offers": {"@type": "Offer", "price": "399.00", "priceCurrency": "CNY"}}
    found = classify(page("<h1>站点名</h1><div class='price'>¥399</div>",
                          f"<script type='application/ld+json'>{json.dumps(ld, ensure_ascii=False)}</script>"), URL)
    assert found.kind == "listing" and "schema.org" in found.why
    assert found.fields["title"] == "高仿名表 一比一 机械表" and "399" in found.fields["price_text"]
    assert found.fields["description"] == "顶级复刻 原装机芯"


def test_one_heading_a_price_and_a_buy_button_is_a_listing_with_its_shop_and_texts():
    html = page("""<nav class="breadcrumb"><a href="/">首页</a><a href="/c/food">食品</a></nav>
        <h1>农家自制 腊肠 500g</h1><span class="goods-price">¥59.90</span><del class="old-price">¥199</del>
        <button>加入购物车</button><a href="/shop/88/">老王腊味店</a>
        <div class="goods-desc">家庭作坊 纯手工 无添加</div><div class="promo-bar">满99减10</div>
        <div class="after-sale-service">不支持七天无理由退货</div>
        <div class="detail"><img src="/img/d1.jpg"></div>
        <ul class="recommend"><li><span class="price">¥1</span></li><li><span class="price">¥2</span></li>
        <li><span class="price">¥3</span></li><li><span class="price">¥4</span></li></ul>""")
    found = classify(html, URL)
    assert found.kind == "listing" and "buy button" in found.why
    f = found.fields
    assert (f["title"], f["price_text"], f["category"]) == ("农家自制 腊肠 500g", "¥59.90", "食品")
    assert f["description"] == "家庭作坊 纯手工 无添加" and f["promo"] == "满99减10"
    assert f["service"] == "不支持七天无理由退货"
    assert (f["shop_url"], f["shop_name"]) == ("http://shop.example.test/shop/88/", "老王腊味店")
    assert f["image_urls"] == {"detail": ["http://shop.example.test/img/d1.jpg"]}


def test_a_list_of_products_is_a_page_not_a_listing():
    cards = "".join(f"<div class='card'><a href='/goods/{i}.html'>商品{i}</a><span class='price'>¥{i}9</span></div>"
                    for i in range(12))
    assert classify(page(f"<h1>手机数码</h1>{cards}"), "http://shop.example.test/list?page=2").kind == "page"
    last = "".join(f"<div class='card'><a href='/goods/{i}.html'>商品{i}</a><span class='price'>¥{i}9</span></div>"
                   for i in range(2))
    assert classify(page(f"<h1>手机数码</h1>{last}"), "http://shop.example.test/list?page=9").kind == "page"
    ld = [{"@context": "https://schema.org", "@type": "Product", "name": f"商品{i}",
           "offers": {"@type": "Offer", "price": "9"}} for i in range(3)]
    assert classify(page("<h1>搜索结果</h1>", f"<script type='application/ld+json'>{json.dumps(ld)}</script>"),
                    URL).kind == "page"
    assert classify(page("<h1>关于我们</h1><p>公司简介</p>"), "http://shop.example.test/about").kind == "page"


def test_a_list_with_a_buy_button_on_every_card_is_a_page():
    cards = "".join(f"<li class='col'><article class='product_pod'><h3><a href='/b/{i}'>书名{i}</a></h3>"
                    f"<p class='price_color'>£{i}1.00</p><button>Add to basket</button></article></li>"
                    for i in range(6))
    assert classify(page(f"<h1>All products</h1><ol class='row'>{cards}</ol>"), "http://books.test/").kind == "page"


def test_the_product_heading_among_several_and_a_buy_button_in_another_language():
    html = page("""<h1 class="nav">Menü</h1><h1 id="title"><span id="productTitle">Heizlüfter 2000 W</span></h1>
        <div id="price"><span class="a-price">49,99 €</span></div><input type="submit" value="In den Einkaufswagen">
        <div class="related"><div class="c"><a href="/x1">Andere 1</a><span class="price">9 €</span></div>
        <div class="c"><a href="/x2">Andere 2</a><span class="price">8 €</span></div>
        <div class="c"><a href="/x3">Andere 3</a><span class="price">7 €</span></div></div>""")
    found = classify(html, "http://shop.example.de/dp/1")
    assert found.kind == "listing" and (found.fields["title"], found.fields["price_text"]) == ("Heizlüfter 2000 W",
                                                                                               "49,99 €")



def test_a_page_its_scripts_fill_is_told_apart_from_a_page_with_text():
    assert needs_javascript(page("<div id='root'></div><noscript>You need to enable JavaScript to run this app."
                                 "</noscript>")).startswith("<noscript>")
    assert needs_javascript(page("<div id='app'></div><script src='/app.js'></script>")).startswith("an empty app")
    assert needs_javascript(page("<h1>商品</h1><script src='/app.js'></script>")).startswith("scripts and next")
    article = page("<h1>关于我们</h1><p>" + "本公司成立于二〇〇八年，主营家用电器。" * 5
                   + "</p><script src='/t.js'></script>"
                   "<noscript><img src='/pixel.gif'></noscript>")
    assert needs_javascript(article) == "", "a tracking pixel's noscript is no notice"
    assert needs_javascript(page("<p>短</p>")) == "", "a short page without scripts is what it is"

def test_a_licence_block_makes_a_shop_with_its_number_and_operator():
    html = page("""<h1>鑫盛五金旗舰店</h1><div class="shop-intro">厂家直销 五金工具</div>
        <div class="shop-notice">春节期间暂停发货</div>
        <div class="qualification"><h3>营业执照信息</h3><p>企业名称：深圳市鑫盛五金有限公司</p>
        <p>统一社会信用代码：91440300MA5F00XY0T</p><img alt="营业执照" src="/lic/88.png"></div>""")
    found = classify(html, "http://shop.example.test/store/88")
    assert found.kind == "shop" and found.why == "a licence block"
    f = found.fields
    assert (f["name"], f["license_number"], f["operator"]) == ("鑫盛五金旗舰店", "91440300MA5F00XY0T",
                                                                "深圳市鑫盛五金有限公司")
    assert f["description"] == "厂家直销 五金工具" and f["notices"] == "春节期间暂停发货"
    assert f["license_image"] == "http://shop.example.test/lic/88.png"
    # a shop page without a licence block is a shop by its URL (and lic.missing will say so)
    found = classify(page("<h1>小李手工饰品</h1><div class='shop-desc'>手工耳环</div>"), "http://x.test/shop/7")
    assert found.kind == "shop" and found.why == "a shop URL" and "license_text" not in found.fields


def test_the_generic_profile_wants_the_site_to_sweep(tmp_path):
    proc = run_cli("crawl", "--site", "generic", home=tmp_path)
    assert proc.returncode != 0 and "--base-url" in proc.stderr and "generic.yml" in proc.stderr


def test_an_auto_page_type_takes_no_selectors(tmp_path):
    path = tmp_path / "mixed.yml"
    path.write_text("site: mixed\nname: m\nstart_urls: ['http://x.test/']\npages:\n  any:\n    type: auto\n"
                    "    match: ['.*']\n    fields: {title: h1}\n", encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_profile(path)
    assert "auto" in str(err.value) and "mixed.yml:" in str(err.value)


@pytest.fixture(scope="module")
def generic_sweep(demo_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("generic-home")
    proc = run_cli("crawl", "--site", "generic", "--base-url", demo_server.url, "--sweep-id", "generic-demo",
                   "-s", "DOWNLOAD_DELAY=0", "-s", "EVIDENCE_FINDING_SCREENSHOTS=False", home=home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (home / "sweep.log").write_text(proc.stderr, encoding="utf-8")  # read by the asserts below when they fail
    return home


def test_the_generic_profile_sweeps_an_unprofiled_site_and_its_findings_hold(generic_sweep):
    catalog = json.loads((ROOT / "crawler" / "demo" / "catalog.json").read_text(encoding="utf-8"))
    listings = {x["id"]: x for x in catalog["listings"]}  # the JavaScript category's too: rendered in the browser
    shops = {x["shop_id"] for x in listings.values()}
    db = sqlite3.connect(generic_sweep / "netsword.db")
    got = {lid.rsplit("/", 1)[-1]: title for lid, title in db.execute("select listing_id, title from listings")}
    got_shops = {sid.rsplit("/", 1)[-1] for (sid,) in db.execute("select shop_id from shops")}
    db.close()
    js = {c["slug"] for c in catalog["categories"] if c.get("js")}
    log = (generic_sweep / "sweep.log").read_text(encoding="utf-8").splitlines()
    said = [line for line in log if "browser" in line or "page failed" in line or "playwright" in line.lower()][-15:]
    assert {i for i in got if listings.get(i, {}).get("category") in js}, \
        "the JavaScript category is reached:\n" + "\n".join(said)
    found = set(got) & set(listings)
    print(f"\ngeneric profile: {len(found)}/{len(listings)} listings, {len(got_shops & shops)}/{len(shops)} shops")
    assert len(found) >= 0.95 * len(listings)
    assert len(got_shops & shops) >= 0.9 * len(shops)
    assert all(got[i] == listings[i]["title"] for i in found), "titles come from the page's h1"
    extra = set(got) - {x["id"] for x in catalog["listings"]}
    assert not extra, f"only product pages are listings: {sorted(extra)[:10]}"
    store = open_store(f"sqlite:///{generic_sweep / 'netsword.db'}")
    try:
        predicted = {(k, i.rsplit("/", 1)[-1], c)
                     for k, i, c in predicted_keys(list(store.iter_findings({"sweep_id": "generic-demo"})))}
    finally:
        store.close()
    truth = {(k, i, c) for k, i, c in truth_keys(GROUND_TRUTH) if (i in listings if k == "listing" else i in shops)}
    report = score(truth, predicted)
    print(report.table())
    print("missed:", report.missed, "false alarms:", report.false_alarms)
    assert report.precision >= 0.95 and report.recall >= 0.9


def test_a_shop_whose_licence_is_on_its_own_page_is_judged_with_that_page(tmp_path):
    """tests/qualsite.py: shops that show their licence on a 资质 page. The generic profile fetches the page the
    shop links to, keeps it as evidence and reads the licence there: no false "licence not displayed"; a
    qualification page that says 暂无 leaves the licence missing."""
    from qualsite import VALID_USCC, QualSite

    with QualSite() as site:
        proc = run_cli("crawl", "--site", "generic", "--base-url", site.url, "--sweep-id", "generic-qual",
                       "-s", "DOWNLOAD_DELAY=0", "-s", "EVIDENCE_FINDING_SCREENSHOTS=False", home=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    store = open_store(f"sqlite:///{tmp_path / 'netsword.db'}")
    try:
        shops = {sid.rsplit(":", 1)[-1]: store.get_shop(sid) for sid in store.iter_subject_ids("shop")}
        rules = {(f["subject_id"].rsplit(":", 1)[-1], f["rule_id"]) for f in store.iter_findings({})}
    finally:
        store.close()
    assert set(shops) == {"shop/1", "shop/2", "shop/3"}, "the qualification pages are no shops of their own"
    assert shops["shop/1"].license_number == VALID_USCC
    assert "厦门一号贸易有限公司" in shops["shop/1"].license_text
    assert shops["shop/3"].license_number == "92350102MA2Y0R7X1M"
    assert not {r for s, r in rules if s in ("shop/1", "shop/3") and r.startswith("lic.")}
    assert ("shop/2", "lic.missing") in rules and "暂无资质信息" in shops["shop/2"].notices
    db = sqlite3.connect(tmp_path / "netsword.db")
    kept = {url.split("/", 3)[-1] for (url,) in db.execute("select url from page_states where page_type = 'licence'")}
    db.close()
    assert kept == {"shop/1/license", "shop/2/license", "qual?token=7f3a"}
