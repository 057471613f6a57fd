"""Profiles that say when they break (issue 16 item 6, issue 17's "pages suddenly yield nothing" alarm).

Each failure a user meets, with the message and the exit status they get, on a real local shop
(tests/testsite.py), real Chromium, the real `netsword` and `scrapy` commands, a real webhook:

* a field selector that matches nothing: the sweep fails (exit 4) with the fill rate table, and alerts;
  `scrapy crawl` ends with finish reason ``profile_broken``;
* a ``wait_for`` that never appears: the message names the profile's file:line and the selector, and
  a sweep that got no page at all fails;
* pages but no listing at all (a ``follow`` that matches nothing) fails;
* a page type far below the site's last sweep fails (the site changed its layout);
* a distributed sweep with a broken profile raises the alarm once (scheduling.health);
* ``profile test`` on the demo's fixtures passes, and on a broken copy names what broke (exit 1);
* ``profile check`` shows the ids and the findings; ``profile fixture`` saves a page ``profile test`` uses.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import ROOT, run_cli
from testsite import TestSite
from webhook_receiver import WebhookReceiver

ITEMS = [f"/item/B{i}.html" for i in range(1, 9)]
PROFILE = """\
site: brk
name: 断裂测试店
start_urls: ['{{base_url}}/']
allowed_domains: [127.0.0.1]
politeness: {{concurrency: 4, delay: 0, autothrottle: false, retries: 0}}
pages:
  home:
    match: ['^/$']{home}
    follow: ['{follow}']
  listing:
    type: listing
    match: ['{match}']
    fields:
      listing_id: 'body::attr(data-listing-id)'
      title: '{title}'
      price_text: 'span.price'
      shop_name: 'a.shop-link'
