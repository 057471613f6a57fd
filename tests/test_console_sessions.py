"""Console sessions and logins, in-process (FastAPI's TestClient) over a real SQLite store: sessions end
on logout, password reset and disabling (copied cookies too); logins are throttled per account and per
address (growing delays, a temporary lockout, 429) and logged; POSTs from other sites are refused."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from pathlib import Path

import pytest
from cli_helpers import run_cli
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app
from leads.web.throttle import LoginPolicy, LoginThrottle
from pipelines.store import open_store

PASSWORD = "correct-horse-1"
COOKIE = "netsword_session"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LOCKED = "登录失败次数过多，请 1 分钟后再试"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    store = open_store(tmp_path / "netsword.db")
    add_user(store, "analyst1", PASSWORD, "analyst")
    add_user(store, "admin1", PASSWORD, "admin")
    store.close()
    return tmp_path


def make_app(home: Path, **config):
    config.setdefault("login_policy", LoginPolicy(first_delay=0))  # no waits between attempts unless a test wants them
    store = open_store(home / "netsword.db")
    return create_app(ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), secrets.token_urlsafe(48),
                                    **config), store=store), store


@pytest.fixture
def app(home):
    app, store = make_app(home)
    yield app
    store.close()


def client(app, address: str = "127.0.0.1", cookie: str | None = None) -> TestClient:
    c = TestClient(app, follow_redirects=False, client=(address, 50000))
    if cookie is not None:
        c.cookies.set(COOKIE, cookie)
    return c


def login(c: TestClient, user: str = "analyst1", password: str = PASSWORD, **headers: str):
    token = TOKEN.search(c.get("/login").text).group(1)
    return c.post("/login", data={"username": user, "password": password, "csrf_token": token, "next": "/"},
                  headers=headers)


def logged_in(app, user: str = "analyst1", address: str = "127.0.0.1") -> tuple[TestClient, str]:
    """A client with a session, and the session's CSRF token."""
    c = client(app, address)
    r = login(c, user)
    assert r.status_code == 303 and r.headers["location"] == "/"
    return c, TOKEN.search(c.get("/search").text).group(1)


def is_in(c: TestClient) -> bool:
    r = c.get("/search")
    assert r.status_code in (200, 303)
    return r.status_code == 200


# --------------------------------------------------------------------------- sessions


def test_a_cookie_copied_before_logout_stops_working(app):
    browser, token = logged_in(app)
    thief = client(app, "10.9.9.9", cookie=browser.cookies[COOKIE])
    assert is_in(thief)  # a copy works while the session lasts ...
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 303
    assert not is_in(browser)
    r = thief.get("/search")  # ... and not after the logout
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert thief.post("/triage/note", data={"lead_id": "demo:S1", "note": "x", "csrf_token": token}).status_code == 401
    again, _ = logged_in(app)  # logging in again makes a new, working session
    assert is_in(again)


def test_a_password_reset_ends_every_session(app, home):
    browser, _ = logged_in(app)
    copied = client(app, cookie=browser.cookies[COOKIE])
    proc = run_cli("user", "add", "analyst1", "--reset", "--password-stdin", home=home, stdin="new-password-2\n")
    assert proc.returncode == 0, proc.stderr
    assert not is_in(browser) and not is_in(copied)
    assert login(client(app)).headers["location"].startswith("/login?failed=1")  # the old password is gone
    assert login(client(app), password="new-password-2").headers["location"] == "/"


def test_disabling_ends_the_sessions_and_enabling_does_not_bring_them_back(app):
    analyst, _ = logged_in(app)
    copied = client(app, cookie=analyst.cookies[COOKIE])
    admin, token = logged_in(app, "admin1")
    for enable in ("", "1"):
        r = admin.post("/users/disable", data={"username": "analyst1", "enable": enable, "csrf_token": token})
        assert r.status_code == 303
    assert not is_in(analyst) and not is_in(copied)
    assert is_in(admin)  # the admin's own session is untouched


