"""Sub-pages (``belongs_to``, crawler/subpages.py) against a small marketplace on 127.0.0.1 (tests/qualsite.py,
profile tests/sites/qual.yml) whose shops show their licence on separate 资质 pages:

* a sweep stores three shops, no phantom shop made of a qualification page's URL; the licence read on the
  qualification page is in its shop's record; only the shop with no licence anywhere gets "licence not
  displayed", and that finding points at its qualification page;
* incremental sweeps: only the qualification page changes (the shop's home page is unchanged) -> the new
  number is in the record and its finding is raised; only the home page changes (the qualification page
  is unchanged) -> the merged record resolves the finding the shop no longer deserves;
* a distributed sweep by two workers stores the same;
* profile mistakes in ``belongs_to`` name file:line and the fix.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import ROOT, run_cli
from qualsite import INVALID_USCC, VALID_USCC, default_pages, license_page, shop_home

from crawler.items import ShopItem
from crawler.profiles import load_profile
from netsword.yamlsource import SourceError
from pipelines.store import open_store

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def env():
    mp = pytest.MonkeyPatch()
    mp.setenv("NETSWORD_SITES_DIR", str(TESTS / "sites"))
    mp.setenv("SCRAPY_SETTINGS_MODULE", "quick_crawl_settings")  # no finding screenshots
    mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p))
    yield mp
    mp.undo()


def crawl(home: Path, base_url: str, sweep_id: str) -> subprocess.CompletedProcess:
    proc = run_cli("crawl", "--site", "qual", "--base-url", base_url, "--sweep-id", sweep_id, home=home, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def shops(db: Path) -> dict[str, ShopItem]:
    store = open_store(f"sqlite:///{db}")
    try:
        return {sid: shop for sid in store.iter_subject_ids("shop") if (shop := store.get_shop(sid)) is not None}
    finally:
        store.close()


def findings(db: Path) -> dict[tuple[str, str], dict]:
    """(subject id, rule id) -> the finding as the store keeps it (url, snapshot, status, sweeps)."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return {(r["subject_id"], r["rule_id"]): dict(r) for r in con.execute("SELECT * FROM findings")}
    finally:
        con.close()


def snapshot_url(db: Path, sha256: str) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute("SELECT url FROM snapshots WHERE sha256=?", (sha256,))}
    finally:
        con.close()


def sweep_stats(db: Path, sweep_id: str) -> dict:
    con = sqlite3.connect(db)
    try:
        return json.loads(con.execute("SELECT stats FROM sweeps WHERE sweep_id=?", (sweep_id,)).fetchone()[0])
    finally:
        con.close()


@pytest.fixture(scope="module")
def first(env, qual_site, tmp_path_factory):
    qual_site.pages = default_pages()
    home = tmp_path_factory.mktemp("subpages-home")
    proc = crawl(home, qual_site.url, "qual-1")
    return {"home": home, "db": home / "netsword.db", "proc": proc, "url": qual_site.url}


def test_qualification_pages_fill_their_shops_and_make_no_phantom(first):
    got = shops(first["db"])
    assert sorted(got) == ["qual:1", "qual:2", "qual:3"]  # no shop made of /shop/1/license or /qual?token=...
    s1, s2, s3 = got["qual:1"], got["qual:2"], got["qual:3"]
    assert (s1.name, s1.operator, s1.license_number) == ("测试店铺1号", "厦门一号贸易有限公司", VALID_USCC)
    assert s1.url == f"{first['url']}/shop/1/"  # the shop's own page stays its page
    assert (s2.name, s2.license_number, s2.license_text) == ("测试店铺2号", "", "")
    assert (s3.operator, s3.license_number) == ("厦门三号商行", "92350102MA2Y0R7X1M")  # id read from the page


def test_no_false_licence_not_displayed_and_the_missing_one_flagged_at_its_qualification_page(first):
    found = findings(first["db"])
    assert [k for k in found if k[1] == "lic.missing"] == [("qual:2", "lic.missing")]
    missing = found[("qual:2", "lic.missing")]
    assert missing["url"] == f"{first['url']}/shop/2/license"
    assert snapshot_url(first["db"], missing["snapshot_sha256"]) == {f"{first['url']}/shop/2/license"}
    assert all(k[0] in ("qual:1", "qual:2", "qual:3") for k in found)
    assert "3 shops, 1 findings" in first["proc"].stdout.replace("\n", " ")


