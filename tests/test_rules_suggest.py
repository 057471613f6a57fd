"""`netsword rules suggest`: candidates mined from analysts' decisions, printed, never applied."""

from __future__ import annotations

import json

from cli_helpers import ROOT, run_cli
from leads_fixtures import AD, finding, listing, plant

from leads.suggest import benign_texts, suggest
from pipelines.store import open_store

CONFIRMED = ["【全网最】低价 极品大红袍", "国家级工艺 【全网最】好 极品茶叶", "【全网最】便宜 极品礼盒"]
DISMISSED = ["【最】近上新 连衣裙", "店铺【最】近上新 秋装", "【最】近上新的毛衣"]


def build(home):
    store = open_store(home / "netsword.db")
    ids = {"confirmed": [], "dismissed": []}
    for i, (status, snippets) in enumerate((("confirmed", CONFIRMED), ("dismissed", DISMISSED))):
        for j, snippet in enumerate(snippets):
            item = listing(f"L{i}{j}", snippet.replace("【", "").replace("】", ""))
            f = finding(item, "ad.absolute-terms", AD, "medium", snippet=snippet, title="使用绝对化用语",
                        matched=("最",))
            plant(store, item, f)
            ids[status].append(f.finding_id)
    store.flush()
    for status, fids in ids.items():
        store.set_finding_status(fids, status)
    store.flush()
    return store


def test_dismissed_contexts_and_confirmed_terms_are_suggested(tmp_path):
    store = build(tmp_path)
    try:
        found = suggest(store, {"ad.absolute-terms": ["最", "全网最"]}, benign=[])
    finally:
        store.close()
    [s] = found
    assert (s.rule_id, s.confirmed, s.dismissed) == ("ad.absolute-terms", 3, 3)
    assert "最近" in [c.text for c in s.unless]  # 最 in 最近上新: a lawful context, only in dismissed findings
    assert all(c.against == 0 for c in s.unless)
    assert "极品" in [c.text for c in s.terms]  # in every confirmed finding, not yet a term of the rule
    assert "全网最" not in [c.text for c in s.terms]  # already a term


def test_benign_text_keeps_a_word_out(tmp_path):
    store = build(tmp_path)
    try:
        found = suggest(store, {"ad.absolute-terms": ["最"]}, benign=["极品 好茶"] * 5 + ["别的"] * 5)
    finally:
        store.close()
    assert "极品" not in [c.text for c in found[0].terms]  # half the benign texts say it


def test_the_command_prints_candidates_and_changes_no_rule(tmp_path):
    build(tmp_path).close()
    before = {p: p.read_bytes() for p in (ROOT / "rules").rglob("*") if p.is_file()}
    proc = run_cli("rules", "suggest", "--json", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [s] = json.loads(proc.stdout)
    assert "最近" in [c["text"] for c in s["unless"]]
    assert {p: p.read_bytes() for p in (ROOT / "rules").rglob("*") if p.is_file()} == before
    assert len(benign_texts(ROOT / "tests" / "corpus" / "eval" / "cases.jsonl")) > 300