def test_a_session_from_before_session_epochs_is_over(app):
    """A cookie signed by the old console (user name and CSRF token, no epoch) no longer logs anyone in."""
    old = base64.b64encode(json.dumps({"user": "analyst1", "csrf": "t"}).encode())
    cookie = TimestampSigner(app.state.config.secret).sign(old).decode()
    assert not is_in(client(app, cookie=cookie))


# --------------------------------------------------------------------------- login throttling


def test_fifty_wrong_passwords_lock_the_account_and_are_logged(home, caplog):
    policy = LoginPolicy(first_delay=0, lockout_seconds=60)
    app, store = make_app(home, login_policy=policy)
    now = [1000.0]
    app.state.throttle = LoginThrottle(policy, clock=lambda: now[0])  # the test's clock: no race with a busy CPU
    try:
        c = client(app, "10.1.1.1")
        with caplog.at_level(logging.INFO, logger="leads.web.auth"):
            answers = [login(c, password=f"wrong-{i}") for i in range(50)]
        codes = [r.status_code for r in answers]
        assert codes == [303] * 5 + [429] * 45  # 5 failures, then locked
        locked = answers[-1]
        assert LOCKED in locked.text and int(locked.headers["retry-after"]) >= 1
        assert "<form" in locked.text  # the login page, with the message
        failed = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(failed) == 5
        assert all("failed console login of 'analyst1' from 10.1.1.1" in r.getMessage() for r in failed)
        assert "locked out: account" in failed[-1].getMessage()
        assert not any("wrong-" in r.getMessage() for r in caplog.records)  # never the password
        r = login(c)  # the right password, during the lockout: refused without being checked
        assert r.status_code == 429 and LOCKED in r.text and not is_in(c)
        r = login(client(app, "10.2.2.2"))  # from another address too: the account is locked
        assert r.status_code == 429
        now[0] += 61  # the lockout ends
        r = login(c)
        assert r.status_code == 303 and r.headers["location"] == "/" and is_in(c)
    finally:
        store.close()


def test_unknown_names_are_answered_exactly_like_real_ones(app):
    """The throttle never asks the store: no way to tell which account names exist."""
    real = [login(client(app, "10.3.3.3"), "analyst1", f"wrong-{i}") for i in range(7)]
    made_up = [login(client(app, "10.4.4.4"), "nobody", f"wrong-{i}") for i in range(7)]
    assert [r.status_code for r in real] == [r.status_code for r in made_up] == [303] * 5 + [429] * 2
    pages = [TOKEN.sub("", r.text) for r in (real[-1], made_up[-1])]
    assert pages[0] == pages[1] and "登录失败次数过多，请 15 分钟后再试" in pages[0]
    assert {r.headers.get("location") for r in real} == {r.headers.get("location") for r in made_up}


def test_one_address_guessing_many_names_is_locked_out(home):
    app, store = make_app(home, login_policy=LoginPolicy(first_delay=0, address_failures=8, address_grace=2))
    try:
        guesser = client(app, "10.5.5.5")
        codes = [login(guesser, f"user{i}", "password-x").status_code for i in range(10)]
        assert codes == [303] * 8 + [429] * 2  # one failure per name, but eight from the address
        assert login(guesser).status_code == 429  # a real account from that address: refused
        assert login(client(app, "10.6.6.6")).headers["location"] == "/"  # from elsewhere it works
    finally:
        store.close()


