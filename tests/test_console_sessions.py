"""Console sessions, in-process (FastAPI's TestClient) over a real SQLite store: sessions end on logout,
password reset and disabling (copied cookies too)."""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

import pytest
from cli_helpers import run_cli
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app
from pipelines.store import open_store

PASSWORD = "correct-horse-1"
COOKIE = "netsword_session"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def home(tmp_path: Path) -> Path:
    store = open_store(tmp_path / "netsword.db")
    add_user(store, "analyst1", PASSWORD, "analyst")
    add_user(store, "admin1", PASSWORD, "admin")
    store.close()
    return tmp_path


def make_app(home: Path, **config):
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
