"""Issue 16, "Done when": the bazaar (仿真集市, crawler/bazaar/) swept end to end with the example profile
crawler/sites/bazaar.yml -- a login (`netsword login bazaar`), its JSON API, its qualification pages merged into
their shops -- gives its ground truth (P and R >= 0.95); an expired session and the verification wall pause the
site's sweep and alert (a real webhook receiver, tests/webhook_receiver.py), and the site is not hammered.

Also: the bazaar's JavaScript listing pages swept in Chromium with 429 + Retry-After on the way
(tests/sites/bazaar_today.yml, a profile without a login).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
CATALOG = json.loads((ROOT / "crawler" / "bazaar" / "catalog.json").read_text(encoding="utf-8"))
FAST = ("-s", "NETSWORD_RETRY_BACKOFF_BASE=0.05", "-s", "NETSWORD_RETRY_BACKOFF_MAX=0.5")

def cli(*args: str, home: Path, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """The real `netsword` command with its data under ``home``, the bazaar's demo account in the environment
    (as a user would export it for `netsword login bazaar`) and no screenshots of flagged listings."""
    full = {**os.environ, "NETSWORD_HOME": str(home), "NETSWORD_LOGIN_BAZAAR_USER": "analyst",
            "NETSWORD_LOGIN_BAZAAR_PASSWORD": "bazaar-2026", "SCRAPY_SETTINGS_MODULE": "quick_crawl_settings",
            "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p), **(env or {})}
    for name in ("NETSWORD_STORE", "NETSWORD_ALERT_URLS"):
        if env is None or name not in env:
            full.pop(name, None)
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=full, input="", capture_output=True,
                          text=True, timeout=timeout)


def rows(home: Path, sql: str, *params) -> list[tuple]:
    db = sqlite3.connect(home / "netsword.db")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def sweep_stats(home: Path, sweep_id: str) -> dict:
    row = rows(home, "select stats from sweeps where sweep_id=?", sweep_id)
    assert row, f"no sweep {sweep_id}"
    return json.loads(row[0][0])


# ----------------------------------------------------------------------------- the profile
def test_the_example_profile_loads_and_uses_every_key():
    from crawler.profiles import load_profile

    profile = load_profile(ROOT / "crawler" / "sites" / "bazaar.yml")
    assert profile.session is not None and profile.walls is not None and profile.identity is not None
    assert profile.seeds is not None and profile.seeds.sitemaps
    assert profile.pages["qualification"].belongs_to is not None
    assert profile.pages["api_list"].json_ is not None and profile.pages["listing"].capture is not None
    assert profile.pages["listing"].required == ["title", "price_text", "shop_id"]


def test_the_profile_passes_its_saved_pages(tmp_path):
    """`netsword profile test bazaar`: the fixtures next to the profile (shop, 资质 pages with the shop they fill,
    the JSON list, search) give what they gave when saved."""
    proc = cli("profile", "test", "bazaar", home=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "全部通过" in proc.stdout + proc.stderr


# ----------------------------------------------------------------------------- the whole sweep
@pytest.fixture(scope="module")
def full_sweep(bazaar_server, tmp_path_factory):
    """`netsword login bazaar`, then `netsword crawl --site bazaar`: the Done-when sweep."""
    bazaar_server.reset()
    home = tmp_path_factory.mktemp("bazaar-home")
    login = cli("login", "bazaar", "--base-url", bazaar_server.url, home=home, timeout=300)
    assert login.returncode == 0, login.stderr[-3000:]
    proc = cli("crawl", "--site", "bazaar", "--base-url", bazaar_server.url, "--sweep-id", "bazaar-e2e", *FAST,
               home=home)
    log = list(bazaar_server.log)
    yield {"home": home, "proc": proc, "log": log, "logins": bazaar_server.logins, "sweep_id": "bazaar-e2e"}
    bazaar_server.reset()


def test_the_logged_in_sweep_finds_the_ground_truth(full_sweep):
    from crawler.bazaar.evaluate import evaluate, missing_rules
    from pipelines.store import open_store

    proc = full_sweep["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = open_store(f"sqlite:///{full_sweep['home'] / 'netsword.db'}")
    try:
        report = evaluate(store, sweep_id=full_sweep["sweep_id"])
        findings = list(store.iter_findings({"sweep_id": full_sweep["sweep_id"]}))
    finally:
        store.close()
    print("\n" + report.table())
    print("missed:", report.missed, "false alarms:", report.false_alarms)
    assert report.expected >= 30
    assert report.precision >= 0.95 and report.recall >= 0.95
    print("expected rules that did not fire:", missing_rules(findings))


def test_the_sweep_was_logged_in_throughout(full_sweep):
    assert full_sweep["logins"] == 1  # `netsword login bazaar`, once
    walls = [(m, p, s) for m, p, s in full_sweep["log"] if s == 302 and p != "/login"]
    assert walls == [], walls[:5]  # never sent to the login page
    api_calls = [p for m, p, s in full_sweep["log"] if p.startswith("/api/item/") and s == 200]
    assert len(api_calls) >= len(CATALOG["listings"])  # every listing page's own fetch()


def test_every_listing_and_shop_once_and_no_phantom_shops(full_sweep):
    home = full_sweep["home"]
    listings = {r[0] for r in rows(home, "select subject_id from listings")}
    shops = {r[0] for r in rows(home, "select subject_id from shops")}
    assert listings == {f"bazaar:{x['id']}" for x in CATALOG["listings"]}
    assert shops == {f"bazaar:{s['id']}" for s in CATALOG["shops"]}  # the 资质 pages are no shops of their own


def test_qualification_pages_filled_their_shops(full_sweep):
    from pipelines.store import open_store

    store = open_store(f"sqlite:///{full_sweep['home'] / 'netsword.db'}")
    try:
        for s in CATALOG["shops"]:
            shop = store.get_shop(f"bazaar:{s['id']}")
            lic = s["license"]
            assert shop.name == s["name"]
            if lic is None:
                assert not shop.license_text and not shop.license_number, s["id"]
            elif lic["shown_as"] == "text":
                assert shop.license_number == lic["uscc"] and shop.operator == lic["company"], s["id"]
            else:  # only a picture: read by OCR
                assert shop.license_image.endswith(f"/img/{lic['picture']}.png"), s["id"]
                assert shop.license_image_number == lic["uscc"], s["id"]
    finally:
        store.close()


# ----------------------------------------------------------------------------- walls: pause and alert
def _blocked_sweep(bazaar_server, tmp_path_factory, name: str, **knobs) -> dict:
    bazaar_server.reset()
    home = tmp_path_factory.mktemp(f"bazaar-{name}")
    with WebhookReceiver() as hook:
        login = cli("login", "bazaar", "--base-url", bazaar_server.url, home=home, timeout=300)
        assert login.returncode == 0, login.stderr[-3000:]
        bazaar_server.configure(**knobs)
        proc = cli("crawl", "--site", "bazaar", "--base-url", bazaar_server.url, "--sweep-id", f"bazaar-{name}",
                   *FAST, home=home, env={"NETSWORD_ALERT_URLS": hook.url("/alerts")})
        alerts = hook.wait_for(1)
    return {"home": home, "proc": proc, "alerts": alerts, "pushback": dict(bazaar_server.pushback),
            "wall_up": bazaar_server.wall_up, "sweep_id": f"bazaar-{name}"}


#: pages in flight when a wall comes up: the sweep's concurrency (4) and the browser pages' own API calls
IN_FLIGHT = 12


def test_an_expired_session_pauses_the_site_and_alerts(bazaar_server, tmp_path_factory):
    out = _blocked_sweep(bazaar_server, tmp_path_factory, "expiry", session_max_requests=40)
    bazaar_server.reset()
    proc = out["proc"]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "需要重新登录" in proc.stderr, proc.stderr[-3000:]
    assert len(out["alerts"]) == 1 and "bazaar" in json.dumps(out["alerts"][0]["json"], ensure_ascii=False)
    assert 1 <= out["pushback"].get("login", 0) <= IN_FLIGHT  # paused: only what was already in flight met it
    assert sweep_stats(out["home"], out["sweep_id"]).get("netsword/wall") == "login"


def test_the_verification_wall_pauses_the_site_and_alerts(bazaar_server, tmp_path_factory):
    out = _blocked_sweep(bazaar_server, tmp_path_factory, "wall", wall_after=40)
    bazaar_server.reset()
    proc = out["proc"]
    assert out["wall_up"]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "遇到验证页" in proc.stderr, proc.stderr[-3000:]
    assert len(out["alerts"]) == 1 and "bazaar" in json.dumps(out["alerts"][0]["json"], ensure_ascii=False)
    assert 1 <= out["pushback"].get("verification", 0) <= IN_FLIGHT  # not hammered: only what was in flight
    assert sweep_stats(out["home"], out["sweep_id"]).get("netsword/wall") == "verification"


# ----------------------------------------------------------------------------- today: JS pages, 429
@pytest.fixture
def today_env(monkeypatch):
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(TESTS / "sites"))


def test_javascript_listing_pages_are_swept_through_429s(bazaar, today_env, tmp_path):
    """The listing pages are shells filled by fetch(): swept in Chromium, while the bazaar answers 429 past 3
    requests in 2 seconds. Retry-After is honoured (by the crawler for pages, by the front end for its API
    calls) and every search result arrives with what the script put on the page."""
    bazaar.configure(login_required=False, rate_limit=3, rate_window=2.0, retry_after=2)
    proc = cli("crawl", "--site", "bazaar_today", "--base-url", bazaar.url, "--search", "高仿", "--sweep-id",
               "today-1", "-s", "NETSWORD_RETRY_BACKOFF_BASE=0.05", home=tmp_path,
               env={"NETSWORD_SITES_DIR": str(TESTS / "sites")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages_429 = [p for m, p, s in bazaar.log if s == 429 and not p.startswith("/api/")]
    assert bazaar.pushback["429"] > 0  # it did push back
    stats = sweep_stats(tmp_path, "today-1")
    # waited as asked (the site is held as a whole: 429s at the same moment share one wait; test_access.py checks
    # the gaps the server saw), and each page answered 429 was fetched again, successfully
    assert stats.get("netsword/retry/backoff_seconds", 0) >= 2
    assert all(any(p == q and s == 200 for _, q, s in bazaar.log) for p in pages_429)
    expected = {x["id"]: x for x in CATALOG["listings"] if "高仿" in x["title"]}
    got = {r[0].split(":", 1)[1]: r[1] for r in rows(tmp_path, "select subject_id, title from listings")}
    assert got == {i: x["title"] for i, x in expected.items()}
    flagged = {r[0].split(":", 1)[1] for r in rows(
        tmp_path, "select subject_id from findings where subject_kind='listing' and category='网络销售假冒伪劣商品'")}
    assert flagged == {i for i, x in expected.items() if "高仿真" not in x["title"]}
