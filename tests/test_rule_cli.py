"""`netsword rules explain` and `rules test` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pipelines.match import RuleSet
from pipelines.match.commands import rules

ROOT = Path(__file__).resolve().parents[1]


def test_explain_json_listing_from_stdin_end_to_end():
    """The real command in a new process: a stored-style listing as JSON on stdin, findings as JSON out."""
    listing = {"kind": "listing", "site": "demo", "listing_id": "L0403", "shop_id": "S012",
               "url": "http://127.0.0.1/item/L0403.html", "title": "LV老花 Neverfull 高 仿 A货 手提包",
               "price_text": "¥468.00", "description": "全网最低价 懂的来", "norm": {}, "findings": [],
               "unknown_key": "ignored"}
    proc = subprocess.run([sys.executable, "-m", "cli", "rules", "explain", "-", "--json"], cwd=ROOT,
                          input=json.dumps(listing, ensure_ascii=False), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    findings = json.loads(proc.stdout)
    by_rule = {f["rule_id"]: f for f in findings}
    f = by_rule["cf.replica-with-brand"]
    assert f["category"] == "网络销售假冒伪劣商品" and f["severity"] == "high" and f["field"] == "title"
    assert f["matched"] == ["lv", "高 仿"] and "【" in f["snippet"] and f["subject_id"] == "demo:L0403"
    assert any(n.startswith("去除分隔符") for n in f["deobfuscated"])
    assert {"rule_id", "category", "severity", "field", "matched", "snippet", "finding_id"} <= set(f)
    assert "cf.price-far-below-reference" in by_rule  # ¥468 for an LV bag
    # one main problem (issue 13): "全网最低价" inside a replica listing is not a separate absolute-term finding
    assert "ad.absolute-terms" not in by_rule


def test_explain_shop_json_and_text_output():
    runner = CliRunner()
    shop = {"kind": "shop", "shop_id": "S9", "name": "潮流服饰店", "license_number": "91350100M000100Y44"}
    res = runner.invoke(rules, ["explain", "-", "--json"], input=json.dumps(shop, ensure_ascii=False))
    assert res.exit_code == 0, res.output
    assert [f["rule_id"] for f in json.loads(res.output)] == ["lic.uscc-invalid"]
    res = runner.invoke(rules, ["explain", "国家级工艺 全网最佳口感"])
    assert res.exit_code == 0
    assert "normalised: 国家级工艺 全网最佳口感" in res.output and "ad.absolute-terms" in res.output
    assert "matched: 国家级" in res.output
    res = runner.invoke(rules, ["explain", "最近上新的连衣裙"])
    assert "no rule fires" in res.output


def test_explain_rejects_bad_json():
    res = CliRunner().invoke(rules, ["explain", "-"], input="{not json")
    assert res.exit_code == 2 and "not JSON" in res.output


def test_rules_test_one_pack_and_unknown_pack():
    runner = CliRunner()
    res = runner.invoke(rules, ["test", "platform"])
    assert res.exit_code == 0 and " 0 failed" in res.output
    res = runner.invoke(rules, ["test", "no-such-pack"])
    assert res.exit_code == 2 and "platform" in res.output


def test_explain_jsonl_on_a_stored_dump_of_the_demo(demo_sweep, tmp_path):
    """`netsword rules explain --jsonl -` over the demo's listings and shops as the store keeps them:
    one result per line, in order, and every finding the sweep stored is among them."""
    from pipelines.match.when import BASIC_NAMES, REFERENCE_NAMES
    from pipelines.store import open_store

    item_numbers = BASIC_NAMES["listing"] | BASIC_NAMES["shop"] | REFERENCE_NAMES

    store = open_store(f"sqlite:///{demo_sweep['db']}")
    try:
        records = [r for r in store.dump() if r["type"] in ("listing", "shop")]
        stored = {}
        for row in store.iter_findings({"sweep_id": demo_sweep["sweep_id"]}):
            stored.setdefault(row["subject_id"], set()).add(row["rule_id"])
        history_rules = {r.id for r in RuleSet.load().rules if r.when and r.when.names - item_numbers}
    finally:
        store.close()
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) + "not json\n"
    proc = subprocess.run([sys.executable, "-m", "cli", "rules", "explain", "--jsonl", "-"], input=lines,
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1 and "1 lines not understood" in proc.stderr  # the bad line, reported
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["line"] for o in out] == list(range(1, len(records) + 2)) and "error" in out[-1]
    explained = {o["subject_id"]: {f["rule_id"] for f in o["findings"]} for o in out[:-1]}
    assert len(explained) == len(records) > 300
    assert len(stored) > 40
    for subject, rule_ids in stored.items():  # price-history rules need the sweep's history: not in a dump
        assert rule_ids - history_rules <= explained[subject], subject
