"""Leads, clustering, triage, rule precision, exports, evidence bundles, the statistics form, users.

Data is planted through the Store API into a real SQLite file; evidence through the real EvidenceStore.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from leads_fixtures import AD, BANNED, FAKE, PRICE, T2, T3, finding, listing, plant, shop
from openpyxl import load_workbook

from crawler.items import CATEGORIES
from leads import triage
from leads.bundle import verify_bundle, write_bundle
from leads.categories import CATEGORY_PRECEDENCE, main_category
from leads.clustering import cluster
from leads.dates import day_bounds
from leads.export import LEAD_COLUMNS, export
from leads.leads import build_leads, get_lead
from leads.report import FORM_LABELS, build_form, write_xlsx
from leads.rulestats import rule_stats
from leads.users import UserError, add_user, authenticate, set_disabled
from pipelines.evidence import EvidenceStore, Sealer
from pipelines.store import SearchQuery, open_store
from pipelines.store.sqlite import SCHEMA_VERSION

#: The campaign's statistics form (情况统计表), vendored from the reference text (see its header).
REFERENCE = Path(__file__).resolve().parent / "files" / "reference" / "liaoning-2019-statistics-form.txt"


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/leads.db")
    yield s
    s.close()


@pytest.fixture
def corpus(store):
    """Shop s1: a counterfeit and an ad listing plus its own page; shop s2 (page never fetched): a price listing;
    shop m1 on another site: a banned-goods listing (critical)."""
    s1 = shop("s1", "名牌折扣店", operator="某某贸易有限公司", license_number="91330106MA84AHFT93", phone="13800138000")
    plant(store, s1, finding(s1, "disclosure.no-license", "电子商务经营者未履行市场主体公示义务", "medium"))
    a = listing("1", "耐克高仿运动鞋", shop_name="名牌折扣店")
    plant(store, a, finding(a, "fake.imitation", FAKE, "high"))
    b = listing("2", "国家级 最佳 保健茶", shop_name="名牌折扣店", at=T2)
    plant(store, b, finding(b, "ad.absolute", AD, "high"), finding(b, "price.fake-original", PRICE, "low"))
    c = listing("3", "原价999现价99", shop_id="s2", shop_name="无页面小店", at=T3)
    plant(store, c, finding(c, "price.fake-original", PRICE, "low"))
    d = listing("4", "穿山甲鳞片", site="mall", shop_id="m1", shop_name="山货铺", at=T2)
    plant(store, d, finding(d, "banned.wildlife", BANNED, "critical"))
    store.flush()
    return store


def test_main_category_by_severity_then_documented_order():
    assert sorted(CATEGORY_PRECEDENCE) == sorted(CATEGORIES)
    high_ad, low_banned = {"category": AD, "severity": "high"}, {"category": BANNED, "severity": "low"}
    assert main_category([low_banned, high_ad]) == AD  # severity first
    assert main_category([{"category": AD, "severity": "high"}, {"category": FAKE, "severity": "high"}]) == FAKE
    assert main_category([{"category": FAKE, "severity": "critical", "status": "dismissed"}, high_ad]) == AD
    assert main_category([]) is None


def test_a_lead_is_a_shop_with_its_findings(corpus):
    leads = build_leads(corpus)
    assert [lead.lead_id for lead in leads] == ["mall:m1", "demo:s1", "demo:s2"]  # most serious first
    s1 = leads[1]
    assert s1.shop_name == "名牌折扣店" and s1.operator == "某某贸易有限公司" and s1.phone == "13800138000"
    assert len(s1.findings) == 4 and s1.subjects == 3
    assert s1.main_category == FAKE  # high counterfeit beats high advertising by the order; medium/low lose
    assert s1.max_severity == "high"
    assert list(s1.categories) == [FAKE, AD, "电子商务经营者未履行市场主体公示义务", PRICE]
    assert leads[2].shop_name == "无页面小店" and leads[2].main_category == PRICE  # no shop page: named by listings
    assert [lead.lead_id for lead in build_leads(corpus, {"category": PRICE})] == ["demo:s2", "demo:s1"]  # newest
    assert get_lead(corpus, "demo:s1").findings[0]["severity"] == "high"
    assert get_lead(corpus, "demo:nope") is None


def test_operator_groups_are_explained_by_the_shared_value():
    shops = [shop("A", "甲店", phone="+86 138-0013-8000"), shop("B", "乙店", phone="13800138000",
                                                                  address="浙江省杭州市西湖区 文三路 1 号"),
             shop("C", "丙店", address="浙江省杭州市西湖区文三路1号", license_number="91330106MA84AHFT93"),
             shop("D", "丁店", license_number="91330106MA84AHFT94", phone="000000000"),
             *[shop(f"H{i}", "商城店", phone="400-800-8888") for i in range(12)]]
    result = cluster(shops)
    assert len(result.groups) == 1
    group = result.group_of("demo:B")
    assert group is result.group_of("demo:A") is result.group_of("demo:C")
    assert group.members == ["demo:A", "demo:B", "demo:C"] and group.group_id == "demo:A"
    explained = {(link.a, link.b, link.field, link.value) for link in group.links}
    assert explained == {("demo:A", "demo:B", "phone", "+86 138-0013-8000"),
                         ("demo:B", "demo:C", "address", "浙江省杭州市西湖区 文三路 1 号")}
    assert result.group_of("demo:D") is None and result.group_of("demo:H0") is None  # a hotline links nothing
    assert result.too_common == {("phone", "4008008888"): 12}


def test_triage_moves_findings_and_keeps_an_audit_trail(corpus):
    add_user(corpus, "wang", "password-1", "analyst")
    lead = "demo:s1"
    ad_finding = next(f["finding_id"] for f in get_lead(corpus, lead).findings if f["category"] == AD)
    assert triage.decide_finding(corpus, lead, ad_finding, "dismissed", "li") is not None  # one noisy rule hit
    assert triage.set_status(corpus, lead, "confirmed", "li", note="电话核实") is not None
    assert triage.set_status(corpus, lead, "confirmed", "li") is None  # no change, no event
    assert triage.assign(corpus, lead, "wang", "li") is not None
    assert triage.set_status(corpus, lead, "referred", "zhao") is not None
    statuses = {f["finding_id"]: f["status"] for f in get_lead(corpus, lead).findings}
    assert statuses.pop(ad_finding) == "dismissed"  # decided alone: kept through the lead's changes
    assert set(statuses.values()) == {"referred"}
    state = triage.lead_state(corpus, lead)
    assert (state.status, state.assignee, state.updated_by) == ("referred", "wang", "zhao")
    assert [n.value for n in state.notes] == ["电话核实"]
    trail = [(e.action, e.previous, e.value, e.actor) for e in corpus.triage_events(lead)]
    assert trail == [("finding_status", "open", "dismissed", "li"), ("status", "new", "confirmed", "li"),
                     ("note", "", "电话核实", "li"), ("assign", "", "wang", "li"),
                     ("status", "confirmed", "referred", "zhao")]
    assert all(e.at and e.event_id for e in corpus.triage_events(lead))
    assert get_lead(corpus, lead).main_category == FAKE  # the dismissed ad hit never counts
    for bad in (lambda: triage.set_status(corpus, lead, "closed", "li"),
                lambda: triage.assign(corpus, lead, "nobody", "li"), lambda: triage.add_note(corpus, lead, "  ", "li"),
                lambda: triage.set_status(corpus, "nocolon", "new", "li")):
        with pytest.raises(triage.TriageError):
            bad()
    # back to new: the findings the lead decided go back to open, the one decided alone stays
    triage.set_status(corpus, lead, "new", "li")
    assert {f["status"] for f in get_lead(corpus, lead).findings if f["finding_id"] != ad_finding} == {"open"}


def test_dismissals_feed_rule_precision(corpus):
    triage.set_status(corpus, "demo:s1", "confirmed", "li")  # price.fake-original confirmed once
    triage.set_status(corpus, "demo:s2", "dismissed", "li")  # ... and dismissed once
    stats = {s.rule_id: s for s in rule_stats(corpus)}
    assert (stats["price.fake-original"].confirmed, stats["price.fake-original"].dismissed) == (1, 1)
    assert stats["price.fake-original"].precision == 0.5
    assert stats["fake.imitation"].precision == 1.0
    assert stats["banned.wildlife"].precision is None and stats["banned.wildlife"].open == 1
    assert rule_stats(corpus)[0].rule_id == "price.fake-original"  # the noisiest first


def test_date_range_is_beijing_days(store):
    early = listing("e", "高仿鞋 早", at="2026-06-14T15:59:00+00:00")  # 06-14 23:59 in Beijing
    late = listing("l", "高仿鞋 晚", at="2026-06-14T16:00:00+00:00")  # 06-15 00:00 in Beijing
    plant(store, early, finding(early, "fake.imitation", FAKE))
    plant(store, late, finding(late, "fake.imitation", FAKE))
    bounds = day_bounds("2026-06-15", "2026-06-30")
    assert bounds == {"seen_from": "2026-06-14T16:00:00+00:00", "seen_before": "2026-06-30T16:00:00+00:00"}
    assert [h.title for h in store.search(SearchQuery(**bounds)).hits] == ["高仿鞋 晚"]
    assert [h.title for h in store.search(SearchQuery(**day_bounds(None, "2026-06-14"))).hits] == ["高仿鞋 早"]
    with pytest.raises(ValueError):
        day_bounds("2026-06-30", "2026-06-01")


def test_store_schema_upgrades_from_v1(tmp_path):
    path = tmp_path / "old.db"
    open_store(path).close()
    with sqlite3.connect(path) as c:  # what a v1 store looked like: no triage or user tables
        c.executescript("DROP TABLE triage_events; DROP TABLE users; DELETE FROM schema_version; "
                        "INSERT INTO schema_version VALUES (1);")
    s = open_store(path)
    add_user(s, "wang", "password-1")
    assert s.get_user("wang").role == "analyst" and s.triage_events() == []
    s.close()
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_xlsx_has_a_leads_sheet_and_a_findings_sheet(corpus, tmp_path):
    triage.set_status(corpus, "demo:s1", "confirmed", "li")
    n = export(corpus, tmp_path / "x.xlsx")
    assert n == 6
    wb = load_workbook(tmp_path / "x.xlsx")
    assert wb.sheetnames == ["线索", "问题明细"]
    rows = list(wb["线索"].values)
    assert rows[0] == LEAD_COLUMNS and len(rows) == 4
    s1 = dict(zip(rows[0], next(r for r in rows if r[0] == "demo:s1"), strict=True))
    assert (s1["主要违法类别"], s1["状态"], s1["问题数"], s1["涉及商品数"]) == (FAKE, "已确认", 4, 2)
    assert s1["统一社会信用代码"] == "91330106MA84AHFT93" and s1["最高严重程度"] == "高"
    assert wb["问题明细"].max_row == 7
    assert export(corpus, tmp_path / "l.json", what="leads") == 3
    leads_json = json.loads((tmp_path / "l.json").read_text(encoding="utf-8"))
    assert [r["lead_id"] for r in leads_json] == [r["zh"]["线索编号"] for r in leads_json] == \
        ["mall:m1", "demo:s1", "demo:s2"]
    assert leads_json[1]["main_category"] == FAKE and len(leads_json[1]["finding_ids"]) == 4


def test_evidence_bundle_verifies_and_catches_tampering(store, tmp_path):
    evidence = EvidenceStore(tmp_path / "evidence")
    html = "<html><body>耐克高仿运动鞋 ¥199</body></html>".encode()
    sha, rel = evidence.put_html(html)
    (tmp_path / "evidence" / "screenshots").mkdir()
    (tmp_path / "evidence" / "screenshots" / f"{sha}.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    item = listing("1", "耐克高仿运动鞋", sha=sha, html_path=rel)
    plant(store, item, finding(item, "fake.imitation", FAKE), finding(item, "ad.absolute", AD))
    bundle = tmp_path / "b.zip"
    summary = write_bundle(store, bundle, evidence_dir=tmp_path / "evidence", sealer=Sealer())  # no key, no TSA
    assert (summary.findings, summary.snapshots, summary.screenshots, summary.missing) == (2, 1, 1, [])
    assert any("no WARC files" in p for p in summary.problems)  # planted without a sweep: no WACZ, said so
    with zipfile.ZipFile(bundle) as zf:
        assert sorted(zf.namelist()) == sorted(["说明.txt", "leads.xlsx", f"snapshots/{sha}.html",
                                                f"screenshots/{sha}.png", "manifest.json", "SHA256SUMS",
                                                "SHA256SUMS.seal.json", "records/电子数据提取笔录.docx",
                                                "records/电子数据提取笔录.pdf"])
        assert zf.read(f"snapshots/{sha}.html") == html
        manifest = json.loads(zf.read("manifest.json"))
        assert {f["html"] for f in manifest["findings"]} == {f"snapshots/{sha}.html"}
        members = {name: zf.read(name) for name in zf.namelist()}
    check = verify_bundle(bundle)
    assert check.ok and check.files_checked == 7 and not check.problems

    def rewrite(name: str, changes: dict[str, bytes]) -> Path:
        out = tmp_path / name
        with zipfile.ZipFile(out, "w") as zf:
            for member, data in {**members, **changes}.items():
                zf.writestr(member, data)
        return out

    tampered = verify_bundle(rewrite("t.zip", {f"snapshots/{sha}.html": html.replace(b"199", b"999")}))
    assert not tampered.ok and any("hash mismatch" in p for p in tampered.problems)
    assert any("does not match its name" in p for p in tampered.problems)
    extra = verify_bundle(rewrite("e.zip", {"snapshots/extra.html": b"x"}))
    assert not extra.ok and any("not in SHA256SUMS" in p for p in extra.problems)
    (tmp_path / "no.zip").write_bytes(b"not a zip")
    assert not verify_bundle(tmp_path / "no.zip").ok


def test_statistics_form_counts_each_case_once(corpus, tmp_path):
    triage.set_status(corpus, "demo:s1", "confirmed", "li")  # counterfeit + ad + disclosure + price: one case
    triage.set_status(corpus, "mall:m1", "referred", "li")
    triage.set_status(corpus, "demo:s2", "dismissed", "li")
    known = set(CATEGORIES) - {"电子商务平台未履行平台义务"}
    form = build_form(corpus, "2026网剑行动", "2026-06-01", "2026-06-30", known=known)
    rows = {r.label: r for r in form.categories}
    assert [r.label for r in form.categories] == [FORM_LABELS[c] for c in CATEGORIES]
    assert rows[FORM_LABELS[FAKE]].value == 1 and "同时涉及" in rows[FORM_LABELS[FAKE]].note
    assert rows[FORM_LABELS[BANNED]].value == 1
    assert rows[FORM_LABELS[AD]].value == 0 and rows[FORM_LABELS[PRICE]].value == 0  # counted once, under the main
    assert rows[FORM_LABELS["电子商务平台未履行平台义务"]].value is None  # cannot know: blank, not 0
    totals = {r.label: r.value for r in form.totals}
    assert totals == {"查处网络违法案件（件）": 2, "移送公安机关案件（件）": 1, "罚没款（万元）": None}
    assert sum(r.value or 0 for r in form.categories) == totals["查处网络违法案件（件）"]
    # the period: nothing was seen in May
    assert build_form(corpus, "x", "2026-05-01", "2026-05-31", known=known).totals[0].value == 0
    reference = REFERENCE.read_text(encoding="utf-8")
    for label in FORM_LABELS.values():  # the labels are the seed form's own words
        assert label.removesuffix("（件）") in reference
    write_xlsx(form, tmp_path / "form.xlsx")
    ws = load_workbook(tmp_path / "form.xlsx")["情况统计表"]
    cells = {ws.cell(r, 2).value: ws.cell(r, 3).value for r in range(1, ws.max_row + 1)}
    assert ws["A2"].value == "2026网剑行动情况统计表"
    assert cells[FORM_LABELS[FAKE]] == 1 and cells[FORM_LABELS[AD]] == 0
    assert cells[FORM_LABELS["电子商务平台未履行平台义务"]] is None and cells["罚没款（万元）"] is None
    assert cells["实地检查网站、网店经营者（个次）"] is None


def test_users_have_argon2_hashes(store):
    user = add_user(store, "wang", "correct horse", "admin")
    assert user.password_hash.startswith("$argon2id$") and "correct horse" not in user.password_hash
    assert authenticate(store, "wang", "correct horse").role == "admin"
    assert authenticate(store, "wang", "wrong password") is None and authenticate(store, "nobody", "x") is None
    for bad in (("wang", "another-pass", "analyst"), ("x", "password-1", "analyst"),
                ("li", "short", "analyst"), ("li", "password-1", "root")):
        with pytest.raises(UserError):
            add_user(store, *bad)
    set_disabled(store, "wang")
    assert authenticate(store, "wang", "correct horse") is None
