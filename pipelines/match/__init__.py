"""The match stage: the rule engine. Rule packs (``rules/*.yml``) in, Findings out.

    from pipelines.match import RuleSet
    ruleset = RuleSet.load()                  # every pack in the configured rules dir
    ruleset.match(item)                       # pure: Findings, the item is not changed
    ruleset.match_many(items)                 # the same for many items, batched (rescan, explain --jsonl)
    explain(ruleset, "高仿LV包包 1:1复刻")     # what would fire on this text
    [r for r in run_examples(ruleset) if not r.ok]

Modules: :mod:`.engine` (RuleSet: compile and match), :mod:`.pipeline` (the Scrapy stage),
:mod:`.model` (typed rules), :mod:`.errors` (RuleError and its subclasses, each with a
RuleLocation), :mod:`.source` (YAML with line numbers), :mod:`.loader` (packs -> rules),
:mod:`.variants` (pinyin, initials, digits for letters), :mod:`.automaton` (Aho-Corasick),
:mod:`.prices` (reference prices), :mod:`.regexes` (``regex:`` on RE2), :mod:`.context` (an item's text
and numbers), :mod:`.when`
(the whole safe ``when:`` language), :mod:`.checks` (named checks), :mod:`.identifiers` (USCC and licence check digits),
:mod:`.explain` (analyst tools), :mod:`.lint` (rule validators), :mod:`.rescan` (stored pages
with new rules), :mod:`.commands` (``netsword rules`` and ``netsword rescan``).
Only the names below are the package's public face.
"""

from __future__ import annotations

from netsword.config import rules_dir as default_rules_dir

from .engine import RuleSet
from .errors import (
    DuplicateRuleError,
    RuleError,
    RuleExpressionError,
    RuleListError,
    RuleLocation,
    RuleRegexError,
    RuleSchemaError,
    RuleSyntaxError,
    RuleValueError,
)
from .explain import ExampleResult, explain, explain_item, explain_items, item_for_explain, run_examples
from .identifiers import USCC_CHARSET, food_license_kind, org_code_check_char, uscc_check_char, uscc_is_valid
from .lint import LintIssue, lint_rules
from .loader import load_packs
from .model import Pack, Rule
from .pipeline import MatchPipeline

#: ``lint(rules_dir)``: every validator's issues for the packs in ``rules_dir`` (see :mod:`.lint`).
lint = lint_rules

__all__ = [
    "USCC_CHARSET",
    "DuplicateRuleError",
    "ExampleResult",
    "LintIssue",
    "MatchPipeline",
    "Pack",
    "Rule",
    "RuleError",
    "RuleExpressionError",
    "RuleListError",
    "RuleLocation",
    "RuleRegexError",
    "RuleSchemaError",
    "RuleSet",
    "RuleSyntaxError",
    "RuleValueError",
    "default_rules_dir",
    "explain",
    "explain_item",
    "explain_items",
    "food_license_kind",
    "item_for_explain",
    "lint",
    "lint_rules",
    "load_packs",
    "org_code_check_char",
    "run_examples",
    "uscc_check_char",
    "uscc_is_valid",
]
