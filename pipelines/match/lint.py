"""``netsword rules lint``: every load error of the packs, plus checks for rules that cannot work.

Load errors (YAML syntax, unknown keys, missing keys, wrong values, duplicate ids, missing
lists, bad ``when:``, a ``regex:`` RE2 cannot run safely) come from
:func:`pipelines.match.loader.load_packs` with ``collect_errors=True`` and have severity ``error``.
Then small validators look at each loaded rule (``validate``) and at all of them together
(``finalize``) and return :class:`LintIssue` objects with a severity:

* ``high``: part of the rule can never match (a term always inside an ``unless`` term or
  blocked by a ``none`` term, a regex with capital letters ...);
* ``medium``: it works but will misfire or mislead (two-letter initials firing on their own,
  ``\\w`` or ``\\b`` in a regex, which RE2 reads as ASCII-only);
* ``low``: worth tidying (a term written in another form than it is matched in, duplicates,
  too few examples, a category without rules).

A validator is a subclass of :class:`RuleValidator`; subclasses register themselves under a
code made from the class name (``TermInsideUnless`` -> ``term-inside-unless``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from crawler.items import CATEGORIES
from pipelines.match.errors import RuleError, RuleLocation
from pipelines.match.model import Rule, TermGroup
from pipelines.match.regexes import ascii_word_escapes, python_spelling
from pipelines.normalize import normalize_text

LINT_SEVERITIES = ("error", "high", "medium", "low")


@dataclass
class LintIssue:
    code: str
    severity: str  # error | high | medium | low
    message: str
    location: RuleLocation | None = None
    rule_id: str | None = None
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        rule = f"[{self.rule_id}] " if self.rule_id else ""
        hint = f"\n  提示/hint: {self.hint}" if self.hint else ""
        return f"{where}{self.severity} {self.code}: {rule}{self.message}{hint}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        loc = self.location
        d["location"] = None if loc is None else {"path": loc.path, "line": loc.line, "column": loc.column}
        return d

    @classmethod
    def from_error(cls, err: RuleError) -> LintIssue:
        code = re.sub(r"(?<!^)(?=[A-Z])", "-", type(err).__name__).lower().removesuffix("-error") or "rule"
        return cls(code, "error", err.message, err.location, err.rule_id, err.hint)


VALIDATORS: dict[str, type[RuleValidator]] = {}


class RuleValidator:
    """One lint check. Override ``validate(rule)`` and/or ``finalize(rules)``."""

    code: ClassVar[str] = ""
    severity: ClassVar[str] = "medium"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()
        VALIDATORS[cls.code] = cls

    def validate(self, rule: Rule) -> list[LintIssue]:
        return []

    def finalize(self, rules: list[Rule]) -> list[LintIssue]:
        return []

    def issue(self, rule: Rule | None, message: str, location: RuleLocation | None = None, hint: str = "",
              severity: str | None = None) -> LintIssue:
        loc = location or (rule.location if rule else None)
        return LintIssue(self.code, severity or self.severity, message, loc, rule.id if rule else None, hint)


def positive_groups(rule: Rule) -> list[tuple[str, TermGroup]]:
    """The groups whose hits make a rule fire: any, all[i], near.a, near.b."""
    out: list[tuple[str, TermGroup]] = []
    if rule.any:
        out.append(("any", rule.any))
    out += [(f"all[{i}]", g) for i, g in enumerate(rule.all)]
    if rule.near:
        out += [("near.a", rule.near.a), ("near.b", rule.near.b)]
    return out


def _sources(group: TermGroup) -> Iterable[tuple[str, str, RuleLocation | None]]:
    """(written, term, location) per term; groups built without sources give their terms."""
    if group.sources:
        for s in group.sources:
            yield s.written, s.term, s.location or group.location
    else:
        for t in group.terms:
            yield t, t, group.location


# ---------------------------------------------------------------- validators: terms


class TermInsideUnless(RuleValidator):
    """A term whose every hit is dropped by ``unless`` can never make the rule fire."""

    severity = "high"

    def validate(self, rule: Rule) -> list[LintIssue]:
        if not rule.unless:
            return []
        within = rule.unless.within
        out = []
        for what, group in positive_groups(rule):
            for written, term, loc in _sources(group):
                for u in rule.unless.terms.terms:
                    if (within is None and u == term) or (within is not None and u in term):
                        how = "就是" if u == term else "包含"
                        out.append(self.issue(rule, f"{what} 的词 '{written}' {how}例外词 '{u}'，永远不会命中 / "
                                              f"term '{written}' always lies inside unless term '{u}': it can "
                                              "never match", loc, "删去这个词，或把例外词写得更具体 / drop the term "
                                              "or make the unless term more specific"))
                        break
        return out


class TermBlockedByNone(RuleValidator):
    """A ``none`` term inside a positive term blocks the rule whenever that term is there."""

    severity = "high"

    def validate(self, rule: Rule) -> list[LintIssue]:
        if not rule.none:
            return []
        out = []
        for what, group in positive_groups(rule):
            for written, term, loc in _sources(group):
                blocker = next((n for n in rule.none.terms if n in term), None)
                if blocker is not None:
                    out.append(self.issue(rule, f"{what} 的词 '{written}' 含 none 词 '{blocker}'：它一出现规则就被"
                                          f"否决，永远不会因它触发 / term '{written}' contains none term "
                                          f"'{blocker}': the rule can never fire through it", loc,
                                          "删去其中一个 / remove one of the two"))
        return out


class TermNotNormalised(RuleValidator):
    """A term written in another form than it is matched in (full-width, traditional, spaced ...)."""

    severity = "low"

    def validate(self, rule: Rule) -> list[LintIssue]:
        out = []
        for what, group in self._groups(rule):
            for written, term, loc in _sources(group):
                if term not in (written, written.lower(), written.strip().lower()):
                    out.append(self.issue(rule, f"{what} 的词 '{written}' 实际按 '{term}' 匹配（规范化后）/ term "
                                          f"'{written}' is matched as '{term}' after normalisation", loc,
                                          f"直接写成 '{term}'，免得以为两种写法不同 / write it as '{term}'"))
        return out

    @staticmethod
    def _groups(rule: Rule) -> list[tuple[str, TermGroup]]:
        groups = positive_groups(rule)
        if rule.unless:
            groups.append(("unless", rule.unless.terms))
        if rule.none:
            groups.append(("none", rule.none))
        if rule.scope and rule.scope.terms:
            groups.append(("scope.terms", rule.scope.terms))
        return groups


class DuplicateTerm(RuleValidator):
    """The same term twice in one group (often two spellings that normalise alike)."""

    severity = "low"

    def validate(self, rule: Rule) -> list[LintIssue]:
        out = []
        for what, group in TermNotNormalised._groups(rule):
            seen: dict[str, str] = {}
            for written, term, loc in _sources(group):
                if term in seen:
                    out.append(self.issue(rule, f"{what} 中 '{written}' 与 '{seen[term]}' 重复（都按 '{term}' 匹配）/ "
                                          f"'{written}' duplicates '{seen[term]}' in {what}", loc,
                                          "删去一个 / keep one"))
                else:
                    seen[term] = written
        return out


class UnlessNeverApplies(RuleValidator):
    """An ``unless`` term (without ``within``) that contains no positive term can never drop a hit."""

    severity = "low"

    def validate(self, rule: Rule) -> list[LintIssue]:
        if not rule.unless or rule.unless.within is not None or rule.regex:
            return []
        terms = {t for _, g in positive_groups(rule) for t in g.terms}
        out = []
        for written, term, loc in _sources(rule.unless.terms):
            if not any(t in term for t in terms):
                out.append(self.issue(rule, f"例外词 '{written}' 不包含任何命中词，不会排除任何命中 / unless term "
                                      f"'{written}' contains none of the rule's terms: it never drops a hit", loc,
                                      "例外词要把命中词包在里面（'最近' 包含 '最'），或加 within / an unless term "
                                      "must contain a term ('最近' contains '最'), or give 'within'"))
        return out


class WordsOnLatinTerm(RuleValidator):
    """``words`` asks jieba about Chinese word boundaries; latin terms are whole latin words anyway."""

    severity = "low"

    def validate(self, rule: Rule) -> list[LintIssue]:
        latin = sorted(t for t in rule.words if t.isascii())
        if not latin:
            return []
        return [self.issue(rule, f"words 中的 {', '.join(latin)} 是拉丁字母词，本来就只按完整单词匹配，words 对它"
                           f"无效 / {', '.join(latin)} are latin terms, always matched as whole words", None,
                           "从 words 里去掉 / remove them from words")]


class PinyinShortInitials(RuleValidator):
    """Two-letter initials (gf) that fire on their own are common latin words and abbreviations."""

    severity = "medium"

    def validate(self, rule: Rule) -> list[LintIssue]:
        if not rule.any or not rule.any.variants or rule.all or rule.near:
            return []
        short = sorted({v.text for v in rule.any.variants if v.how == "initials" and len(v.text) <= 2})
        if not short:
            return []
        return [self.issue(rule, f"any 中的拼音首字母 {', '.join(short)} 只有两个字母，单独命中容易误报 / two-letter "
                           f"initials {', '.join(short)} fire on their own", rule.any.location,
                           "改用 pinyin: full，或把首字母放在与品牌词同用的 all/near 里 / use pinyin: full, or "
                           "use initials only in all/near with brand terms")]


# ---------------------------------------------------------------- validators: regexes
# (patterns RE2 cannot run safely never load: the loader refuses them, see pipelines.match.regexes)


def _regex_literals(pattern: str) -> tuple[list[str], bool]:
    """Literal characters of a pattern (outside classes and case-insensitive parts), and whether the
    whole pattern ignores case; ([], False) if Python's parser cannot read it."""
    try:
        from re import _parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python < 3.11
        return [], False
    out: list[str] = []

    def walk(items: Any) -> None:
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                out.append(chr(arg))
            elif name in ("SUBPATTERN",):
                if not arg[1] & re.IGNORECASE:  # (?i:...) adds the flag to its group only
                    walk(arg[-1])
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                walk(arg[2])
            elif name == "BRANCH":
                for branch in arg[1]:
                    walk(branch)

    try:
        parsed = _parser.parse(python_spelling(pattern))
        walk(parsed)
    except Exception:  # RE2 syntax Python does not read: no literal check
        return [], False
    return out, bool(parsed.state.flags & re.IGNORECASE)


