"""`netsword rules lint`: deliberately broken packs in tests/files/ give file:line, a hint and a severity."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipelines.match.commands import rules
from pipelines.match.lint import VALIDATORS, LintIssue, RuleValidator, lint_rules

FILES = Path(__file__).parent / "files"


def by_rule(issues: list[LintIssue]) -> dict[str | None, list[LintIssue]]:
    out: dict[str | None, list[LintIssue]] = {}
    for i in issues:
        out.setdefault(i.rule_id, []).append(i)
    return out


def where(i: LintIssue) -> tuple[str, int]:
    assert i.location is not None
    return Path(i.location.path).name, i.location.line


def test_shipped_packs_are_clean():
    assert [str(i) for i in lint_rules()] == []


def test_schema_errors_name_file_line_and_hint():
    issues = lint_rules(FILES / "ruleset_with_errors")
    errors = by_rule([i for i in issues if i.severity == "error"])
    typo = errors["typo.key"][0]
    assert where(typo) == ("pack.yml", 20) and "unles" in typo.message and "unless" in typo.hint
    cat = errors["bad.category"][0]
    assert where(cat) == ("pack.yml", 24) and "虚假违法互联网广告" in cat.hint
    lst = errors["missing.list"][0]
    assert where(lst) == ("pack.yml", 36) and "lists/brands.txt" in lst.hint
    when = errors["bad.when"][0]
    assert where(when) == ("pack.yml", 44) and "prise" in when.message and "price" in when.hint
    pin = errors["bad.pinyin"][0]
    assert where(pin) == ("pack.yml", 52) and "full" in pin.hint
    syntax = errors[None][0]
    assert where(syntax) == ("zz-syntax.yml", 5) and syntax.code == "rule-syntax"  # where the quote opened
    assert "ok.rule" not in errors  # the good rule loads


def test_duplicate_ids_point_at_both_places():
    dup = [i for i in lint_rules(FILES / "ruleset_duplicate") if i.code == "duplicate-rule"]
    assert len(dup) == 1 and where(dup[0]) == ("b.yml", 4) and "a.yml:4" in dup[0].message


def test_terms_that_can_never_match():
    issues = by_rule(lint_rules(FILES / "ruleset_never_match"))
    codes = {rid: {i.code for i in found} for rid, found in issues.items()}
    assert "term-inside-unless" in codes["dead.unless"]
    dead = next(i for i in issues["dead.unless"] if i.code == "term-inside-unless")
    assert "'最近'" in dead.message and dead.severity == "high" and where(dead) == ("pack.yml", 10)
    assert "最佳" not in dead.message  # the other term is fine
    assert "term-inside-unless" in codes["dead.unless-within"]  # 不可退 always has 可退 at distance 0
    assert "term-blocked-by-none" in codes["dead.none"]
    assert "words-on-latin-term" in codes["useless.words"]
    regex = [i for i in issues["dead.regex"] if i.code.startswith("regex-")]
    assert [(i.code, i.severity, where(i)) for i in regex] == [("regex-never-matches", "high", ("pack.yml", 46)),
                                                               ("regex-ascii-word", "medium", ("pack.yml", 46))]
    assert "RMB" in regex[0].message and "(?i)" not in regex[0].message  # (?i) ignores case: it can match
    assert "\\w" in regex[1].message and "\\p{Han}" in regex[1].hint
    style = {i.code: i for i in issues["style.terms"]}
    assert style["term-not-normalised"].severity == "low" and "pinyin-short-initials" in style
    assert "duplicate-term" in style


def test_reference_price_table_errors():
    errors = [i for i in lint_rules(FILES / "ruleset_bad_prices") if i.severity == "error"]
    assert [(where(i), i.code) for i in errors] == [
        (("reference_prices.yml", 5), "rule-value"), (("reference_prices.yml", 6), "rule-value"),
        (("reference_prices.yml", 7), "rule-schema")]
    assert "prodcut" in errors[2].message


def test_validators_register_themselves_by_class_name():
    assert {"term-inside-unless", "term-blocked-by-none", "regex-never-matches", "category-coverage"} <= set(VALIDATORS)

    class NoteRequired(RuleValidator):
        severity = "low"

        def validate(self, rule):
            return [] if rule.note else [self.issue(rule, "no note")]

    try:
        assert VALIDATORS["note-required"] is NoteRequired
        issues = lint_rules(FILES / "ruleset_duplicate", codes=["note-required"])
        assert {(i.code, i.rule_id) for i in issues} >= {("note-required", "same.id")}
    finally:
        del VALIDATORS["note-required"]


def test_lint_command_exit_codes_and_json():
    runner = CliRunner()
    ok = runner.invoke(rules, ["lint"])
    assert ok.exit_code == 0, ok.output
    assert "0 error, 0 high" in ok.output
    bad = runner.invoke(rules, ["lint", str(FILES / "ruleset_never_match"), "--min-severity", "high"])
    assert bad.exit_code == 1
    assert "pack.yml:10:15: high term-inside-unless: [dead.unless] " in bad.output
    assert "few-examples" not in bad.output  # hidden below --min-severity
    out = runner.invoke(rules, ["lint", str(FILES / "ruleset_with_errors"), "--json"])
    data = json.loads(out.output)
    assert out.exit_code == 1
    typo = next(d for d in data if d["rule_id"] == "typo.key")
    assert typo["severity"] == "error" and typo["location"]["line"] == 20


def test_rules_test_command_reports_load_errors_readably(tmp_path):
    res = CliRunner().invoke(rules, ["test", "--rules-dir", str(FILES / "ruleset_duplicate")])
    assert res.exit_code == 2
    assert "b.yml:4" in res.output and "rules lint" in res.output
