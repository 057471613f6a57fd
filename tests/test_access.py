"""Sessions, walls, identity and Retry-After (issue 16 items 2 and 3) against a real shop behind a login
(tests/accesssite.py), real forward proxies (tests/forward_proxy.py), real Chromium and the real command.

* `netsword login SITE` logs in with the profile's browser steps, or imports a storage state or a
  cookies.txt; the session is kept encrypted (the file does not hold the cookie in clear, mode 600);
* plain and browser pages of a sweep use it (the browser page's own XHR too);
* a session that expires mid-sweep, or a verification page, pauses the site: exit 4, a Chinese line
  saying what to do, one alert, the walled page kept as evidence but not as a listing, no request
  after it; after a new login `crawl --resume` fetches what was left;
* `Retry-After` on a 429 holds the whole site at least that long;
* the profile's user agent, headers and proxies are what the site sees.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import textwrap
from pathlib import Path

import pytest
from accesssite import PASSWORD, USER, AccessSite
from cli_helpers import run_cli
from forward_proxy import ForwardProxy
from webhook_receiver import WebhookReceiver

PROFILE = """\
site: shop
name: 测试登录商城
start_urls: ['{base_url}/']
allowed_domains: [127.0.0.1]
politeness: {obey_robots: false, concurrency: 1, delay: 0.1, autothrottle: false, retries: 3}
session:
  login_url: '{base_url}/login'
  steps:
    - fill: {selector: 'input[name=user]', value: '{username}'}
    - fill: {selector: 'input[name=pass]', value: '{password}'}
    - click: 'button[type=submit]'
    - wait_for: 'a.logout'
walls:
  login: 'form#login-form'
  verification: 'div.captcha, #nc_1_wrapper'
EXTRA
pages:
  home:
    type: page
    match: ['^/$']
    follow: ['a.go']
  listing:
    type: listing
    match: ['^/item/\\d+$']
    fields:
      title: 'h1.title'
      price_text: 'span.price'
  scripted:
    type: listing
    match: ['^/js/\\d+$']
    render: browser
    wait_for: 'h1.title'
    fields:
      title: 'h1.title'
      price_text: 'span.price'