def test_sub_pages_that_tell_no_shop_are_named_and_not_stored_as_shops(first):
    stderr = first["proc"].stderr
    lost = [line for line in stderr.splitlines() if "子页面找不到所属店铺" in line]
    assert len(lost) == 1 and "/qual?token=lost" in lost[0] and "belongs_to.id" in lost[0], lost
    stats = sweep_stats(first["db"], "qual-1")
    assert stats["netsword/subpages/no_owner"] == 1
    # a `via: link` qualification page linked from the home page (no shop) is left to its shop's page
    assert stats["netsword/subpages/not_followed"] == 1
    assert stats["netsword/assembled/shop"] == 3 and stats["netsword/parts"] == 6


def test_incremental_sweeps_keep_the_merged_record_right(first, qual_site):
    db = first["db"]
    try:
        # 1. only shop 1's qualification page changes: its home page comes back unchanged
        qual_site.set("/shop/1/license", license_page("厦门一号贸易有限公司", INVALID_USCC))
        crawl(first["home"], qual_site.url, "qual-2")
        stats = sweep_stats(db, "qual-2")
        assert stats["netsword/pages/unchanged"] == 7 and stats["netsword/assembled/shop"] == 1
        s1 = shops(db)["qual:1"]
        assert (s1.name, s1.license_number) == ("测试店铺1号", INVALID_USCC)  # home part kept, licence part new
        found = findings(db)
        bad = found[("qual:1", "lic.uscc-invalid")]
        assert bad["status"] == "open" and bad["url"] == f"{qual_site.url}/shop/1/license"
        assert ("qual:1", "lic.missing") not in found
        assert found[("qual:2", "lic.missing")]["last_sweep_id"] == "qual-2"  # unchanged, still seen

        # 2. only shop 2's home page changes (a declaration that it needs no licence); its qualification
        #    page is unchanged: the merged record no longer raises "licence not displayed"
        qual_site.set("/shop/2/", shop_home(2, "/shop/2/license",
                                            "个人闲置转让，依据《电子商务法》第十条无需办理市场主体登记"))
        crawl(first["home"], qual_site.url, "qual-3")
        found = findings(db)
        missing = found[("qual:2", "lic.missing")]
        assert missing["status"] == "resolved" and missing["resolved_sweep_id"] == "qual-3"
        assert found[("qual:1", "lic.uscc-invalid")]["status"] == "open"  # shop 1 unchanged: finding kept
        assert sorted(shops(db)) == ["qual:1", "qual:2", "qual:3"]
    finally:
        qual_site.pages = default_pages()


def test_a_shop_whose_qualification_page_failed_is_not_judged_until_it_is_fetched(env, qual_site, tmp_path):
    qual_site.pages = default_pages()
    del qual_site.pages["/shop/2/license"]  # answers 404
    try:
        proc = crawl(tmp_path, qual_site.url, "qual-f1")
    finally:
        qual_site.pages = default_pages()
    db = tmp_path / "netsword.db"
    assert sorted(shops(db)) == ["qual:1", "qual:3"] and findings(db) == {}  # no false "licence not displayed"
    assert any("qual:2 not judged" in line and "子页面抓取失败" in line for line in proc.stderr.splitlines())
    assert sweep_stats(db, "qual-f1")["netsword/subpages/not_judged"] == 1
    crawl(tmp_path, qual_site.url, "qual-f2")  # the page is back: the shop is judged with it
    assert sorted(shops(db)) == ["qual:1", "qual:2", "qual:3"]
    assert sorted(findings(db)) == [("qual:2", "lic.missing")]


