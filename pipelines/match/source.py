"""YAML with line numbers for rule packs and reference tables (the shared loader, rule errors).

:func:`parse_yaml` is :func:`netsword.yamlsource.parse_yaml` raising :class:`RuleSyntaxError` and
:class:`RuleSchemaError`, so a broken pack names file, line and column like any rule problem.
"""

from __future__ import annotations

from typing import Any

from netsword.yamlsource import YList, YMap
from netsword.yamlsource import parse_yaml as _parse_yaml
from pipelines.match.errors import RuleSchemaError, RuleSyntaxError

__all__ = ["YList", "YMap", "parse_yaml"]


def parse_yaml(text: str, path: str) -> Any:
    """Parse one rule-pack YAML document into YMap/YList/scalars."""
    return _parse_yaml(text, path, syntax_error=RuleSyntaxError, schema_error=RuleSchemaError)