class RegexNeverMatches(RuleValidator):
    """Regexes see normalised text: capitals, full-width or traditional characters never occur in it."""

    severity = "high"

    def validate(self, rule: Rule) -> list[LintIssue]:
        out = []
        for p in rule.regex:
            literals, ignore_case = _regex_literals(p.pattern)
            if ignore_case:
                continue
            bad = sorted({c for c in literals if normalize_text(c) not in (c, "")})
            if bad:
                fixed = "".join(normalize_text(c) or c for c in bad)
                out.append(self.issue(rule, f"正则 '{p.pattern}' 含规范化文本里不会出现的字符 {' '.join(bad)}，"
                                      f"永远不会命中 / regex '{p.pattern}' has characters normalised text never "
                                      f"contains: {' '.join(bad)}", p.location,
                                      f"正则匹配的是小写、简体、半角文本：改写为 {fixed} / regexes see lower-case, "
                                      f"simplified, half-width text: write {fixed}"))
        return out


class RegexAsciiWord(RuleValidator):
    """In RE2, ``\\w \\W \\b \\B`` know ASCII letters, digits and _ only: a Chinese character is no word character."""

    severity = "medium"

    def validate(self, rule: Rule) -> list[LintIssue]:
        out = []
        for p in rule.regex:
            found = ascii_word_escapes(p.pattern)
            if found:
                out.append(self.issue(rule, f"正则 '{p.pattern}' 里的 {' '.join(found)} 只认 ASCII 字母、数字和 _，"
                                      f"汉字不算 / in regex '{p.pattern}', {' '.join(found)} know ASCII letters, "
                                      "digits and _ only: Chinese characters do not count", p.location,
                                      "汉字写 \\p{Han}，任何文字和数字写 [\\p{L}\\p{N}_] / for Chinese characters "
                                      "write \\p{Han}; for any letter or digit [\\p{L}\\p{N}_]"))
        return out