def test_a_distributed_sweep_merges_the_pages_two_workers_saw(env, qual_site, first, redis_url, tmp_path):
    qual_site.pages = default_pages()
    base = {**os.environ, "NETSWORD_HOME": str(tmp_path), "NETSWORD_REDIS_URL": redis_url}
    base.pop("NETSWORD_STORE", None)
    proc = subprocess.run([sys.executable, "-m", "cli", "crawl", "--site", "qual", "--base-url", qual_site.url,
                           "--sweep-id", "qual-dist", "--distributed"], cwd=ROOT, env=base, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    workers = [subprocess.Popen([sys.executable, "-m", "cli", "worker", "--once", "--id", f"q{i}",
                                 "-s", "NETSWORD_REDIS_HEARTBEAT=0.5"], cwd=ROOT, env=base,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for w in workers:
        _out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err[-3000:]
    db = tmp_path / "netsword.db"
    got = shops(db)
    assert sorted(got) == ["qual:1", "qual:2", "qual:3"]
    assert got["qual:1"].license_number == VALID_USCC and got["qual:3"].operator == "厦门三号商行"
    found = findings(db)
    assert sorted(found) == [("qual:2", "lic.missing")]
    assert found[("qual:2", "lic.missing")]["url"] == f"{qual_site.url}/shop/2/license"


def test_a_store_that_keeps_no_sub_pages_stops_the_sweep_before_it_starts(env, tmp_path):
    (tmp_path / "netsword.yml").write_text("store: elasticsearch://127.0.0.1:9\n", encoding="utf-8")
    proc = run_cli("crawl", "--site", "qual", "--base-url", "http://127.0.0.1:9", home=tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "qual.yml: 站点配置有子页面 (belongs_to)，但 elasticsearch 存储还不能保存子页面" in proc.stderr, proc.stderr


# --------------------------------------------------------------------------- profile mistakes

PROFILE = """site: s1
name: 测试
start_urls: ['{base_url}/']
pages:
  shop:
    type: shop
    match: ['^/shop/\\\\d+/$']
    follow: ['a.qual']
    fields: {name: 'h1'}
  qualification:
    type: shop
    match: ['^/shop/\\\\d+/license$']
    belongs_to: {kind: shop, via: link}
    fields: {license_text: 'div.license'}
"""


@pytest.mark.parametrize(
    ("bad", "good", "line", "words"),
    [
        ("    type: shop\n    match: ['^/shop/\\\\d+/license$']",
         "    type: page\n    match: ['^/shop/\\\\d+/license$']", 13, "belongs_to 用在不产生记录的页面类型 'page'"),
        ("{kind: shop, via: link}", "{kind: shopp, via: link}", 13, "belongs_to.kind"),
        ("{kind: shop, via: link}", "{kind: listing, via: link}", 13, "本页面类型产生 shop 记录"),
        ("{kind: shop, via: link}", "{kind: shop, vai: link}", 13, "did you mean 'via'"),
        ("{kind: shop, via: link}", "{kind: shop}", 13, "via: link` 或 `id:`"),
        ("{kind: shop, via: link}", "{kind: shop, via: link, id: 'body::attr(data-shop)'}", 13, "只需要"),
        ("{kind: shop, via: link}", "{kind: shop, id: {sell: 'body::attr(data-shop)'}}", 13,
         "did you mean 'sel'"),
        ("{kind: shop, via: link}", "{kind: shop, id: 'div[[['}", 13, "bad selector"),
        ("fields: {license_text: 'div.license'}", "fields: {license_text: 'div.license', shop_id: 'b'}", 14,
         "shop_id 来自 belongs_to"),
        ("    follow: ['a.qual']\n", "", 12, "没有哪个店铺页面类型"),
    ],
)
def test_belongs_to_mistakes_name_file_line_and_fix(tmp_path, bad, good, line, words):
    assert bad in PROFILE
    path = tmp_path / "site.yml"
    path.write_text(PROFILE.replace(bad, good), encoding="utf-8")
    with pytest.raises(SourceError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert words in message


def test_a_good_belongs_to_profile_loads(tmp_path):
    path = tmp_path / "site.yml"
    path.write_text(PROFILE, encoding="utf-8")
    profile = load_profile(path)
    assert profile.has_subpages("shop") and not profile.has_subpages("listing")
    assert load_profile(TESTS / "sites" / "qual.yml").pages["qualification_by_id"].belongs_to.id.sel \
        == "body::attr(data-shop)"


# --------------------------------------------------------------------------- listings, without a crawl


def test_a_listing_with_a_parameters_page_is_assembled_from_both(tmp_path):
    """A listing whose claims are on its separate parameters page: the merged listing has both pages' fields,
    its finding points at the parameters page, and a page stored alone is no listing until assembled."""
    from crawler.items import ListingItem
    from crawler.subpages import assemble_sweep
    from pipelines.match import RuleSet

    store = open_store(f"sqlite:///{tmp_path / 'netsword.db'}")
    try:
        main = ListingItem(url="http://127.0.0.1:1/item/7", site="s", sweep_id="w1", status=200,
                           fetched_at="2026-12-05T10:00:00Z", html_sha256="a" * 64, listing_id="7", shop_id="9",
                           title="运动鞋 男款", price_text="¥199", part="listing")
        params = ListingItem(url="http://127.0.0.1:1/item/7/params", site="s", sweep_id="w1", status=200,
                             fetched_at="2026-12-05T10:00:01Z", html_sha256="b" * 64, listing_id="7",
                             description="高仿 原单 莆田工厂直发", attributes={"产地": "莆田"}, part="params",
                             sub_page=True)
        for part in (main, params):
            store.put_part(part)
        assert store.get_listing("s:7") is None and store.part_subjects("w1") == [("listing", "s:7")]
        assert assemble_sweep(store, "w1", RuleSet.load()) == 1
        listing = store.get_listing("s:7")
        assert listing is not None
        assert (listing.title, listing.price, listing.description, listing.attributes) == \
            ("运动鞋 男款", 199.0, "高仿 原单 莆田工厂直发", {"产地": "莆田"})
        assert listing.url == main.url and not listing.part
        on_description = [f for f in store.findings_for("s:7", kind="listing") if f.finding.field == "description"]
        assert on_description, [f.finding.rule_id for f in store.findings_for("s:7", kind="listing")]
        assert {(f.finding.url, f.finding.snapshot_sha256) for f in on_description} == {(params.url, "b" * 64)}
    finally:
        store.close()


def test_parts_of_a_sweep_that_never_assembled_join_the_next_one(tmp_path):
    """A sweep killed before its end (never resumed) stored parts but no shop; the next sweep finds the pages
    unchanged: their parts join it, so its end assembles the shop (no "unchanged page of an unknown shop")."""
    from crawler.items import UnchangedPage
    from pipelines.store.pipeline import StorePipeline

    url = f"sqlite:///{tmp_path / 'netsword.db'}"
    store = open_store(url)
    try:
        store.put_part(ShopItem(url="http://127.0.0.1:1/shop/1/", site="s", sweep_id="killed", status=200,
                                shop_id="1", name="店铺", part="shop"))
    finally:
        store.close()
    stage = StorePipeline(url)
    stage.open_spider()
    stage.process_item(UnchangedPage(url="http://127.0.0.1:1/shop/1/", site="s", sweep_id="next", status=304,
                                     subject_kind="shop", subject_id="s:1", page_type="shop"))
    assert stage.store.part_subjects("next") == [("shop", "s:1")]
    stage.close_spider()


def test_a_resumed_sweep_keeps_the_shop_a_pending_sub_page_was_linked_from(tmp_path):
    """The frontier keeps whose page linked to a `via: link` sub-page: after a kill, the resumed request still
    knows its shop (else the page could not tell whose it is)."""
    from crawler.frontier import Frontier, FrontierMiddleware
    from crawler.spiders.listing import ListingSpider
    from crawler.subpages import PARENT

    frontier = Frontier(tmp_path / "frontier.sqlite")
    url = "http://127.0.0.1:1/shop/1/license"
    assert frontier.add("fp1", url, 1, {"kind": "shop", "id": "1"})
    assert frontier.add("fp2", "http://127.0.0.1:1/shop/2/", 1)
    frontier.close()

    spider = ListingSpider(site="qual", profile=load_profile(TESTS / "sites" / "qual.yml"), sweep_id="qual-r")
    mw = FrontierMiddleware(str(tmp_path), True, f"sqlite:///{tmp_path / 'netsword.db'}")
    again = Frontier(tmp_path / "frontier.sqlite")
    try:
        requests = {r.url: r for r in mw._pending_requests(again, spider)}
    finally:
        again.close()
    assert requests[url].meta[PARENT] == {"kind": "shop", "id": "1"}
    assert PARENT not in requests["http://127.0.0.1:1/shop/2/"].meta
