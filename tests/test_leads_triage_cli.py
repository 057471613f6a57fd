"""`netsword leads list|show|confirm|dismiss|assign|refer|handover|result`, run as the real command on a real
SQLite store (tests/console_data.py: the real rule engine over planted listings); every change lands in the
same audit trail as the console's."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cli_helpers import run_cli
from console_data import build_console_data

from leads.rulestats import rule_stats
from leads.triage import lead_state
from leads.users import add_user
from netsword.clock import today_beijing
from pipelines.store import open_store
from pipelines.store.base import SearchQuery


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("leads-cli-home")
    store = open_store(home / "netsword.db")
    build_console_data(store)
    add_user(store, "wang", "password-123", "analyst")
    store.close()
    return home


def _store(home):
    return open_store(home / "netsword.db")


def test_list_and_show(home):
    proc = run_cli("leads", "list", "--site", "demo", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["lead_id"] for r in rows} == {"demo:S01", "demo:S02", "demo:S03", "demo:S04", "demo:S07"}
    assert all(r["status"] == "new" for r in rows)
    proc = run_cli("leads", "list", "--region", "广东", "--ids", home=home)
    assert sorted(proc.stdout.split()) == ["demo:S01", "demo:S02"]
    proc = run_cli("leads", "show", "demo:S03", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    price = next(f for f in shown["findings"] if f["rule_id"] == "price.raised-before-discount")
    assert price["explanation"].startswith("划线价¥599，高于售价¥399")
    proc = run_cli("leads", "show", "demo:S03", home=home)
    assert "节前基准售价¥399" in proc.stdout and "baseline_price" not in proc.stdout
    assert run_cli("leads", "show", "demo:NOPE", home=home).returncode == 1


def test_dismiss_with_reasons_per_finding_assign_confirm(home):
    store = _store(home)
    findings = [f["finding_id"] for f in store.iter_findings(SearchQuery(site="demo", shop_id="S01"))]
    store.close()
    assert len(findings) >= 2
    proc = run_cli("leads", "dismiss", "demo:S01", home=home)
    assert proc.returncode == 2 and "--reason" in proc.stderr  # a reason is required
    proc = run_cli("leads", "dismiss", "demo:S01", "--reason", "duplicate", "--finding",
                   f"{findings[0]}=false_positive", "--by", "li", home=home)
    assert proc.returncode == 0, proc.stderr
    assert "排除：1 条线索已更改" in proc.stdout
    store = _store(home)
    state = lead_state(store, "demo:S01")
    assert state.status == "dismissed" and state.updated_by == "li"
    assert state.reasons == {findings[0]: "false_positive", **{f: "duplicate" for f in findings[1:]}}
    stats = {s.rule_id: s for s in rule_stats(store, SearchQuery(site="demo", shop_id="S01"))}
    assert sum(s.dismissed for s in stats.values()) == 1  # only the false positive counts against its rule
    assert sum(s.set_aside for s in stats.values()) == len(findings) - 1
    store.close()
    proc = run_cli("leads", "assign", "demo:S03", "--to", "nobody", home=home)
    assert proc.returncode == 2 and "nobody" in proc.stderr
    proc = run_cli("leads", "assign", "demo:S03", "--to", "wang", home=home)
    assert proc.returncode == 0, proc.stderr
    # ids from a list, through a pipe
    ids = run_cli("leads", "list", "--site", "shopx", "--ids", home=home).stdout
    proc = run_cli("leads", "confirm", "-", "--note", "批量确认", home=home, stdin=ids)
    assert proc.returncode == 0 and "确认：2 条线索已更改" in proc.stdout, proc.stderr
    store = _store(home)
    assert lead_state(store, "demo:S03").assignee == "wang"
    assert {lead_state(store, i).status for i in ("shopx:S05", "shopx:S06")} == {"confirmed"}
    actors = {e.actor for e in store.triage_events("shopx:S05")}
    assert len(actors) == 1 and actors.pop().startswith("cli:")
    store.close()


def test_handover_and_result(home):
    due = (today_beijing() + timedelta(days=7)).isoformat()
    proc = run_cli("leads", "handover", "demo:S04", "demo:S07", "--unit", "鼓楼区市场监管局", "--due", due, home=home)
    assert proc.returncode == 0 and "交办：2 条线索已更改" in proc.stdout, proc.stderr
    assert run_cli("leads", "handover", "demo:S04", "--unit", "x", "--due", "2020-01-01", home=home).returncode == 2
    proc = run_cli("leads", "result", "demo:S04", "已责令整改", home=home)
    assert proc.returncode == 0, proc.stderr
    rows = {r["lead_id"]: r for r in json.loads(run_cli("leads", "list", "--json", home=home).stdout)}
    assert rows["demo:S04"]["handover"] == {"unit": "鼓楼区市场监管局", "due": due, "state": "done",
                                            "result": "已责令整改"}
    assert rows["demo:S07"]["handover"]["state"] in ("open", "due-soon")
    assert run_cli("leads", "list", "--overdue", "--ids", home=home).stdout.strip() == ""