# ---------------------------------------------------------------- validators: rule metadata


class FewExamples(RuleValidator):
    """Each rule should show two texts it catches and two lawful look-alikes it leaves alone."""

    severity = "low"

    def finalize(self, rules: list[Rule]) -> list[LintIssue]:
        # a rule for listings and shops is loaded once per kind: its examples are those of all kinds
        examples: dict[str, list[Any]] = {}
        first: dict[str, Rule] = {}
        for rule in rules:
            examples.setdefault(rule.id, []).extend(rule.examples)
            first.setdefault(rule.id, rule)
        return [i for rid, ex in examples.items() for i in self.judge(first[rid], ex)]

    def judge(self, rule: Rule, examples: list[Any]) -> list[LintIssue]:
        pos = sum(e.expected for e in examples)
        neg = len(examples) - pos
        if pos >= 2 and neg >= 2:
            return []
        return [self.issue(rule, f"例子不够：{pos} 个 match，{neg} 个 no_match / too few examples: {pos} match, "
                           f"{neg} no_match", None, "各写至少 2 个；no_match 用合法的近似说法 / give 2+ of each; "
                           "take no_match from lawful look-alikes")]


class BasisWithoutLaw(RuleValidator):
    """The legal basis should name a law or regulation in 《》 and an article."""

    severity = "low"

    def validate(self, rule: Rule) -> list[LintIssue]:
        if "《" in rule.basis and "条" in rule.basis:
            return []
        return [self.issue(rule, f"法律依据未写明法规名称和条款 / basis names no law and article: {rule.basis}", None,
                           "例如 / for example: 《广告法》第九条第（三）项")]


