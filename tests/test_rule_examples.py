"""Every example (``tests: match / no_match``) of every rule pack, one test per rule.

A failure names the rule, the file and line of the example, the text, and what matched.
"""

from __future__ import annotations

import pytest

from pipelines.match import RuleSet

RULES = RuleSet.load()
RESULTS: dict[str, list] = {}
for _r in RULES.run_examples():
    RESULTS.setdefault(_r.rule_id, []).append(_r)


@pytest.mark.parametrize("rule_id", list(RULES.by_id))
def test_rule_examples(rule_id):
    results = RESULTS.get(rule_id, [])
    failures = [str(r) for r in results if not r.ok]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("rule_id", list(RULES.by_id))
def test_rule_has_enough_examples(rule_id):
    """Two or more examples each way, so every rule shows what it catches and what it leaves alone."""
    results = RESULTS.get(rule_id, [])
    positive = sum(r.expected for r in results)
    negative = sum(not r.expected for r in results)
    assert positive >= 2 and negative >= 2, f"{rule_id}: {positive} match / {negative} no_match examples"


def test_packs_load_without_errors():
    assert RuleSet.load(collect_errors=True).errors == []
