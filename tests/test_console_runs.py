"""Run control in the console (issue 17, item 5): the runs page shows live distributed sweeps (workers and their
heartbeats, queue, pages/s, errors) from a real Redis, admins start a site's sweep, stop and resume it, the last
lines of its log are shown escaped; analysts may look but not act (403), and no POST passes without the CSRF token.

Real parts: redis-server (conftest ``redis_url``), the console under uvicorn on 127.0.0.1, `netsword worker`
processes, the polite test shop (tests/polite_shop.py, tests/sites/polite.yml), headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cli_helpers import ROOT
from leads_fixtures import ConsoleServer
from polite_shop import CountingShop, Serving

from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app
from pipelines.store import open_store

playwright = pytest.importorskip("playwright.sync_api")
TESTS = Path(__file__).resolve().parent
PASSWORD = "correct-horse-1"
HOSTILE_LINE = ("12:00:00Z w9 WARNING <script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\"> "
                "\u202egpj.exe")
#: quick heartbeats and short leases (a worker that left gives its pages back at once anyway)
FAST = ("-s", "NETSWORD_REDIS_LEASE_SECONDS=6", "-s", "NETSWORD_REDIS_HEARTBEAT=0.5",
        "-s", "EVIDENCE_FINDING_SCREENSHOTS=False", "-s", "NETSWORD_REDIS_BLOOM_CAPACITY=100000")


@pytest.fixture
def polite_sites(monkeypatch):
    """The processes the console starts (and this test's workers) find tests/sites/polite.yml and crawl quickly."""
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(TESTS / "sites"))
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "quick_crawl_settings")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.delenv("NETSWORD_STORE", raising=False)


def console(home: Path, redis_url: str = "") -> tuple[ConsoleServer, object]:
    home.mkdir(parents=True, exist_ok=True)
    store = open_store(home / "netsword.db")
    add_user(store, "admin1", PASSWORD, "admin")
    add_user(store, "analyst1", PASSWORD, "analyst")
    config = ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), secrets.token_urlsafe(48),
                           home=str(home), redis_url=redis_url)
    return ConsoleServer(create_app(config, store=store)), store


@pytest.fixture(scope="module")
def browser():
    from crawler.browser import launch_options

    with playwright.sync_playwright() as p:
        b = p.chromium.launch(**launch_options())
        yield b
        b.close()


def login(client: httpx.Client, user: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token, "next": "/runs"})
    assert r.status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/runs").text).group(1)


def state(r, sweep_id: str) -> str:
    return (r.hget(f"netsword:sweep:{sweep_id}:info", "state") or b"").decode()


