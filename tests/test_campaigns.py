"""Campaign calendars: the shipped campaign, festival days from the lunar calendar, the plan, file:line errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from netsword.yamlsource import SourceError
from scheduling.campaigns import load_campaign, load_campaigns, spring_festival
from scheduling.plan import plan_jobs

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """\
campaign: t
title: 测试行动
phases:
  - {name: 动员部署, start: 2027-01-04, end: 2027-01-10}
  - {name: 组织实施, start: 2027-01-11, end: 2027-11-30}
sites:
  - site: demo
    watch: ["{base_url}/shop/S001/"]
  - demo2
festivals:
  - {id: nianhuo, name: 年货节, lunar: "01-01", offset_days: -21, days: 14}
  - {id: "618", name: 618, date: "06-18", plan: {baseline: {days_before: 20}}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def two_sites(tmp_path, monkeypatch):
    sites = tmp_path / "sites"
    sites.mkdir()
    profile = (ROOT / "crawler" / "sites" / "demo.yml").read_text(encoding="utf-8")
    (sites / "demo.yml").write_text(profile, encoding="utf-8")
    (sites / "demo2.yml").write_text(profile.replace("site: demo", "site: demo2"), encoding="utf-8")
    monkeypatch.setenv("NETSWORD_SITES_DIR", str(sites))
    return tmp_path


def test_shipped_campaign_loads_with_every_festival():
    [loaded] = load_campaigns([str(ROOT / "campaigns")])
    days = {f.festival.id: f.first_day for f in loaded.festivals}
    assert days["nianhuo"] == spring_festival(2026) - timedelta(days=21) == date(2026, 1, 27)
    assert days["women38"] == date(2026, 3, 7)
    assert days["618"] == date(2026, 6, 16)
    assert days["double11"] == date(2026, 11, 11)
    assert days["double12"] == date(2026, 12, 12)
    assert [p.name for p in loaded.campaign.phases] == ["动员部署", "组织实施", "分析总结"]
    assert loaded.campaign.phase_on(date(2026, 11, 11)) == "组织实施"


def test_spring_festival_comes_from_the_lunar_calendar():
    assert spring_festival(2026) == date(2026, 2, 17)
    assert spring_festival(2027) == date(2027, 2, 6)
    assert spring_festival(2028) == date(2028, 1, 26)


def test_plan_baseline_daily_hourly(two_sites):
    loaded = load_campaign(write(two_sites, MINIMAL))
    nianhuo = loaded.festival("nianhuo")
    assert nianhuo.first_day == date(2027, 1, 16)  # Spring Festival 2027-02-06 minus 21 days
    assert nianhuo.last_day == date(2027, 1, 29)
    jobs = {j.job_id: j for j in plan_jobs(loaded)}
    assert set(jobs) == {"t:nianhuo:baseline:demo", "t:nianhuo:daily:demo", "t:nianhuo:hourly:demo",
                         "t:nianhuo:baseline:demo2", "t:nianhuo:daily:demo2",  # demo2 has no watch list
                         "t:618:baseline:demo", "t:618:daily:demo", "t:618:hourly:demo",
                         "t:618:baseline:demo2", "t:618:daily:demo2"}
    base = jobs["t:618:baseline:demo"]
    assert base.spec["run_date"] == "2027-05-29T03:00:00+08:00"  # 20 days before, 03:00 Shanghai time
    daily = jobs["t:nianhuo:daily:demo"]
    first = daily.next_run(datetime(2027, 1, 1, tzinfo=UTC))
    assert first.isoformat() == "2027-01-09T02:00:00+08:00"  # 7 days before the first festival day
    assert daily.next_run(datetime(2027, 1, 30, tzinfo=UTC)) is None  # over after the last day
    hourly = jobs["t:nianhuo:hourly:demo"]
    assert hourly.start_urls == ("{base_url}/shop/S001/",)
    assert hourly.next_run(datetime(2027, 1, 1, tzinfo=UTC)).isoformat() == "2027-01-16T00:00:00+08:00"
    assert base.fingerprint() == plan_jobs(load_campaign(write(two_sites, MINIMAL)))[-5].fingerprint()


@pytest.mark.parametrize("change, line, words", [
    (("festivals:", "festivls:"), 10, "festivals"),
    (("date: \"06-18\"", "date: \"06-31\""), 12, "06-31"),
    (("lunar: \"01-01\"", "lunar: \"01-01\", date: \"02-01\""), 11, "之一"),
    (("{baseline: {days_before: 20}}", "{daily: {at: 2:00}}"), 12, "加引号"),
    (("  - demo2\n", "  - demo3\n"), 9, "demo3"),
    (("{name: 动员部署,", "{name: 动员,"), 4, "动员"),
    (("date: \"06-18\"", "date: \"12-18\""), 12, "不在行动期"),
    (("watch: [\"{base_url}/shop/S001/\"]", "watch: [\"/shop/S001/\"]"), 8, "{base_url}"),
    (("sites:\n", "focus_categories: [价格违法]\nsites:\n"), 6, "统计表"),
])
def test_errors_name_file_and_line(two_sites, change, line, words):
    path = write(two_sites, MINIMAL.replace(*change))
    with pytest.raises(SourceError) as exc:
        load_campaign(path)
    assert exc.value.path == str(path)
    assert exc.value.line == line, str(exc.value)
    assert words in str(exc.value)


def test_alert_urls_are_checked_unless_they_use_variables(two_sites):
    ok = MINIMAL + "alerts: {notify: [\"json://127.0.0.1:9/hook\", \"dingtalk://${DINGTALK_TOKEN}\"]}\n"
    assert load_campaign(write(two_sites, ok)).campaign.alerts.notify[1] == "dingtalk://${DINGTALK_TOKEN}"
    with pytest.raises(SourceError) as exc:
        load_campaign(write(two_sites, MINIMAL + "alerts:\n  notify: [\"nosuchscheme://x\"]\n"))
    assert exc.value.line == 14 and "通知地址" in str(exc.value)
