"""The console's JSON API (/api) on a real uvicorn server on 127.0.0.1: tokens made and revoked by an admin
through the console, every operation checked by schemathesis against the API's own OpenAPI description, and
an analyst scoped to one bureau's region unable to read or change another's leads (API and pages)."""

from __future__ import annotations

import re
import secrets
from types import SimpleNamespace

import httpx
import pytest
import schemathesis
from console_data import build_console_data
from hypothesis import HealthCheck, settings
from leads_fixtures import ConsoleServer

from leads.triage import lead_state
from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app
from leads.web.state import ConsoleState
from pipelines.store import open_store

PASSWORD = "correct-horse-1"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    home = tmp_path_factory.mktemp("api-home")
    store = open_store(home / "netsword.db")
    build_console_data(store)
    for name, role in (("admin1", "admin"), ("gd", "analyst"), ("zj", "analyst")):
        add_user(store, name, PASSWORD, role)
    store.flush()
    state = ConsoleState(home)
    state.set_unit("gd", "广东省市场监管局", ["广东"])  # one bureau: Guangdong only
    state.set_unit("zj", "浙江省市场监管局", ["浙江"])
    app = create_app(ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), secrets.token_urlsafe(48),
                                   home=str(home)), store=store)
    with ConsoleServer(app) as server:
        _, admin_token = state.create_token("schemathesis", "admin1", "admin1")
        yield SimpleNamespace(url=server.url, store=store, state=state, token=admin_token, home=home)
    store.close()


def _login(client: httpx.Client, user: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token, "next": "/users"})
    assert r.status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/leads").text).group(1)


def test_admin_makes_and_revokes_a_token_and_only_the_hash_is_kept(api):
    with httpx.Client(base_url=api.url) as admin:
        csrf = _login(admin, "admin1")
        r = admin.post("/tokens", data={"name": "省局对接", "username": "gd", "csrf_token": csrf})
        token = re.search(r'id="new-token">[^<]*<code>(nsw_[^<]+)</code>', r.text).group(1)
        assert token not in (api.home / "api-tokens.json").read_text()  # only its SHA-256
        assert "nsw_" not in admin.get("/users").text  # shown once
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(api.url + "/api/leads", headers=auth).status_code == 200
        assert httpx.get(api.url + "/api/leads").status_code == 401
        assert httpx.get(api.url + "/api/leads", headers={"Authorization": "Bearer nsw_forged"}).status_code == 401
        # the session cookie of a logged-in admin is no key to the API
        assert admin.get("/api/leads").status_code == 401
        token_id = next(t.token_id for t in api.state.tokens() if t.name == "省局对接")
        admin.post("/tokens/revoke", data={"token_id": token_id, "csrf_token": csrf})
        assert httpx.get(api.url + "/api/leads", headers=auth).status_code == 401
    with httpx.Client(base_url=api.url) as analyst:  # analysts make no tokens
        csrf = _login(analyst, "zj")
        assert analyst.post("/tokens", data={"name": "x", "username": "zj", "csrf_token": csrf}).status_code == 403


def test_one_bureaus_analyst_cannot_open_another_bureaus_lead(api):
    _, gd_token = api.state.create_token("广东", "gd", "admin1")
    gd = {"Authorization": f"Bearer {gd_token}"}
    leads = httpx.get(api.url + "/api/leads", headers=gd).json()
    assert {x["lead_id"] for x in leads["leads"]} == {"demo:S01", "demo:S02"} and leads["total"] == 2
    assert httpx.get(api.url + "/api/leads/demo:S01", headers=gd).status_code == 200
    zhejiang = "demo:S03"  # 浙江省杭州市…
    r = httpx.get(api.url + "/api/leads/" + zhejiang, headers=gd)
    assert r.status_code == 404
    r = httpx.post(api.url + "/api/triage", headers=gd, json={"lead_ids": [zhejiang], "action": "confirm"})
    assert r.json()["changed"] == 0 and lead_state(api.store, zhejiang).status == "new"
    hits = httpx.get(api.url + "/api/search", headers=gd, params={"q": "降血糖"}).json()
    assert hits["total"] == 0  # the Zhejiang listing is not shown to Guangdong
    export = httpx.get(api.url + "/api/export", headers=gd, params={"fmt": "json", "what": "leads"}).json()
    assert {row["lead_id"] for row in export} == {"demo:S01", "demo:S02"}
    with httpx.Client(base_url=api.url) as browser_like:  # the pages too
        csrf = _login(browser_like, "gd")
        assert browser_like.get("/leads/" + zhejiang).status_code == 404
        assert browser_like.get("/leads/demo:S01").status_code == 200
        r = browser_like.post("/triage/status", data={"lead_id": zhejiang, "status": "confirmed", "csrf_token": csrf})
        assert r.status_code == 404 and lead_state(api.store, zhejiang).status == "new"
        page = browser_like.get("/leads").text
        assert "demo:S01" in page and zhejiang not in page
    # the page snapshot of a Zhejiang listing (a real evidence file) is Zhejiang's too
    from crawler.items import ListingItem
    from pipelines.evidence import EvidenceStore
    from pipelines.match import RuleSet

    sha, rel = EvidenceStore(api.home / "evidence").put_html("<html><body>降血糖 保健茶</body></html>".encode())
    item = ListingItem(url="http://demo.test/item/Z1.html", site="demo", sweep_id="demo-0616", status=200,
                       fetched_at="2026-06-16T01:30:00+00:00", html_sha256=sha, html_path=rel, listing_id="Z1",
                       shop_id="S03", shop_name="养生堂滋补旗舰店", title="降血糖 纯中药 保健茶", price=88.0)
    item.findings = RuleSet.load().match(item)
    api.store.save(item)
    api.store.flush()
    with httpx.Client(base_url=api.url) as browser_like:
        _login(browser_like, "gd")
        assert browser_like.get(f"/evidence/{sha}").status_code == 404
        assert browser_like.get(f"/evidence/{sha}/page").status_code == 404
    with httpx.Client(base_url=api.url) as zj:  # and the other way round
        _login(zj, "zj")
        assert zj.get("/leads/" + zhejiang).status_code == 200 and zj.get("/leads/demo:S01").status_code == 404
        assert zj.get(f"/evidence/{sha}").status_code == 200