"""
QUICK = ("-s", "EVIDENCE_FINDING_SCREENSHOTS=False", "-s", "IMAGES_OCR=False", "-s", "NETSWORD_RETRY_BACKOFF_BASE=0.1")


def profile(follow: str = "a.go", match: str = r"^/item/B\d+\.html$", title: str = "h1.title", home: str = "") -> str:
    return PROFILE.format(follow=follow, match=match, title=title, home=home)


@pytest.fixture(scope="module")
def shop():
    with TestSite(ITEMS) as site:
        yield site


@pytest.fixture
def sites(tmp_path, monkeypatch):
    folder = tmp_path / "sites"
    folder.mkdir()
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(folder))
    return folder


def crawl(home: Path, base_url: str, *extra: str, **env: str) -> subprocess.CompletedProcess:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_cli("crawl", "--site", "brk", "--base-url", base_url, *QUICK, *extra, home=home, timeout=300)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_a_title_selector_matching_nothing_fails_the_sweep_with_its_fill_rates_and_an_alert(shop, sites, tmp_path):
    (sites / "brk.yml").write_text(profile(title="h1.headline"), encoding="utf-8")
    with WebhookReceiver() as hook:
        proc = crawl(tmp_path / "home", shop.url, "--sweep-id", "brk-title", NETSWORD_ALERT_URLS=hook.url())
        received = hook.wait_for(1)
    assert proc.returncode == 4, proc.stderr[-3000:]
    err = proc.stderr
    assert "站点配置失效 / profile broken" in err
    assert "页面类型 listing：必填字段 title 只在 0/8 页有值（0%，低于 50%）" in err
    # the table: one line per page type and required field, with its fill rate
    assert re.search(r"页面类型\s+页面数\s+必填字段\s+填充率\s+上次", err), err[-2000:]
    assert re.search(r"listing\s+8\s+title\s+0%\s+—", err), err[-2000:]
    assert re.search(r"price_text\s+100%\s+—", err) and re.search(r"shop_id\|shop_name\s+100%\s+—", err)
    assert "unparseable 8" in proc.stdout  # the listings without a title are counted, not silently dropped
    assert len(received) == 1
    alert = received[0]["json"]
    assert "站点配置失效" in alert["title"] and "brk-title" in alert["title"]
    assert "必填字段 title 只在 0/8 页有值" in alert["message"]
    db = sqlite3.connect(tmp_path / "home" / "netsword.db")
    stats = db.execute("SELECT stats FROM sweeps WHERE sweep_id='brk-title'").fetchone()[0]
    db.close()
    assert '"netsword/fill/listing/filled/title": 0' in stats  # kept with the sweep, for the next one


def test_scrapy_crawl_ends_with_finish_reason_profile_broken(shop, sites, tmp_path):
    (sites / "brk.yml").write_text(profile(title="h1.headline"), encoding="utf-8")
    env = {**os.environ, "NETSWORD_HOME": str(tmp_path / "home"), "NETSWORD_SITES_DIR": str(sites)}
    env.pop("NETSWORD_STORE", None)
    proc = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "listing", "-a", "site=brk",
                           "-a", f"base_url={shop.url}", *QUICK], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert "'finish_reason': 'profile_broken'" in proc.stderr, proc.stderr[-3000:]
    assert "站点配置失效 / profile broken" in proc.stderr


def test_a_wait_for_that_never_appears_names_the_profile_line_and_an_empty_sweep_fails(shop, sites, tmp_path):
    home = "\n    render: browser\n    steps:\n      - wait_for: 'div.never'\n        timeout: 1000"
    text = profile(home=home)
    (sites / "brk.yml").write_text(text, encoding="utf-8")
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "wait_for: 'div.never'" in x)
    proc = crawl(tmp_path / "home", shop.url, "--sweep-id", "brk-wait")
    assert proc.returncode == 4, proc.stderr[-3000:]
    where = f"{sites / 'brk.yml'}:{line}"
    message = f"等待元素超时: {where} wait_for 'div.never' 在 1 秒内未出现: {shop.url}/"
    assert message in proc.stderr, proc.stderr[-3000:]
    assert "没有得到任何页面" in proc.stderr
    assert "TimeoutError" not in proc.stderr and "Timeout 1000ms exceeded" not in proc.stderr


def test_pages_but_no_listing_at_all_fail_the_sweep(shop, sites, tmp_path):
    (sites / "brk.yml").write_text(profile(follow="a.product"), encoding="utf-8")
    proc = crawl(tmp_path / "home", shop.url, "--sweep-id", "brk-none")
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert "得到 1 个页面，但没有一个商品或店铺页面" in proc.stderr


def test_a_page_type_far_below_the_last_sweep_fails(shop, sites, tmp_path):
    (sites / "brk.yml").write_text(profile(), encoding="utf-8")
    first = crawl(tmp_path / "home", shop.url, "--sweep-id", "brk-1")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "站点配置失效" not in first.stderr
    # the site "changed": only two of its eight listing URLs still match the profile
    (sites / "brk.yml").write_text(profile(match=r"^/item/B[12]\.html$"), encoding="utf-8")
    second = crawl(tmp_path / "home", shop.url, "--sweep-id", "brk-2")
    assert second.returncode == 4, second.stderr[-3000:]
    assert "页面类型 listing：本次 2 页，上次扫描 brk-1 有 8 页（不到 50%）" in second.stderr


def test_a_distributed_sweep_with_a_broken_profile_raises_the_alarm_once(shop, sites, tmp_path, redis_url):
    import redis

    from pipelines.store import open_store
    from scheduling.health import check_sweeps

    (sites / "brk.yml").write_text(profile(title="h1.headline"), encoding="utf-8")
    home = tmp_path / "home"
    env = {**os.environ, "NETSWORD_HOME": str(home), "NETSWORD_REDIS_URL": redis_url, "NETSWORD_SITES_DIR": str(sites)}
    env.pop("NETSWORD_STORE", None)
    cli = [sys.executable, "-m", "cli"]
    seeded = subprocess.run([*cli, "crawl", "--site", "brk", "--base-url", shop.url, "--sweep-id", "brk-d",
                             "--distributed"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    worker = subprocess.run([*cli, "worker", "--once", "--id", "w1", "-s", "NETSWORD_REDIS_HEARTBEAT=0.5", *QUICK],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr[-3000:]
    server = redis.Redis.from_url(redis_url)
    store = open_store(f"sqlite:///{home / 'netsword.db'}")
    try:
        with WebhookReceiver() as hook:
            sent = check_sweeps(server, store, targets=[hook.url()])
            again = check_sweeps(server, store, targets=[hook.url()])
            received = hook.wait_for(1)
    finally:
        store.close()
    broken = [a for a in sent if a.kind == "profile_broken"]
    assert len(broken) == 1 and broken[0].status.startswith("sent"), sent
    assert "必填字段 title 只在 0/8 页有值" in broken[0].body
    assert not [a for a in again if a.kind == "profile_broken"]  # sent once
    assert any("站点配置失效" in r["json"]["title"] for r in received)


# --------------------------------------------------------------------------- profile test / check / fixture


def test_profile_test_passes_on_the_demo_fixtures():
    proc = run_cli("profile", "test", "demo", home=ROOT / "var" / "test-profile-home")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert re.search(r"站点 demo：\d+ 个样本页面全部通过", proc.stdout)


def test_profile_test_names_what_broke_in_a_broken_copy(tmp_path, monkeypatch):
    sites = tmp_path / "sites"
    sites.mkdir()
    shutil.copytree(ROOT / "crawler" / "sites" / "demo.fixtures", sites / "demo.fixtures")
    text = (ROOT / "crawler" / "sites" / "demo.yml").read_text(encoding="utf-8")
    text = text.replace("title: 'h1.title'", "title: 'h1.product-title'").replace(
        "wait_for: 'div.card'", "wait_for: 'div.product-card'")
    (sites / "demo.yml").write_text(text, encoding="utf-8")
    lines = text.splitlines()
    title_line = next(i for i, x in enumerate(lines, 1) if "h1.product-title" in x)
    wait_line = next(i for i, x in enumerate(lines, 1) if "div.product-card" in x)
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(sites))
    proc = run_cli("profile", "test", "demo", home=tmp_path / "home")
    assert proc.returncode == 1, proc.stdout[-3000:]
    out = proc.stdout
    path = sites / "demo.yml"
    assert (f"必填字段 title 为空 / required field title is empty（选择器 / selector title: 'h1.product-title' "
            f"{path}:{title_line}）") in out
    assert f"不会保存为商品：没有标题（title 选择器 'h1.product-title' 没有取到值，{path}:{title_line}）" in out
    assert f"wait_for 'div.product-card'（{path}:{wait_line}）在保存的页面中没有匹配" in out
    assert "✓ shop-S001.html" in out  # the shops are fine
    assert re.search(r"站点 demo \d+/\d+ 个样本页面不符合预期", proc.stderr)


def test_profile_check_shows_ids_required_fields_and_findings(demo_server, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    env_home = tmp_path / "home"
    proc = run_cli("profile", "check", "demo", f"{demo_server.url}/item/L0002.html", home=env_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "页面类型: listing" in out
    assert "商品 id (listing_id): L0002 — 站点配置的选择器" in out
    assert "店铺 id (shop_id): S001" in out
    assert "必填字段 (required): title ✓，price_text ✓，shop_id|shop_name ✓" in out
    assert "ad.absolute-terms" in out and "《广告法》第九条" in out  # the rule and its legal basis


def test_profile_fixture_saves_a_page_that_profile_test_then_checks(demo_server, tmp_path, monkeypatch):
    sites = tmp_path / "sites"
    sites.mkdir()
    shutil.copy(ROOT / "crawler" / "sites" / "demo.yml", sites / "demo.yml")
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(sites))
    proc = run_cli("profile", "fixture", "demo", f"{demo_server.url}/shop/S004/", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = sites / "demo.fixtures" / "shop-S004.html"
    assert saved.is_file() and "城南女装店" in saved.read_text(encoding="utf-8")
    manifest = (sites / "demo.fixtures" / "fixtures.yml").read_text(encoding="utf-8")
    assert "url: '{base_url}/shop/S004/'" in manifest and "lic.missing" in manifest
    proc = run_cli("profile", "test", "demo", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "✓ shop-S004.html（shop）" in proc.stdout


def test_required_names_known_fields_with_selectors(tmp_path):
    from crawler.profiles import load_profile
    from netsword.yamlsource import SourceError

    path = tmp_path / "brk.yml"
    path.write_text(profile() + "    required: [title, titel]\n", encoding="utf-8")
    with pytest.raises(SourceError) as exc:
        load_profile(path)
    assert exc.value.line == len(profile().splitlines()) + 1
    assert "unknown listing field 'titel' in `required`" in str(exc.value) and "did you mean 'title'" in str(exc.value)
    path.write_text(profile() + "    required: [title, original_price_text]\n", encoding="utf-8")
    with pytest.raises(SourceError, match="required field 'original_price_text' has no selector"):
        load_profile(path)
    path.write_text(profile() + "    required: [title, 'shop_id|shop_name']\n", encoding="utf-8")
    assert load_profile(path).pages["listing"].required == ["title", "shop_id|shop_name"]


def test_a_fill_rate_far_below_the_last_sweeps_is_named_with_both_rates(tmp_path):
    from crawler.fillrate import Limits, assess
    from crawler.profiles import load_profile

    path = tmp_path / "brk.yml"
    path.write_text(profile(), encoding="utf-8")
    brk = load_profile(path)
    before = {"netsword/pages/ok": 21, "netsword/fill/listing/pages": 20, "netsword/fill/listing/filled/title": 20,
              "netsword/fill/listing/filled/price_text": 20, "netsword/fill/listing/filled/shop_id|shop_name": 20}
    now = {**before, "netsword/fill/listing/filled/price_text": 6}
    report = assess(brk, now, sweep_id="brk-3", previous=before, previous_sweep="brk-2", limits=Limits(min_rate=0.2))
    assert report.all_problems() == ["页面类型 listing：必填字段 price_text 的填充率 30%，上次扫描 brk-2 为 100%"]
    assert any(re.search(r"price_text\s+30%\s+100%", line) for line in report.table_lines())
    assert not assess(brk, before, previous=before, previous_sweep="brk-2").broken


def test_a_resumed_run_is_judged_only_by_the_fill_rates_of_its_own_pages(tmp_path):
    from crawler.fillrate import assess
    from crawler.profiles import load_profile

    path = tmp_path / "brk.yml"
    path.write_text(profile(), encoding="utf-8")
    brk = load_profile(path)
    previous = {"netsword/fill/listing/pages": 20, "netsword/fill/listing/filled/title": 20}
    # the killed run fetched every page: the resumed one gets none, and is no broken sweep for that
    assert assess(brk, {}, previous=previous, previous_sweep="brk-1").broken
    assert not assess(brk, {}, previous=previous, previous_sweep="brk-1", partial=True).broken
    broken = {"netsword/pages/ok": 6, "netsword/fill/listing/pages": 6, "netsword/fill/listing/filled/title": 0,
              "netsword/fill/listing/filled/price_text": 6, "netsword/fill/listing/filled/shop_id|shop_name": 6}
    problems = assess(brk, broken, partial=True).all_problems()
    assert problems == ["页面类型 listing：必填字段 title 只在 0/6 页有值（0%，低于 50%）"]
