"""`netsword rescan`: stored pages re-checked with changed rules; findings no longer produced are resolved."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.items import ListingItem, ShopItem
from pipelines.match import RuleSet
from pipelines.match.commands import rescan as rescan_command
from pipelines.match.rescan import rescan
from pipelines.normalize import NormalizePipeline
from pipelines.store import open_store

RULE = """\
  - id: {id}
    title: {title}
    category: {category}
    severity: medium
    basis: 《广告法》第九条
    applies_to: {kind}
    any: [{terms}]
"""
ABSOLUTE = dict(id="ad.best", title="绝对化用语", category="虚假违法互联网广告", kind="listing", terms="最佳, 国家级")
REPLICA = dict(id="cf.slang", title="假冒暗语", category="网络销售假冒伪劣商品", kind="listing", terms="高仿")
CASHBACK = dict(id="con.cashback", title="好评返现", category="互联网不正当竞争", kind="listing", terms="好评返现")
SHOP_TERMS = dict(id="shop.final", title="最终解释权", category="合同违法违规", kind="shop", terms="最终解释权")


def rules_dir(tmp_path: Path, name: str, *rules: dict) -> Path:
    d = tmp_path / name
    d.mkdir()
    body = f'pack: p\nversion: "{name}"\nrules:\n' + "".join(RULE.format(**r) for r in rules)
    (d / "p.yml").write_text(textwrap.dedent(body), encoding="utf-8")
    return d


def item(n: int, title: str) -> ListingItem:
    return ListingItem(site="demo", listing_id=f"L{n}", shop_id="S1", url=f"http://127.0.0.1/item/L{n}.html",
                       title=title, price_text="¥99", sweep_id="sweep-1", fetched_at="2026-01-01T00:00:00+00:00",
                       html_sha256=f"{n:064x}", status=200)


@pytest.fixture()
def store(tmp_path):
    """A store filled the way a sweep fills it: normalise, match with rules v1, save."""
    v1 = RuleSet.load(rules_dir(tmp_path, "v1", ABSOLUTE, REPLICA, SHOP_TERMS))
    s = open_store(tmp_path / "store.db")
    s.start_sweep("sweep-1", "demo", "2026-01-01T00:00:00+00:00", {})
    norm = NormalizePipeline(tokens=False)
    subjects = [item(1, "全网最佳口感 国家级工艺"), item(2, "高仿名表 钢带"), item(3, "纯棉T恤 好评返现"),
                item(4, "普通水杯"),
                ShopItem(site="demo", shop_id="S1", name="某店", notices="本活动最终解释权归本店所有",
                         sweep_id="sweep-1", fetched_at="2026-01-01T00:00:00+00:00", status=200)]
    for it in subjects:
        norm.process_item(it)
        it.findings = v1.match(it)
        for f in it.findings:
            f.found_at = it.fetched_at  # as if found during the sweep on 1 January
        s.save(it)
    s.flush()
    yield s
    s.close()


def open_rules(store, sid: str, kind: str = "listing") -> set[str]:
    return {sf.finding.rule_id for sf in store.findings_for(sid, kind=kind) if sf.status != "resolved"}


def test_rescan_resolves_adds_and_keeps(store, tmp_path):
    before = {sf.finding_id: sf for sf in store.findings_for("demo:L1")}
    store.set_finding_status([f for f, sf in before.items() if sf.finding.rule_id == "ad.best"], "confirmed")
    v2 = RuleSet.load(rules_dir(tmp_path, "v2", REPLICA, CASHBACK, SHOP_TERMS))  # ad.best gone, cashback new
    report = rescan(store, v2, at="2026-02-01T00:00:00+00:00")
    assert report.subjects == {"listing": 4, "shop": 1}
    assert report.new == 1 and report.new_by_category == {"互联网不正当竞争": 1}
    assert report.resolved == 1 and report.resolved_by_category == {"虚假违法互联网广告": 1}
    assert open_rules(store, "demo:L3") == {"con.cashback"}
    assert open_rules(store, "demo:L2") == {"cf.slang"}
    assert open_rules(store, "demo:S1", "shop") == {"shop.final"}
    # the old finding is kept, marked resolved (its triage status stays), not deleted
    old = {sf.finding.rule_id: sf for sf in store.findings_for("demo:L1")}["ad.best"]
    assert old.resolved_at == "2026-02-01T00:00:00+00:00" and old.status == "confirmed"
    kept = {sf.finding.rule_id: sf for sf in store.findings_for("demo:L2")}["cf.slang"]
    assert kept.last_seen == "2026-02-01T00:00:00+00:00" and kept.first_seen == "2026-01-01T00:00:00+00:00"
    assert kept.finding.snapshot_sha256 == f"{2:064x}" and kept.finding.sweep_id == "sweep-1"
    # the rule comes back: the finding is reopened
    v3 = RuleSet.load(rules_dir(tmp_path, "v3", ABSOLUTE, REPLICA, CASHBACK, SHOP_TERMS))
    again = rescan(store, v3, at="2026-03-01T00:00:00+00:00")
    assert again.new == 1 and again.resolved == 0
    back = {sf.finding.rule_id: sf for sf in store.findings_for("demo:L1")}["ad.best"]
    assert back.resolved_at is None


def test_dry_run_writes_nothing(store, tmp_path):
    v2 = RuleSet.load(rules_dir(tmp_path, "v2", REPLICA))
    report = rescan(store, v2, dry_run=True, at="2026-02-01T00:00:00+00:00")
    assert report.dry_run and report.resolved == 2 and report.new == 0  # ad.best on L1, shop.final on S1
    assert open_rules(store, "demo:L1") == {"ad.best"} and open_rules(store, "demo:S1", "shop") == {"shop.final"}


def test_rescan_of_one_rule_leaves_other_findings_alone(store, tmp_path):
    v2 = RuleSet.load(rules_dir(tmp_path, "v2", dict(REPLICA, terms="精仿"), ABSOLUTE, SHOP_TERMS))
    report = rescan(store, v2, rule_ids=["cf.slang"], kinds=["listing"], at="2026-02-01T00:00:00+00:00")
    assert report.resolved == 1 and open_rules(store, "demo:L2") == set()
    assert open_rules(store, "demo:L1") == {"ad.best"}
    with pytest.raises(ValueError, match=r"no\.such"):
        rescan(store, v2, rule_ids=["no.such"])


def test_rescan_command(store, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store.close()
    v2 = rules_dir(tmp_path, "v2", REPLICA, CASHBACK, SHOP_TERMS)
    res = CliRunner().invoke(rescan_command, ["--store", url, "--rules-dir", str(v2), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["subjects"] == {"listing": 4, "shop": 1} and report["resolved"] == 1 and report["new"] == 1
    res = CliRunner().invoke(rescan_command, ["--store", url, "--rules-dir", str(v2), "--kind", "shop"])
    assert res.exit_code == 0 and "0 listings, 1 shops" in res.output
