"""The analyst commands, run as the real `netsword` command on a private copy of the demo sweep."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from cli_helpers import ROOT, run_cli
from leads_fixtures import copy_home, free_port
from openpyxl import load_workbook

from leads import triage
from leads.bundle import verify_bundle
from leads.leads import build_leads
from pipelines.store import open_store


@pytest.fixture(scope="module")
def home(demo_sweep, tmp_path_factory):
    home = copy_home(demo_sweep["home"], tmp_path_factory.mktemp("cli-home"))
    store = open_store(home / "netsword.db")
    leads = build_leads(store)
    referred = leads[0]
    referred_rules = {f["rule_id"] for f in referred.findings}
    # the dismissed lead must have a rule of its own, so that rule's precision is 0 (lead order varies by crawl)
    dismissed = next(lead for lead in leads[1:] if {f["rule_id"] for f in lead.findings} - referred_rules)
    triage.set_status(store, referred.lead_id, "referred", "li")
    triage.set_status(store, dismissed.lead_id, "dismissed", "li")
    store.close()
    return home


def test_search_with_date_range_and_facets(home):
    proc = run_cli("search", "高仿", "--from", "2000-01-01", "--to", "2999-12-31", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["total"] >= 2 and result["facets"]["category"]
    proc = run_cli("search", "高仿", "--from", "2999-01-01", home=home)
    assert proc.returncode == 0 and "共 0 条结果" in proc.stdout
    proc = run_cli("search", "--status", "dismissed", home=home)
    assert proc.returncode == 0 and "类别：" in proc.stdout  # the facet line
    assert int(re.search(r"共 (\d+) 条结果", proc.stdout).group(1)) >= 1  # the dismissed lead's subjects
    proc = run_cli("search", "--from", "not-a-date", home=home)
    assert proc.returncode == 2 and "YYYY-MM-DD" in proc.stderr


def test_exports_bundle_and_form(home, tmp_path):
    proc = run_cli("export", "--format", "zip", "-o", str(tmp_path / "b.zip"), "--category", "网络销售假冒伪劣商品",
                   home=home)
    assert proc.returncode == 0, proc.stderr
    assert "page snapshots" in proc.stdout
    check = verify_bundle(tmp_path / "b.zip")
    assert check.ok and check.files_checked >= 4, check.problems
    proc = run_cli("report", "--campaign", "2026-netsword", "--from", "2000-01-01", "--to", "2999-12-31",
                   "-o", str(tmp_path / "form.xlsx"), home=home)
    assert proc.returncode == 0, proc.stderr
    ws = load_workbook(tmp_path / "form.xlsx")["情况统计表"]
    cells = {ws.cell(r, 2).value: ws.cell(r, 3).value for r in range(1, ws.max_row + 1)}
    assert cells["查处网络违法案件（件）"] == 1 and cells["移送公安机关案件（件）"] == 1  # the referred lead
    shops = len(json.loads((ROOT / "crawler" / "demo" / "catalog.json").read_text(encoding="utf-8"))["shops"])
    assert cells["网上检查网站、网店（个次）"] == shops  # the demo's shops, fetched in one sweep
    assert cells["罚没款（万元）"] is None
    proc = run_cli("rules", "stats", "--json", home=home)
    stats = json.loads(proc.stdout)
    assert any(s["dismissed"] for s in stats) and any(s["referred"] for s in stats)
    assert {s["precision"] for s in stats if s["dismissed"] and not s["referred"] and not s["confirmed"]} == {0.0}


def test_user_add_and_serve(home):
    proc = run_cli("user", "add", "ana", "--role", "admin", "--password-stdin", home=home, stdin="password-1\n")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("user", "add", "ana", "--password-stdin", home=home, stdin="password-2\n")
    assert proc.returncode == 1 and "exists" in proc.stderr
    port = free_port()
    env = {**os.environ, "NETSWORD_HOME": str(home)}
    env.pop("NETSWORD_STORE", None)
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/search")
                break
            except httpx.ConnectError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()
                time.sleep(0.2)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert (home / "console-secret").stat().st_mode & 0o077 == 0  # generated, private
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_query_may_start_with_a_minus(home):
    """`netsword search "-正品 高仿"`: 高仿 listings that do not say 正品, not "No such option '-正'"."""
    both = json.loads(run_cli("search", "高仿", "--json", home=home).stdout)["total"]
    proc = run_cli("search", "-正品 高仿", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    assert 0 < json.loads(proc.stdout)["total"] <= both


def test_report_names_a_known_campaign_and_keeps_its_title_as_text(home, tmp_path):
    proc = run_cli("report", "--campaign", "2026-netswrd", home=home)
    assert proc.returncode == 2 and "did you mean: 2026-netsword" in proc.stderr and "2026-netsword" in proc.stderr
    # a campaign title that looks like a formula is written as text in A2 of the form
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    plan = (ROOT / "campaigns" / "2026-netsword.yml").read_text(encoding="utf-8")
    plan = re.sub(r"(?m)^title: .*$", "title: \"=HYPERLINK(\\\\\"http://evil.test\\\\\")\"", plan)
    (campaigns / "evil.yml").write_text(plan, encoding="utf-8")
    (home / "netsword.yml").write_text(f"campaigns_dir: {campaigns}\n", encoding="utf-8")
    try:
        proc = run_cli("report", "--campaign", "2026-netsword", "-o", str(tmp_path / "f.xlsx"), home=home)
    finally:
        (home / "netsword.yml").unlink()
    assert proc.returncode == 0, proc.stderr
    a2 = load_workbook(tmp_path / "f.xlsx")["情况统计表"]["A2"]
    assert a2.data_type == "s" and a2.value.startswith("'=HYPERLINK")


def test_rules_lint_takes_rules_dir_like_rules_test(tmp_path):
    (tmp_path / "p.yml").write_text("pack: p\nversion: '1'\nrules:\n  - {id: x}\n", encoding="utf-8")
    proc = run_cli("rules", "lint", "--rules-dir", str(tmp_path), home=tmp_path)
    assert proc.returncode == 1 and "p.yml:4" in proc.stdout