def start_worker(home: Path, redis_url: str, worker_id: str, sweep_id: str) -> subprocess.Popen:
    log = open(home / f"worker-{worker_id}.log", "w", encoding="utf-8")  # noqa: SIM115 (closed with the process)
    env = {**os.environ, "NETSWORD_HOME": str(home), "NETSWORD_REDIS_URL": redis_url}
    return subprocess.Popen([sys.executable, "-m", "cli", "worker", "--sweep", sweep_id, "--id", worker_id, *FAST],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def listings(db: Path, sweep_id: str) -> int:
    store = open_store(db)
    try:
        return store.counts(sweep_id)["listings"]
    finally:
        store.close()


def test_an_admin_starts_watches_stops_and_resumes_a_distributed_sweep(tmp_path, redis_url, polite_sites, browser):
    import redis

    r = redis.Redis.from_url(redis_url)
    server, store = console(tmp_path / "home", redis_url)
    workers: list[subprocess.Popen] = []
    with Serving(CountingShop(limit=2, pause=0.4)) as shop, server:
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        page.goto(server.url + "/runs")
        page.fill("input[name=username]", "admin1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/runs")
        page.select_option("#start-sweep select[name=site]", "polite")
        page.fill("#start-sweep input[name=base_url]", shop.url)
        page.click("#start-sweep button")
        page.wait_for_url("**/runs/live/**")
        assert "已在 Redis 中排队" in page.inner_text(".flash")
        sweep_id = page.url.rsplit("/", 1)[1]
        assert sweep_id.startswith("polite-") and state(r, sweep_id) == "running"
        assert page.inner_text("#sweep-state") == "运行中"
        assert "还没有工作进程" in page.inner_text("#workers")

        workers.append(start_worker(tmp_path / "home", redis_url, "w1", sweep_id))
        try:
            wait_for(lambda: (raw := r.hget(f"netsword:sweep:{sweep_id}:workers", "w1")) and
                     json.loads(raw)["stats"].get("response_received_count", 0) >= 3, 120, "w1's first pages")
            page.goto(server.url + "/runs")
            row = page.locator("#live-sweeps tbody tr", has_text=sweep_id)
            assert row.locator("td").nth(2).inner_text() == "运行中"
            assert row.locator("td").nth(3).inner_text() == "1/1"  # one worker, alive
            assert int(row.locator("td").nth(7).inner_text()) >= 3  # its pages
            row.locator("button", has_text="停止").click()
            page.wait_for_url("**/runs")
            assert "已停止" in page.inner_text(".flash")
            assert state(r, sweep_id) == "stopped"
            assert workers[0].wait(timeout=120) == 0  # the worker left the stopped sweep
            done_before = listings(tmp_path / "home" / "netsword.db", sweep_id)
            assert 0 < done_before < 60, "stopped mid-sweep"

            r.lpush(f"netsword:sweep:{sweep_id}:log", HOSTILE_LINE)  # a line quoting a hostile page
            page.goto(server.url + "/runs/live/" + sweep_id)
            assert page.inner_text("#sweep-state") == "已停止"
            assert page.locator("#workers tr.worker-ended", has_text="w1").count() == 1
            log = page.inner_text("#sweep-log")
            assert "<script>window.__pwned=1</script>" in log and "⟦U+202E⟧gpj.exe" in log
            assert "leaves sweep" in log  # the worker's own event
            assert page.evaluate("window.__pwned") is None
            assert "<script>window.__pwned" not in page.content()

            page.locator("#sweep-summary button", has_text="恢复").click()
            page.wait_for_url("**/runs/live/**")
            assert state(r, sweep_id) == "running" and page.inner_text("#sweep-state") == "运行中"
            workers.append(start_worker(tmp_path / "home", redis_url, "w2", sweep_id))
            assert workers[1].wait(timeout=300) == 0
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        assert state(r, sweep_id) == "finished"
        assert listings(tmp_path / "home" / "netsword.db", sweep_id) == 60  # resumed where it stopped: all of them
        page.goto(server.url + "/runs")
        assert page.locator("#live-sweeps tbody tr", has_text=sweep_id).locator("td").nth(2).inner_text() == "已完成"
        context.close()
    store.close()


def test_analysts_see_live_sweeps_but_only_admins_with_the_token_control_them(tmp_path, redis_url, polite_sites):
    import redis

    r = redis.Redis.from_url(redis_url)
    server, store = console(tmp_path / "home", redis_url)
    with server, httpx.Client(base_url=server.url) as admin, httpx.Client(base_url=server.url) as analyst:
        admin_token = login(admin, "admin1")
        resp = admin.post("/runs/start", data={"site": "polite", "base_url": "http://127.0.0.1:9/",
                                               "csrf_token": admin_token})
        assert resp.status_code == 303 and resp.headers["location"].startswith("/runs/live/polite-")
        sweep_id = resp.headers["location"].rsplit("/", 1)[1]
        assert state(r, sweep_id) == "running"

        token = login(analyst, "analyst1")
        page = analyst.get("/runs").text
        assert sweep_id in page and "/runs/stop" not in page and "/runs/start" not in page  # no buttons
        assert analyst.get(f"/runs/live/{sweep_id}").status_code == 200
        for path in ("/runs/stop", "/runs/resume", "/runs/start"):
            resp = analyst.post(path, data={"sweep_id": sweep_id, "site": "polite", "csrf_token": token})
            assert resp.status_code == 403, path
        assert state(r, sweep_id) == "running"

        assert admin.post("/runs/stop", data={"sweep_id": sweep_id}).status_code == 403  # no token
        assert admin.post("/runs/stop", data={"sweep_id": sweep_id, "csrf_token": "forged"}).status_code == 403
        resp = admin.post("/runs/stop", data={"sweep_id": sweep_id, "csrf_token": admin_token},
                          headers={"origin": "http://evil.example"})
        assert resp.status_code == 403  # the right token from another site's page
        assert state(r, sweep_id) == "running"
        assert admin.post("/runs/stop", data={"sweep_id": sweep_id, "csrf_token": admin_token}).status_code == 303
        assert state(r, sweep_id) == "stopped"

        # what an operator can fix is said, not a crash: an unknown site, a bad base URL, an unknown sweep
        for data, said in (({"site": "sites/../polite"}, "没有站点配置"), ({"site": "nosuchsite"}, "没有站点配置"),
                           ({"site": "polite", "base_url": "javascript:alert(1)"}, "基础网址")):
            resp = admin.post("/runs/start", data={**data, "csrf_token": admin_token}, follow_redirects=True)
            assert resp.status_code == 200 and said in resp.text, data
        resp = admin.post("/runs/resume", data={"sweep_id": "nope", "csrf_token": admin_token}, follow_redirects=True)
        assert "Redis 中没有分布式扫描 nope" in resp.text
        assert admin.get("/runs/live/nope").status_code == 404
    store.close()


def test_without_redis_the_start_button_runs_the_sweep_on_this_machine(tmp_path, polite_sites):
    server, store = console(tmp_path / "home")
    with Serving(CountingShop(limit=2)) as shop, server, httpx.Client(base_url=server.url) as admin:
        token = login(admin, "admin1")
        page = admin.get("/runs").text
        assert "本机：在后台运行 netsword crawl" in page and "分布式扫描（实时）" not in page
        resp = admin.post("/runs/start", data={"site": "polite", "base_url": shop.url, "csrf_token": token},
                          follow_redirects=True)
        assert "本机后台启动" in resp.text
        run = wait_for(lambda: [x for x in store.runs(site="polite") if x.status not in ("running",)], 300,
                       "the sweep started from the console to end")[0]
        assert (run.kind, run.status) == ("manual", "ok"), run.message
        assert listings(tmp_path / "home" / "netsword.db", run.run_id) == 60
        rows = re.findall(r"<tr class=\"run-(\w+)\">(.*?)</tr>", admin.get("/runs").text, re.S)
        assert any(status == "ok" and run.run_id in body for status, body in rows)
        assert list((tmp_path / "home" / "logs" / "sweeps").glob(f"{run.run_id}.log"))  # the crawl's own log
    store.close()
