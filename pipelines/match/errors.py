"""Rule-pack problems, each with the file, line and column an analyst has to open.

They are :class:`netsword.yamlsource.SourceError` s, like the problems of site profiles and campaign plans.
"""

from __future__ import annotations

from netsword.yamlsource import SourceError, SourceLocation

#: Where a rule, term or value was written (file, line, column): the one location type of netsword.
RuleLocation = SourceLocation


class RuleError(SourceError):
    """Root of every rule-pack problem. ``str(err)`` is ``file:line:col: [rule] message`` and the hint below."""

    def __init__(self, message: str, location: RuleLocation | None = None, hint: str = "",
                 rule_id: str | None = None) -> None:
        super().__init__(message, location, hint)
        self.rule_id = rule_id

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        rule = f"[{self.rule_id}] " if self.rule_id else ""
        hint = f"\n  提示/hint: {self.hint}" if self.hint else ""
        return f"{where}{rule}{self.message}{hint}"


class RuleSyntaxError(RuleError):
    """The YAML file cannot be read (indentation, quotes, tabs ...). Raised by the loader."""


class RuleSchemaError(RuleError):
    """A key is unknown, missing, or has the wrong kind of value (list vs text vs mapping)."""


class RuleValueError(RuleError):
    """A value is not allowed: unknown category, severity, field, status, check or applies_to."""


class RuleRegexError(RuleValueError):
    """A ``regex:`` pattern is refused: bad syntax, or what RE2 cannot run (safely) in linear time."""


class RuleListError(RuleError):
    """An ``@lists/...`` reference points to a missing or empty term list."""


class RuleExpressionError(RuleError):
    """A ``when:`` expression cannot be parsed or uses a name that does not exist."""


class DuplicateRuleError(RuleError):
    """Two rules (in any packs) share one id."""


# ---------------------------------------------------------------- compiled rules