def test_triage_through_the_api_lands_in_the_audit_trail(api):
    auth = {"Authorization": f"Bearer {api.token}"}
    r = httpx.post(api.url + "/api/triage", headers=auth,
                   json={"lead_ids": ["shopx:S06"], "action": "dismiss", "reason": "gone", "note": "已下架"})
    assert r.status_code == 200 and r.json()["changed"] == 1
    state = lead_state(api.store, "shopx:S06")
    assert state.status == "dismissed" and state.updated_by == "admin1" and set(state.reasons.values()) == {"gone"}
    r = httpx.post(api.url + "/api/triage", headers=auth, json={"lead_ids": ["shopx:S05"], "action": "dismiss"})
    assert r.status_code == 422 and "reason" in r.text  # the schema requires it
    r = httpx.post(api.url + "/api/triage", headers=auth, json={"lead_ids": ["shopx:S05"], "action": "assign",
                                                                "assignee": "nobody"})
    assert r.status_code == 409 and "nobody" in r.json()["detail"]
    detail = httpx.get(api.url + "/api/leads/shopx:S06", headers=auth).json()
    assert [e["action"] for e in detail["events"]][:2] == ["status", "dismiss_reason"]
    assert all(f["explanation"] for f in detail["finding_list"])


def test_every_api_operation_conforms_to_its_openapi_description(api):
    """schemathesis generates requests from /api/openapi.json for every operation and checks each answer
    (no server error, status codes, content types and bodies as described, auth enforced). Its Python API,
    driven here directly: its pytest plugin does not run under this pytest (9)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(api.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {"GET /search", "GET /leads", "GET /leads/{lead_id}", "POST /triage",
                                               "GET /export"}
    assert schema.raw_schema["servers"] == [{"url": "/api"}]  # where the operations are: /api/…
    headers = {"Authorization": f"Bearer {api.token}"}
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=headers)

        check()


def test_totp_second_factor_and_the_login_log(api):
    import pyotp

    with httpx.Client(base_url=api.url) as gd:
        csrf = _login(gd, "gd")
        page = gd.get("/account").text
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
        r = gd.post("/account/totp", data={"code": "000000", "csrf_token": csrf})
        assert api.state.totp_secret("gd") is None  # a wrong code does not switch it on
        gd.post("/account/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf})
        assert api.state.totp_secret("gd") == secret and "已启用" in gd.get("/account").text
        gd.post("/logout", data={"csrf_token": csrf})
    with httpx.Client(base_url=api.url) as again:
        token = re.search(r'name="csrf_token" value="([^"]+)"', again.get("/login").text).group(1)
        r = again.post("/login", data={"username": "gd", "password": PASSWORD, "otp": pyotp.TOTP(secret).now(),
                                       "csrf_token": token, "next": "/leads"})
        assert r.status_code == 303 and r.headers["location"] == "/leads"
    with httpx.Client(base_url=api.url) as thief:  # the password alone is not enough any more
        token = re.search(r'name="csrf_token" value="([^"]+)"', thief.get("/login").text).group(1)
        r = thief.post("/login", data={"username": "gd", "password": PASSWORD, "csrf_token": token, "next": "/"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login?failed=1")
        assert thief.get("/leads").status_code == 303  # not logged in
    with httpx.Client(base_url=api.url) as admin:
        _login(admin, "admin1")
        log = admin.get("/users/logins").text
        cells = r"<tr[^>]*><td>[^<]*</td><td><bdi>([^<]*)</bdi></td><td><bdi>[^<]*</bdi></td>\s*<td>([^<]*)</td>"
        rows = re.findall(cells, log)
        assert rows[:3] == [("admin1", "成功"), ("gd", "动态验证码错误"), ("gd", "成功")], rows[:4]
    with httpx.Client(base_url=api.url) as analyst:
        _login(analyst, "zj")
        assert analyst.get("/users/logins").status_code == 403