"""

QUICK = ("-s", "NETSWORD_RETRY_BACKOFF_BASE=0.05", "-s", "EVIDENCE_FINDING_SCREENSHOTS=False", "-s", "LOG_LEVEL=INFO")


@pytest.fixture(scope="module")
def shop():
    with AccessSite(items=6, js_items=2) as site:
        yield site


def write_profile(tmp_path: Path, monkeypatch, extra: str = "") -> Path:
    sites = tmp_path / "sites"
    sites.mkdir(exist_ok=True)
    (sites / "shop.yml").write_text(PROFILE.replace("EXTRA\n", textwrap.dedent(extra)), encoding="utf-8")
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(sites))
    return sites / "shop.yml"


def state_for(shop: AccessSite, sid: str | None = None) -> dict:
    sid = sid or shop.login()
    return {"cookies": [{"name": "sid", "value": sid, "domain": "127.0.0.1", "path": "/", "expires": -1,
                         "httpOnly": True, "secure": False, "sameSite": "Lax"}], "origins": []}


def import_session(home: Path, tmp_path: Path, shop: AccessSite) -> str:
    sid = shop.login()
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state_for(shop, sid)), encoding="utf-8")
    proc = run_cli("login", "shop", "--storage-state", str(path), home=home)
    assert proc.returncode == 0, proc.stderr
    path.unlink()
    return sid


def crawl(home: Path, shop: AccessSite, *args: str, timeout: int = 300):
    return run_cli("crawl", "--site", "shop", "--base-url", shop.url, *QUICK, *args, home=home, timeout=timeout)


def stored(home: Path) -> dict[str, str]:
    """listing id -> title, as the store has them."""
    db = sqlite3.connect(home / "netsword.db")
    try:
        return dict(db.execute("SELECT listing_id, title FROM listings").fetchall())
    finally:
        db.close()


def cookie_requests(shop: AccessSite, sid: str, prefix: str) -> list[str]:
    return [p for _t, p, h in shop.log if p.startswith(prefix) and f"sid={sid}" in h.get("Cookie", "")]


# --------------------------------------------------------------------------- login and the vault


def test_login_by_browser_steps_keeps_the_session_encrypted_and_the_sweep_uses_it(shop, tmp_path, monkeypatch):
    shop.reset(js_items=2)
    write_profile(tmp_path, monkeypatch)
    home = tmp_path / "home"
    monkeypatch.setenv("NETSWORD_LOGIN_USER", USER)
    monkeypatch.setenv("NETSWORD_LOGIN_PASSWORD", PASSWORD)
    before = set(shop.sessions)
    proc = run_cli("login", "shop", "--base-url", shop.url, home=home, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sid,) = set(shop.sessions) - before  # the server gave one session to the browser's login
    assert "1 个 cookie" in proc.stdout and "browser login" in proc.stdout

    session_file = home / "sessions" / "shop.session"
    raw = session_file.read_bytes()
    assert sid.encode() not in raw and b"sid" not in raw and PASSWORD.encode() not in raw  # encrypted at rest
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "sessions" / "session.key").stat().st_mode) == 0o600

    status = run_cli("login", "shop", "--status", home=home)
    assert status.returncode == 0 and "browser login" in status.stdout and "1 个 cookie" in status.stdout

    proc = crawl(home, shop, "--sweep-id", "shop-login")
    assert proc.returncode == 0, proc.stderr[-3000:]
    titles = stored(home)
    assert {titles[f"item/{i}"] for i in range(1, 7)} == {f"商品 {i}" for i in range(1, 7)}
    assert sorted(cookie_requests(shop, sid, "/item/")) == [f"/item/{i}" for i in range(1, 7)]  # plain requests
    # the browser page's own XHR carried the session: the context got the storage state
    assert titles["js/1"] == "脚本商品 1" and titles["js/2"] == "脚本商品 2"
    assert cookie_requests(shop, sid, "/api/item/")


def test_a_wrong_password_says_which_step_failed(shop, tmp_path, monkeypatch):
    path = write_profile(tmp_path, monkeypatch)
    # a.logout never comes after a wrong password: the step waits 2 s for it, not its default 15 s
    step = "- wait_for: 'a.logout'\n"
    path.write_text(path.read_text(encoding="utf-8").replace(step, step + "      timeout: 2000\n"), encoding="utf-8")
    monkeypatch.setenv("NETSWORD_LOGIN_USER", USER)
    monkeypatch.setenv("NETSWORD_LOGIN_PASSWORD", "wrong")
    proc = run_cli("login", "shop", "--base-url", shop.url, home=tmp_path / "home", timeout=180)
    assert proc.returncode == 1
    assert "登录第 4 步失败" in proc.stderr and "wait_for 'a.logout'" in proc.stderr
    assert not (tmp_path / "home" / "sessions" / "shop.session").exists()


def test_imported_cookies_txt_is_used_and_can_be_forgotten(shop, tmp_path, monkeypatch):
    shop.reset()
    write_profile(tmp_path, monkeypatch)
    home = tmp_path / "home"
    sid = shop.login()
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n"
                       f"127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\t{sid}\n", encoding="utf-8")
    proc = run_cli("login", "shop", "--cookies", str(cookies), home=home)
    assert proc.returncode == 0, proc.stderr
    assert sid.encode() not in (home / "sessions" / "shop.session").read_bytes()
    proc = crawl(home, shop, "--sweep-id", "shop-cookies", "-s", "NETSWORD_MAX_DEPTH=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(cookie_requests(shop, sid, "/item/")) == 6
    agents = {h.get("User-Agent") for _t, p, h in shop.log if p.startswith("/item/")}
    assert len(agents) == 1 and agents.pop().startswith("netsword/")  # no identity: netsword's own user agent
    proc = run_cli("login", "shop", "--forget", home=home)
    assert proc.returncode == 0 and "已删除" in proc.stdout
    assert "没有保存的会话" in run_cli("login", "shop", "--status", home=home).stdout


def test_a_storage_state_that_is_not_one_is_refused(tmp_path, monkeypatch):
    write_profile(tmp_path, monkeypatch)
    bad = tmp_path / "state.json"
    bad.write_text('{"cookies": [{"name": "sid"}]}', encoding="utf-8")
    proc = run_cli("login", "shop", "--storage-state", str(bad), home=tmp_path / "home")
    assert proc.returncode == 1 and "cookie #1 lacks value, domain" in proc.stderr


def test_the_vault_refuses_a_key_readable_by_others_and_a_changed_file(tmp_path, monkeypatch):
    from crawler.sessions import SessionError, SessionVault

    vault = SessionVault(tmp_path / "sessions")
    monkeypatch.delenv("NETSWORD_SESSION_KEY", raising=False)
    vault.save("shop", {"cookies": [{"name": "sid", "value": "s3cr3t", "domain": "127.0.0.1"}]}, "test")
    assert vault.load("shop")["cookies"][0]["value"] == "s3cr3t"
    key = tmp_path / "sessions" / "session.key"
    key.chmod(0o644)
    with pytest.raises(SessionError, match="权限过宽"):
        vault.load("shop")
    key.chmod(0o600)
    data = bytearray(vault.path("shop").read_bytes())
    data[40] ^= 1
    vault.path("shop").write_bytes(bytes(data))
    with pytest.raises(SessionError, match="无法用当前密钥解密"):
        vault.load("shop")
    # a key from the environment instead of the file
    from cryptography.fernet import Fernet

    monkeypatch.setenv("NETSWORD_SESSION_KEY", Fernet.generate_key().decode())
    other = SessionVault(tmp_path / "other")
    other.save("shop", {"cookies": []}, "test")
    assert not (tmp_path / "other" / "session.key").exists() and other.load("shop") == {"cookies": []}


# --------------------------------------------------------------------------- walls


def test_an_expired_session_pauses_the_site_alerts_once_and_resume_continues_after_login(shop, tmp_path,
                                                                                          monkeypatch):
    shop.reset(uses=3)  # the home page and two listings, then the session has expired
    write_profile(tmp_path, monkeypatch)
    home = tmp_path / "home"
    import_session(home, tmp_path, shop)
    with WebhookReceiver() as hook:
        monkeypatch.setenv("NETSWORD_ALERT_URLS", hook.url("/walls"))
        proc = crawl(home, shop, "--sweep-id", "shop-expiry", "-s", "NETSWORD_MAX_DEPTH=1")
        alerts = list(hook.received)
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert "站点 shop 已暂停：需要重新登录" in proc.stderr and "netsword login shop" in proc.stderr
    assert "netsword crawl --site shop --resume" in proc.stderr
    assert len(alerts) == 1
    alert = alerts[0]["json"]
    assert "需要重新登录" in alert["title"] and "shop-expiry" in alert["title"]
    # the wall page was the last thing asked of the site: no retry, no further page
    paths = shop.paths()
    walled = alert["message"].split("/login?next=")[1].split()[0]
    after = paths[paths.index(walled) + 1:]
    # the wall was the end: not retried, the login page not fetched (but by a browser following the redirect
    # itself), at most the one request already in flight (the slot sends one per `delay`)
    assert paths.count(walled) == 1 and len([p for p in after if p != "/login"]) <= 1, " ".join(paths)
    assert after.count("/login") <= (1 if walled.startswith("/js/") else 0), " ".join(paths)
    assert f"/login?next={walled}" in alert["message"] and "netsword login shop" in alert["message"]
    before = stored(home)
    assert len(before) == 2 and walled.strip("/") not in before  # the login page is no listing
    # ... it is kept as evidence (for a plain page, the redirect itself: the login page is not fetched)
    evidence = home / "evidence" / proc.stderr.split("（证据 ")[1].split("）")[0]
    import gzip

    kept = gzip.decompress(evidence.read_bytes()).decode()
    assert f"/login?next={walled}" in kept and ("HTTP 302" in kept or "login-form" in kept)

    shop.reset()  # log in again (a fresh session), then resume: what was left is fetched
    import_session(home, tmp_path, shop)
    proc = crawl(home, shop, "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {f"item/{i}" for i in range(1, 7)} == set(stored(home))
    assert walled in shop.paths()
    assert not {f"/{done}" for done in before} & set(shop.paths())  # done before the wall: not fetched again


def test_a_verification_page_pauses_the_site_and_alerts(shop, tmp_path, monkeypatch):
    shop.reset(verify_after=2)  # plain pages: the wall is seen as soon as it arrives
    write_profile(tmp_path, monkeypatch)
    home = tmp_path / "home"
    import_session(home, tmp_path, shop)
    with WebhookReceiver() as hook:
        monkeypatch.setenv("NETSWORD_ALERT_URLS", hook.url("/walls"))
        proc = crawl(home, shop, "--sweep-id", "shop-verify", "-s", "NETSWORD_MAX_DEPTH=1")
        alerts = list(hook.received)
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert "站点 shop 已暂停：遇到验证页" in proc.stderr
    assert len(alerts) == 1 and "遇到验证页" in alerts[0]["json"]["title"]
    pages = [p for p in shop.paths() if p == "/" or p.startswith(("/item/", "/js/", "/login"))]
    # the home page, one listing, the verification page; after it at most the one request in flight
    assert pages[2] not in (stored(home)) and 3 <= len(pages) <= 4, pages
    assert len(stored(home)) == 1 and pages[1].strip("/") in stored(home)


# --------------------------------------------------------------------------- Retry-After, identity


def test_retry_after_holds_the_whole_site(shop, tmp_path, monkeypatch):
    shop.reset(min_gap=1.0, retry_after=2)  # pages come 0.1 s apart (the profile's delay): 429s for sure
    write_profile(tmp_path, monkeypatch)
    home = tmp_path / "home"
    import_session(home, tmp_path, shop)
    proc = crawl(home, shop, "--sweep-id", "shop-429", "-s", "NETSWORD_MAX_DEPTH=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(stored(home)) == 6  # every page in the end
    assert shop.limited >= 1
    assert "answered 429 with Retry-After 2" in proc.stderr and "/item/" in proc.stderr
    times = [t for t, p, _h in shop.log if p == "/" or p.startswith("/item/")]
    assert any(t > t429 for t in times for t429 in shop.limited_at)  # the site was asked again after a 429
    for t429 in shop.limited_at:  # after each 429 the site saw nothing for at least Retry-After seconds
        after = [t for t in times if t > t429]
        assert not after or after[0] - t429 >= 2.0, (t429, after[:2])


def test_the_site_sees_the_profiles_user_agent_headers_and_proxies(shop, tmp_path, monkeypatch):
    shop.reset(js_items=2)
    with ForwardProxy("proxy-a") as a, ForwardProxy("proxy-b") as b:
        write_profile(tmp_path, monkeypatch, f"""\
            identity:
              user_agent: 'Mozilla/5.0 (X11; Linux x86_64) netsword-test'
              headers: {{Accept-Language: 'zh-CN,zh;q=0.9'}}
              proxies: ['{a.url}', '{b.url}']
              rotate: per_request
            """)
        home = tmp_path / "home"
        import_session(home, tmp_path, shop)
        proc = crawl(home, shop, "--sweep-id", "shop-ident")
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(stored(home)) == 8
    plain = [h for _t, p, h in shop.log if p.startswith("/item/")]
    assert {h.get("User-Agent") for h in plain} == {"Mozilla/5.0 (X11; Linux x86_64) netsword-test"}
    assert {h.get("Accept-Language") for h in plain} == {"zh-CN,zh;q=0.9"}
    vias = [h.get("Via") for h in plain]
    assert set(vias) == {"1.1 proxy-a", "1.1 proxy-b"}  # per_request: both proxies in turn
    browser = [h for _t, p, h in shop.log if p.startswith(("/js/", "/api/"))]
    assert browser and {h.get("User-Agent") for h in browser} == {"Mozilla/5.0 (X11; Linux x86_64) netsword-test"}
    assert all(h.get("Via") in ("1.1 proxy-a", "1.1 proxy-b") for h in browser)  # the browser's context proxy


def test_a_socks5_proxy_carries_plain_and_browser_pages(shop, tmp_path, monkeypatch):
    from socks_server import SocksServer

    shop.reset(js_items=2)
    with SocksServer() as socks:
        write_profile(tmp_path, monkeypatch, f"""\
            identity:
              proxy: '{socks.url}'
            """)
        home = tmp_path / "home"
        import_session(home, tmp_path, shop)
        proc = crawl(home, shop, "--sweep-id", "shop-socks")
        assert proc.returncode == 0, proc.stderr[-3000:]
        through = list(socks.connections)
    assert len(stored(home)) == 8
    site = shop.url.removeprefix("http://")
    # plain requests through netsword's local HTTP-to-SOCKS bridge, browser pages through Chromium's own
    # SOCKS client: every connection to the site went through the SOCKS server
    assert through and set(through) == {site}
    assert "reached through the local bridge" in proc.stderr


def test_on_block_rotation_moves_to_the_next_proxy(shop, tmp_path, monkeypatch):
    shop.reset()
    with ForwardProxy("proxy-a", refuse=True) as a, ForwardProxy("proxy-b") as b:
        write_profile(tmp_path, monkeypatch, f"""\
            identity:
              proxies: ['{a.url}', '{b.url}']
              rotate: on_block
            """)
        home = tmp_path / "home"
        import_session(home, tmp_path, shop)
        proc = crawl(home, shop, "--sweep-id", "shop-rotate")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert a.count == 1  # proxy-a answered 429 once: from then on proxy-b carries the sweep
    assert len(stored(home)) == 6
    assert {h.get("Via") for _t, _p, h in shop.log} == {"1.1 proxy-b"}
    assert "proxy http://127.0.0.1:" in proc.stderr and "going on through" in proc.stderr


# --------------------------------------------------------------------------- the profile keys


@pytest.mark.parametrize(("extra", "line", "words"), [
    ("identity:\n  user_agnet: x\n", 14, "did you mean 'user_agent'?"),
    ("identity:\n  proxy: 'ftp://10.0.0.1:21'\n", 14, "bad proxy"),
    ("identity:\n  proxy: 'http://a:1'\n  proxies: ['http://b:2']\n", 13, "not both"),
    ("walls:\n  loginn: 'form'\n", 14, "did you mean 'login'?"),
])
def test_bad_access_keys_name_file_and_line(tmp_path, extra, line, words):
    from crawler.profiles import load_profile
    from netsword.yamlsource import SourceError

    text = PROFILE.replace("walls:\n  login: 'form#login-form'\n  verification: 'div.captcha, #nc_1_wrapper'\n", "")
    path = tmp_path / "shop.yml"
    path.write_text(text.replace("EXTRA\n", extra), encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_profile(path)
    assert f"shop.yml:{line}" in str(err.value) and words in str(err.value), str(err.value)


def test_a_login_step_with_a_typo_gets_a_hint(tmp_path):
    from crawler.profiles import load_profile
    from netsword.yamlsource import SourceError

    path = tmp_path / "shop.yml"
    path.write_text(PROFILE.replace("EXTRA\n", "").replace("{selector: 'input[name=user]'", "{selectr: 'input'"),
                    encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_profile(path)
    assert "shop.yml:9" in str(err.value) and "did you mean 'selector'?" in str(err.value), str(err.value)


def test_session_key_from_the_environment_must_be_a_fernet_key(tmp_path, monkeypatch):
    from crawler.sessions import SessionError, SessionVault

    monkeypatch.setenv("NETSWORD_SESSION_KEY", "not-a-key")
    with pytest.raises(SessionError, match="不是有效的 Fernet 密钥"):
        SessionVault(tmp_path).save("shop", {"cookies": []}, "test")
    assert os.environ["NETSWORD_SESSION_KEY"] == "not-a-key"


# --------------------------------------------------------------------------- the distributed mode


def test_a_distributed_sweep_behind_a_wall_is_blocked_in_redis_and_alarms_once(shop, tmp_path, monkeypatch,
                                                                                redis_url):
    import redis

    from crawler.distributed.keys import SweepKeys
    from pipelines.store import open_store
    from scheduling.health import check_sweeps

    shop.reset(uses=3)
    write_profile(tmp_path, monkeypatch)
    home = tmp_path / "home"
    import_session(home, tmp_path, shop)
    monkeypatch.setenv("NETSWORD_REDIS_URL", redis_url)
    proc = run_cli("crawl", "--site", "shop", "--base-url", shop.url, "--sweep-id", "shop-dist", "--distributed",
                   home=home)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("worker", "--once", "--id", "w1", "-s", "NETSWORD_REDIS_HEARTBEAT=0.5", "-s",
                   "EVIDENCE_FINDING_SCREENSHOTS=False", home=home, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    server = redis.Redis.from_url(redis_url)
    keys = SweepKeys("shop-dist")
    info = {k.decode(): v.decode() for k, v in server.hgetall(keys.info).items()}
    assert info["state"] == "blocked" and info["blocked_kind"] == "login", info
    assert "/login?next=/item/" in info["blocked_url"]
    # the pages not fetched wait in the queue (the walled one with them), none is held by a lease
    assert server.zcard(keys.queue) >= 3 and server.zcard(keys.leases) == 0

    store = open_store(f"sqlite:///{home / 'netsword.db'}")
    try:
        with WebhookReceiver() as hook:
            first = check_sweeps(server, store, targets=[hook.url("/alarms")])
            again = check_sweeps(server, store, targets=[hook.url("/alarms")])
            received = list(hook.received)
    finally:
        store.close()
    assert [a.kind for a in first] == ["blocked"] and again == []
    assert len(received) == 1 and "需要重新登录" in received[0]["json"]["title"]
    assert "netsword runs resume shop-dist" in received[0]["json"]["message"]

    proc = run_cli("runs", "resume", "shop-dist", home=home)
    assert proc.returncode == 0 and "blocked -> running" in proc.stdout


def test_walls_look_at_pages_only():
    """A picture or a JSON answer of a site with walls is no wall (and no error): pictures go through the
    same downloader middlewares."""
    from scrapy.http import HtmlResponse, Response, TextResponse

    from crawler.walls import Walls, wall_kind

    walls = Walls(login="form#login-form", verification="div.captcha")
    assert wall_kind(Response("http://s/a.png", body=b"\x89PNG\r\n"), walls, None) == ""
    assert wall_kind(TextResponse("http://s/a.json", body=b'{"a": 1}', encoding="utf-8"), walls, None) == ""
    assert wall_kind(HtmlResponse("http://s/x", body=b'<div class="captcha"></div>'), walls, None) == "verification"
    assert wall_kind(HtmlResponse("http://s/x", body=b'<form id="login-form"></form>'), walls, None) == "login"