def test_after_a_failure_the_next_try_must_wait(home):
    policy = LoginPolicy(first_delay=0.5)
    app, store = make_app(home, login_policy=policy)
    clock = Clock()  # the throttle's own clock: a slow password hash on a busy machine must not use up the wait
    app.state.throttle = LoginThrottle(policy, clock=clock)
    try:
        c = client(app, "10.7.7.7")
        assert login(c, password="wrong").status_code == 303
        r = login(c)  # at once, even with the right password: too soon
        assert r.status_code == 429 and "登录尝试过于频繁，请 1 秒后再试" in r.text and r.headers["retry-after"] == "1"
        clock.now += 0.6
        assert login(c).headers["location"] == "/"
    finally:
        store.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_grow_then_lock_then_are_forgotten():
    clock = Clock()
    t = LoginThrottle(LoginPolicy(), clock=clock)
    waits = []
    for _ in range(4):
        assert t.begin("wang", "1.2.3.4") is None  # a wrong password each time
        refusal = t.begin("wang", "1.2.3.4")
        waits.append(refusal.retry_after)
        clock.now += refusal.retry_after
    assert waits == [1, 2, 4, 8]
    assert t.begin("wang", "1.2.3.4") is None  # the fifth failure locks the account
    refusal = t.begin("wang", "1.2.3.4")
    assert refusal.locked and refusal.retry_after == 15 * 60 and refusal.message == "登录失败次数过多，请 15 分钟后再试"
    clock.now += 15 * 60
    assert t.begin("wang", "1.2.3.4") is None and t.failures("wang") == 1  # over: counting starts again
    t.succeeded("wang", "1.2.3.4")
    assert t.failures("wang") == 0
    assert t.begin("li", "1.2.3.4") is None
    clock.now += 15 * 60 + 1  # failures long ago are forgotten
    assert t.failures("li") == 0


def test_parallel_guesses_cannot_slip_past_the_count():
    """An attempt counts from its start: a second one while the first is being checked must wait."""
    t = LoginThrottle(LoginPolicy(), clock=Clock())
    assert t.begin("wang", "1.2.3.4") is None
    assert t.begin("wang", "5.6.7.8") is not None  # the same account from elsewhere, meanwhile
    t.succeeded("wang", "1.2.3.4")  # the first was right
    assert t.begin("wang", "5.6.7.8") is None


def test_the_counters_stay_bounded():
    clock = Clock()
    t = LoginThrottle(LoginPolicy(max_keys=50), clock=clock)
    t.begin("victim", "9.9.9.9")
    for _ in range(4):
        clock.now += 100
        t.begin("victim", "9.9.9.9")
    for i in range(200):  # a flood of made-up names does not flush the locked account
        t.begin(f"junk{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(t._counters) <= 50
    assert t.locked("victim", "9.9.9.9") == ["account"]


# --------------------------------------------------------------------------- the Origin check


def test_posts_from_other_sites_are_refused_even_with_the_token(app):
    c, token = logged_in(app)
    note = {"lead_id": "demo:S1", "note": "来自本站", "csrf_token": token}
    store = app.state.store
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"}, {"origin": "http://testserver.evil.example"},
                    {"origin": "https://testserver"}, {"referer": "http://evil.example/page"}):
        r = c.post("/triage/note", data=note, headers=headers)
        assert r.status_code == 403 and "请求来自其他网站" in r.text, headers
    assert store.triage_events("demo:S1") == []
    assert c.post("/triage/note", data=note, headers={"origin": "http://testserver"}).status_code == 303
    assert c.post("/triage/note", data=note, headers={"referer": "http://testserver/leads/demo:S1"}).status_code == 303
    assert c.post("/triage/note", data=note).status_code == 303  # no Origin, no Referer (a script): the token decides
    assert c.post("/triage/note", data={**note, "csrf_token": "forged"}).status_code == 403
    assert len(store.triage_events("demo:S1")) == 3
    # logging in from another site (login CSRF) is refused too
    r = login(client(app), **{"origin": "http://evil.example"})
    assert r.status_code == 403


def test_configured_origins_are_trusted(home):
    app, store = make_app(home, trusted_origins=("https://netsword.example.gov.cn",), secure_cookies=False)
    try:
        c, token = logged_in(app)
        note = {"lead_id": "demo:S1", "note": "代理之后", "csrf_token": token}
        for origin, status in (("https://netsword.example.gov.cn", 303), ("https://other.example.gov.cn", 403)):
            assert c.post("/triage/note", data=note, headers={"origin": origin}).status_code == status, origin
    finally:
        store.close()
