"""Hardening against a hostile site (tests/hostilesite.py, profile tests/sites/hostile.yml): traps are
cut off and counted, bad pages are failed or unparseable with one line naming their URL, ids come
from the whole URL, the progress line and the summary agree, a site that is down or already being
swept makes `netsword crawl` fail with one clear line.

One sweep of the whole hostile site (module fixture) serves most tests; a few need their own.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import ROOT, run_cli

from crawler.spiders.listing import id_from_url

TESTS = Path(__file__).resolve().parent
FAST = ("-s", "NETSWORD_RETRY_BACKOFF_BASE=0.05", "-s", "NETSWORD_RETRY_BACKOFF_MAX=0.2", "-s", "LOG_LEVEL=INFO")


@pytest.fixture(scope="module")
def env():
    mp = pytest.MonkeyPatch()
    mp.setenv("NETSWORD_SITES_DIR", str(TESTS / "sites"))
    mp.setenv("SCRAPY_SETTINGS_MODULE", "quick_crawl_settings")  # no finding screenshots
    mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p))
    yield mp
    mp.undo()


def crawl(home: Path, base_url: str, *args: str, site: str = "hostile") -> subprocess.CompletedProcess:
    return run_cli("crawl", "--site", site, "--base-url", base_url, *FAST, *args, home=home, timeout=300)


def stats_of(home: Path, sweep_id: str) -> dict:
    db = sqlite3.connect(home / "netsword.db")
    try:
        row = db.execute("select stats from sweeps where sweep_id=?", (sweep_id,)).fetchone()
    finally:
        db.close()
    assert row is not None
    return json.loads(row[0])


def rows(home: Path, sql: str, *params) -> list[tuple]:
    db = sqlite3.connect(home / "netsword.db")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


@pytest.fixture(scope="module")
def sweep(env, hostile_site, tmp_path_factory):
    home = tmp_path_factory.mktemp("hostile-home")
    t0 = time.monotonic()
    proc = crawl(home, hostile_site.url, "--sweep-id", "hostile-1")
    return {"proc": proc, "home": home, "stats": stats_of(home, "hostile-1"), "hits": dict(hostile_site.hits),
            "seconds": time.monotonic() - t0, "url": hostile_site.url}


def lines(proc: subprocess.CompletedProcess, needle: str) -> list[str]:
    return [line for line in proc.stderr.splitlines() if needle in line]


def test_the_hostile_sweep_ends_by_itself_with_exit_0(sweep):
    proc = sweep["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sweep["seconds"] < 120
    assert "sweep hostile-1" in proc.stdout


# --------------------------------------------------------------------------- 4. traps


def test_calendar_trap_is_cut_off_at_the_default_depth_and_counted(sweep):
    calendar = [p for p in sweep["hits"] if p.startswith("/calendar/")]
    assert 0 < len(calendar) <= 2 * 10  # months reachable within 10 link hops of /, both directions
    stats = sweep["stats"]
    assert stats["netsword/cutoff/depth"] >= 1 and stats["netsword/depth/max"] == 10
    cut = lines(sweep["proc"], "cut off:")
    assert len(cut) == 1 and "/calendar/" in cut[0] and "max_depth 10" in cut[0] and "limits:" in cut[0]
    assert f"too deep {stats['netsword/cutoff/depth']}" in sweep["proc"].stdout


def test_page_budget_from_the_profile_cuts_off_and_is_reported(env, hostile_site, tmp_path, monkeypatch):
    sites = tmp_path / "sites"
    sites.mkdir()
    profile = (TESTS / "sites" / "hostile.yml").read_text(encoding="utf-8")
    (sites / "hostile.yml").write_text(profile.replace("pages:\n", "limits: {max_pages: 6}\npages:\n", 1),
                                       encoding="utf-8")
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(sites))
    proc = crawl(tmp_path / "home", hostile_site.url, "--sweep-id", "budget")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = stats_of(tmp_path / "home", "budget")
    assert stats["netsword/cutoff/pages"] >= 12  # the home page links to 18 pages: 5 of them fit
    assert stats["netsword/frontier/new"] == 6
    cut = lines(proc, "cut off:")
    assert len(cut) == 1 and "max_pages 6" in cut[0]
    assert f"over the page budget {stats['netsword/cutoff/pages']}" in proc.stdout


def test_redirect_loop_is_a_failed_page_with_its_url(sweep):
    failed = lines(sweep["proc"], "page failed: ")
    loop = [line for line in failed if "/loop/" in line]
    assert len(loop) == 1 and f"page failed: {sweep['url']}/loop/a.html" in loop[0]
    assert "redirect loop" in loop[0] and loop[0].count("/loop/") >= 4  # a -> b -> a, named
    assert sweep["stats"]["netsword/redirect/loop"] == 1


def test_huge_page_is_not_downloaded_but_failed_with_the_limit_named(sweep):
    huge = [line for line in lines(sweep["proc"], "page failed: ") if "/huge/" in line]
    assert len(huge) == 1 and "larger than 10 MB" in huge[0] and "max_page_mb" in huge[0]
    assert not rows(sweep["home"], "select 1 from listings where url like '%/huge/%'")


def test_a_big_page_allowed_by_the_profile_does_not_multiply_in_memory(env, hostile_site, tmp_path, monkeypatch):
    """20 MB of text in a field used to take 1.4 GB (normalised, tokenised, matched, indexed): fields are cut."""
    sites = tmp_path / "sites"
    sites.mkdir()
    profile = (TESTS / "sites" / "hostile.yml").read_text(encoding="utf-8")
    profile = profile.replace("start_urls: ['{base_url}/']", "start_urls: ['{base_url}/huge/1.html']")
    profile = profile.replace("pages:\n", "limits: {max_page_mb: 30}\npages:\n", 1)
    (sites / "hostile.yml").write_text(profile.replace("description: 'div.desc'", "description: 'body'"),
                                       encoding="utf-8")
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(sites))
    home = tmp_path / "home"
    # the crawl runs under its own parent, whose children's peak RSS is the crawl's alone
    measure = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
               "print('maxrss', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)")
    proc = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "cli", "crawl", "--site", "hostile",
                           "--base-url", hostile_site.url, "--sweep-id", "big", *FAST], cwd=ROOT,
                          env={**os.environ, "NETSWORD_HOME": str(home)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = stats_of(home, "big")
    assert stats["netsword/fields/truncated"] == 1 and "netsword/pages/failed" not in stats
    assert any("cut to 100000" in line for line in proc.stderr.splitlines())
    peak_mb = int(re.search(r"maxrss (\d+)", proc.stdout).group(1)) / 1024
    assert peak_mb < 800, f"the crawl of one 20 MB page peaked at {peak_mb:.0f} MB"


def test_meta_refresh_page_is_parsed_and_its_target_followed(sweep):
    titles = dict(rows(sweep["home"], "select url, title from listings where url like '%/refresh/%'"))
    url = sweep["url"]
    assert titles == {f"{url}/refresh/1.html": "自动刷新商品 1", f"{url}/refresh/2.html": "自动刷新商品 2"}
    assert sweep["stats"]["netsword/meta_refresh/followed"] == 1


def test_binary_garbage_is_unparseable_not_a_listing(sweep):
    bad = lines(sweep["proc"], "unparseable: ")
    assert len(bad) == 1 and f"{sweep['url']}/binary/1.html" in bad[0] and "binary content" in bad[0]
    assert sweep["stats"]["netsword/pages/unparseable"] == 1
    assert not rows(sweep["home"], "select 1 from listings where url like '%/binary/%'")
    assert not rows(sweep["home"], "select url from listings where trim(title) = ''")
    assert "unparseable 1" in sweep["proc"].stdout


def test_the_other_hostile_pages(sweep):
    url = sweep["url"]
    titles = dict(rows(sweep["home"], "select url, title from listings"))
    assert titles[f"{url}/gbk/1.html"] == "国标编码商品"  # charset from <meta http-equiv> only
    assert titles[f"{url}/nocharset/1.html"] == "无字符集商品"
    assert titles[f"{url}/alt/1.html"] == "隔次出错商品"  # a 500, then the page on the retry
    assert "<script>alert(1)</script>" in titles[f"{url}/hostile/1.html"]  # kept as text (the console escapes)
    failed = lines(sweep["proc"], "page failed: ")
    slow = [line for line in failed if "/slowloris/" in line]
    assert len(slow) == 1 and "2 tries" in slow[0] and "took longer than 3.0 seconds" in slow[0]
    gz = [line for line in failed if "/fakegzip/" in line]
    assert len(gz) == 1 and "gzip" in gz[0]
    assert len(failed) == 4  # loop, huge, slowloris, fake gzip: one line each


# --------------------------------------------------------------------------- 5. ids


def test_ids_from_urls_use_the_whole_path_and_the_naming_query():
    assert id_from_url("http://x/a/1.html") == "a/1" and id_from_url("http://x/b/1.html") == "b/1"
    assert id_from_url("http://x/item.htm?id=7&spm=a.b") == "item?id=7"
    assert id_from_url("http://x/shop/s1/?page=2&sort=new") == "shop/s1"
    assert id_from_url("http://x/p?goods_id=5&sessionid=9&utm_source=q") == "p?goods_id=5"


def test_same_tail_different_paths_are_different_listings(sweep):
    url = sweep["url"]
    ids = dict(rows(sweep["home"], "select url, listing_id from listings"))
    assert ids[f"{url}/a/1.html"] == "a/1" and ids[f"{url}/b/1.html"] == "b/1"
    assert ids[f"{url}/item.htm?id=7"] == "item?id=7" and ids[f"{url}/item.htm?id=8"] == "item?id=8"
    assert rows(sweep["home"], "select shop_id from shops") == [("shop/s1",)]  # three pages, one shop


def test_two_urls_giving_one_id_are_warned_and_counted(sweep):
    warned = lines(sweep["proc"], "was given to")
    assert len(warned) == 1 and "'dup/1'" in warned[0] and "from=home" in warned[0] and "from=search" in warned[0]
    assert "listing_id:" in warned[0]
    assert sweep["stats"]["netsword/ids/collisions/listing"] == 1


# --------------------------------------------------------------------------- 9. counts, exit status, lock


def test_progress_line_and_summary_use_one_count(sweep):
    done = [line for line in sweep["proc"].stderr.splitlines() if "done: pages" in line]
    assert len(done) == 1
    live = dict((k, int(n)) for k, n in re.findall(r"(listings|shops|findings) (\d+)", done[0]))
    summary = dict((k, int(n)) for n, k in re.findall(r"(\d+) (listings|shops|findings)", sweep["proc"].stdout))
    home = sweep["home"]
    stored = {"listings": rows(home, "select count(*) from subject_sweeps where kind='listing'")[0][0],
              "shops": rows(home, "select count(*) from subject_sweeps where kind='shop'")[0][0]}
    assert live == summary and {k: live[k] for k in stored} == stored
    assert live["shops"] == 1  # one shop over three pages (the progress line used to count pages)
    assert "the whole sweep in the store" not in sweep["proc"].stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_site_that_is_down_exits_non_zero_with_one_line(env, tmp_path):
    down = f"http://127.0.0.1:{_free_port()}"
    proc = crawl(tmp_path / "home", down, "--sweep-id", "down")
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "site 'hostile' is down" in errors[0] and f"{down}/" in errors[0]
    assert "Connection" in errors[0] and "reachable" in errors[0]


def test_a_second_crawl_of_the_same_site_fails_and_leaves_the_first_alone(env, hostile_site, tmp_path, monkeypatch):
    sites = tmp_path / "sites"
    sites.mkdir()
    profile = (TESTS / "sites" / "hostile.yml").read_text(encoding="utf-8")
    # the first sweep holds the site for 15 s: the second's start-up (imports, then the lock) took over 4 s at load 26
    slow = profile.replace("start_urls: ['{base_url}/']", "start_urls: ['{base_url}/slow/1.html?s=15']")
    (sites / "hostile.yml").write_text(slow.replace("timeout: 3", "timeout: 40"), encoding="utf-8")
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(sites))
    home = tmp_path / "home"
    first = subprocess.Popen([sys.executable, "-m", "cli", "crawl", "--site", "hostile", "--base-url", hostile_site.url,
                              "--sweep-id", "first", *FAST], cwd=ROOT, env={**os.environ, "NETSWORD_HOME": str(home)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while hostile_site.hits.get("/slow/1.html?s=15", 0) == 0:  # the first sweep is fetching its page
            assert time.monotonic() < deadline and first.poll() is None, "the first sweep did not start"
            time.sleep(0.1)
        second = crawl(home, hostile_site.url, "--sweep-id", "second")
        sweep_json = json.loads((home / "jobs" / "hostile" / "sweep.json").read_text(encoding="utf-8"))
        out, errs = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "another sweep of site 'hostile' is running" in errors[0], second.stderr[-2000:]
    assert sweep_json["sweep_id"] == "first"  # the second did not replace the first's job folder
    assert first.returncode == 0, errs[-3000:]
    assert "sweep first" in out