class CategoryCoverage(RuleValidator):
    """Every row of the statistics form should have at least one stable rule."""

    severity = "low"

    def finalize(self, rules: list[Rule]) -> list[LintIssue]:
        have = {r.category for r in rules if r.status == "stable"}
        missing = [c for c in CATEGORIES if c not in have]
        if not missing:
            return []
        return [self.issue(None, f"统计表类别没有正式规则 / categories without a stable rule: {', '.join(missing)}",
                           None, "至少写一条 status: stable 的规则 / add a stable rule")]


# ---------------------------------------------------------------- running


def lint_rules(rules_dir: Path | str | None = None, codes: Iterable[str] | None = None) -> list[LintIssue]:
    """Load errors plus every validator's issues for the packs in ``rules_dir``, worst first by file."""
    from pipelines.match.engine import RuleSet

    rs = RuleSet.load(rules_dir, collect_errors=True)
    issues = [LintIssue.from_error(e) for e in rs.errors]
    wanted = set(codes) if codes is not None else set(VALIDATORS)
    validators = [cls() for code, cls in VALIDATORS.items() if code in wanted]
    for v in validators:
        for rule in rs.rules:
            issues.extend(v.validate(rule))
        issues.extend(v.finalize(rs.rules))
    # a rule for listings and shops is checked once per kind: the same issue of both is said once
    issues = list({(i.code, i.message, str(i.location), i.rule_id): i for i in issues}.values())
    rank = {s: i for i, s in enumerate(LINT_SEVERITIES)}
    issues.sort(key=lambda i: (rank.get(i.severity, 9), i.location.path if i.location else "",
                               i.location.line if i.location else 0))
    return issues
