"""Read rule packs (``rules/*.yml`` + ``rules/lists/*.txt``) into :mod:`pipelines.match.model` objects.

Rules are written by analysts, so every problem is reported with the file, the line and a
hint in Chinese and English (``RuleError`` subclasses). ``load_packs(dir, collect_errors=True)``
keeps going after an error and returns every problem (``netsword rules lint``, see
:mod:`pipelines.match.lint`, adds checks on the loaded rules); the rules that had errors are left out.
Term groups keep every term as written with its file and line (``TermSource``), and groups that
say ``pinyin: true|full|initials`` get their pinyin / initials variants (:mod:`pipelines.match.variants`).

The format is documented in ``rules/README.md``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.items import CATEGORIES, SEVERITIES, TEXT_FIELDS, ListingItem, ShopItem
from pipelines.match.checks import CHECKS
from pipelines.match.errors import (
    DuplicateRuleError,
    RuleError,
    RuleExpressionError,
    RuleListError,
    RuleLocation,
    RuleRegexError,
    RuleSchemaError,
    RuleValueError,
)
from pipelines.match.model import (
    Example,
    Near,
    Pack,
    Rule,
    Scope,
    TermGroup,
    TermSource,
    Unless,
    Variant,
)
from pipelines.match.regexes import RegexRefused, RulePattern, compile_rule_pattern
from pipelines.match.source import YList, YMap, parse_yaml
from pipelines.match.variants import PINYIN_MODES, lookalike_variants, pinyin_variants
from pipelines.match.when import Predicate, WhenError, parse_when
from pipelines.normalize import normalize_text, strip_separators

PACK_KEYS = ("pack", "version", "title", "rules")
RULE_KEYS = ("id", "title", "category", "severity", "basis", "applies_to", "fields", "status", "scope", "any",
             "all", "near", "regex", "unless", "none", "words", "when", "check", "yields_to", "disguised", "negation",
             "tests", "note")
REQUIRED_RULE_KEYS = ("id", "title", "category", "severity", "basis", "applies_to")
STATUSES = ("stable", "test")
#: the negation cues ``negation: true`` reads (rules/lists/negation.txt)
NEGATION_LIST = "@lists/negation.txt"
#: the cues that follow what they negate ("与烟草无关"); optional
NEGATION_AFTER_LIST = "@lists/negation_after.txt"
#: keys a positive term group (any, all, near.a, near.b) may have in its mapping form
POSITIVE_KEYS = ("terms", "pinyin")
#: fields a rule looks in when it does not say ``fields:``
#: what a rule may apply to (``applies_to``: one of them, or a list)
SUBJECT_KINDS: tuple[str, ...] = ("listing", "shop")
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "listing": ("title", "description", "promo", "service"),
    "shop": ("name", "description", "service", "notices"),
}
ITEM_CLASSES = {"listing": ListingItem, "shop": ShopItem}
#: item fields an example may set (besides ``text``)
EXAMPLE_FIELDS: dict[str, frozenset[str]] = {
    kind: frozenset(f.name for f in dataclasses.fields(cls)
                    if f.name not in ("kind", "findings", "norm", "tokens", "attributes"))
    for kind, cls in ITEM_CLASSES.items()
}
_RULE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


# ---------------------------------------------------------------- loader


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return f"是否想写 / did you mean '{close[0]}'?" if close else ""


class _Loader:
    def __init__(self, rules_dir: Path, collect_errors: bool) -> None:
        self.dir = rules_dir
        self.collect = collect_errors
        self.errors: list[RuleError] = []
        self._lists: dict[str, list[str]] = {}
        self.path = ""
        self.rule_id: str | None = None

    # -- helpers

    def fail(self, cls: type[RuleError], msg: str, loc: RuleLocation | None, hint: str = "") -> RuleError:
        return cls(msg, loc, hint, rule_id=self.rule_id)

    def expect(self, value: Any, kind: type | tuple[type, ...], what: str, loc: RuleLocation | None,
               example: str) -> None:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kinds):
            names = {str: "文字 text", int: "整数 integer", list: "列表 list", dict: "映射 mapping"}
            want = " / ".join(names.get(k, k.__name__) for k in kinds)
            raise self.fail(RuleSchemaError, f"'{what}' 应为 {want}，实际是 {type(value).__name__} / "
                            f"'{what}' must be {want}", loc, f"例如 / for example: {example}")

    def check_keys(self, m: YMap, allowed: tuple[str, ...], what: str) -> None:
        for key in m:
            if key not in allowed:
                loc = m.key_loc.get(key, m.loc)
                loc = RuleLocation(loc.path, loc.line) if loc else None
                hint = _suggest(key, allowed) or f"{what} 可用的键 / allowed keys: {', '.join(allowed)}"
                raise self.fail(RuleSchemaError, f"未知的键 '{key}' / unknown key '{key}' in {what}", loc, hint)

    def list_file(self, ref: str, loc: RuleLocation | None) -> list[tuple[str, RuleLocation]]:
        """Terms of an ``@lists/...`` file, each with its file and line."""
        rel = ref[1:].strip()
        if rel in self._lists:
            return self._lists[rel]
        path = (self.dir / rel).resolve()
        if not path.is_relative_to(self.dir.resolve()):
            raise self.fail(RuleListError, f"词表路径越出 rules 目录 / list path leaves the rules folder: {ref}", loc)
        if not path.is_file():
            have = sorted(str(p.relative_to(self.dir)) for p in (self.dir / "lists").glob("*.txt"))
            raise self.fail(RuleListError, f"找不到词表 / term list not found: {ref}", loc,
                            _suggest(rel, have) or f"现有词表 / lists: {', '.join(have) or '(none)'}")
        terms: list[tuple[str, RuleLocation]] = []
        shown = str(self.dir / rel)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
            if line and not line.startswith("#"):
                terms.append((line, RuleLocation(shown, n)))
        if not terms:
            raise self.fail(RuleListError, f"词表为空 / term list is empty: {ref}", loc)
        self._lists[rel] = terms
        return terms

    def terms(self, value: Any, what: str, loc: RuleLocation | None, allow_keys: tuple[str, ...] = ("terms",)
              ) -> tuple[TermGroup, YMap | None]:
        """A term group: a list of terms or ``{terms: [...]}``; ``@lists/x.txt`` entries expand.

        ``pinyin`` in ``allow_keys`` lets the mapping form opt into pinyin / initials variants.
        """
        opts = None
        if isinstance(value, YMap):
            self.check_keys(value, allow_keys, what)
            if "terms" not in value:
                raise self.fail(RuleSchemaError, f"'{what}' 缺少 'terms' / '{what}' needs 'terms'", value.loc,
                                f"例如 / for example: {what}: {{terms: [高仿, A货]}}")
            opts, loc, value = value, value.key_loc["terms"], value["terms"]
        if isinstance(value, str):
            value = [value]  # a single term or list reference
            raw: list[str | None] = [None]
            locs = [loc]
        else:
            self.expect(value, list, what, loc, f"{what}: [高仿, A货, \"@lists/brands.txt\"]")
            raw, locs = value.raw, value.item_loc
        sources: list[TermSource] = []
        for i, t in enumerate(value):
            tloc = locs[i] if i < len(locs) else loc
            if not isinstance(t, str):
                if raw[i] is None:
                    raise self.fail(RuleSchemaError, f"'{what}' 的每一项应为文字 / each term in '{what}' must be text",
                                    tloc, "把词写成一行一个的列表 / write terms as a flat list")
                t = raw[i]  # e.g. 1:1 read as a number by YAML: keep it as written
            words = self.list_file(t, tloc) if t.startswith("@") else [(t, tloc)]
            for w, wloc in words:
                key = strip_separators(normalize_text(w)).text
                if not key:
                    raise self.fail(RuleValueError, f"'{what}' 含空词 / empty term in '{what}': {w!r}", wloc)
                sources.append(TermSource(w, key, wloc))
        if not sources:
            raise self.fail(RuleSchemaError, f"'{what}' 没有任何词 / '{what}' has no terms", loc)
        terms = tuple(dict.fromkeys(src.term for src in sources))
        mode = self.pinyin_mode(opts, what) if opts is not None and "pinyin" in opts else ""
        variants: list[Variant] = []
        have = set(terms)
        for t in terms:
            for v in (pinyin_variants(t, mode) if mode else []) + lookalike_variants(t):
                if v.text not in have:
                    have.add(v.text)
                    variants.append(v)
        return TermGroup(terms, loc, tuple(sources), tuple(variants), mode), opts

    def pinyin_mode(self, opts: YMap, what: str) -> str:
        v = opts["pinyin"]
        key = str(v).lower() if isinstance(v, bool | str) else None
        if key not in PINYIN_MODES:
            raise self.fail(RuleValueError, f"'{what}.pinyin' 的值 {v!r} 不可用 / not a valid pinyin option",
                            opts.key_loc["pinyin"],
                            "可选 / one of: true（全拼+首字母）, full（全拼）, initials（首字母）, false")
        return PINYIN_MODES[key]

    def int_value(self, m: YMap, key: str, what: str, minimum: int = 0) -> int:
        v = m[key]
        self.expect(v, int, f"{what}.{key}", m.key_loc[key], f"{key}: 10")
        if v < minimum:
            raise self.fail(RuleValueError, f"'{what}.{key}' 不能小于 {minimum} / must be >= {minimum}",
                            m.key_loc[key])
        return v

    def text(self, r: YMap, key: str, default: str | None = None) -> str:
        if key not in r:
            if default is not None:
                return default
            raise self.fail(RuleSchemaError, f"缺少必填键 '{key}' / missing required key '{key}'", r.loc,
                            f"每条规则都要写 / every rule needs: {', '.join(REQUIRED_RULE_KEYS)}")
        v = r[key]
        if isinstance(v, int | float) and not isinstance(v, bool):
            v = r.raw.get(key, str(v))
        self.expect(v, str, key, r.key_loc[key], f"{key}: ...")
        if not v.strip():
            raise self.fail(RuleValueError, f"'{key}' 不能为空 / '{key}' must not be empty", r.key_loc[key])
        return v.strip()

    def choice(self, r: YMap, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        v = self.text(r, key, default)
        if v not in choices:
            raise self.fail(RuleValueError, f"'{key}' 的值 '{v}' 不可用 / '{v}' is not a valid {key}",
                            r.key_loc.get(key, r.loc), _suggest(v, choices) or f"可选 / one of: {', '.join(choices)}")
        return v

    # -- rules

    def rule(self, r: Any, loc: RuleLocation, pack: Pack) -> list[Rule]:
        """The rule at ``r``: one :class:`Rule` per subject kind it applies to (``applies_to: [listing, shop]``
        gives two, with the same id, each with the fields, scope and examples of its kind)."""
        self.rule_id = None
        self.expect(r, dict, "rules[]", loc, "- id: ad.absolute-terms")
        rid = self.text(r, "id")
        if not _RULE_ID_RE.match(rid):
            raise self.fail(RuleValueError, f"规则 id '{rid}' 只能用小写字母、数字和 . - _ / "
                            "rule ids use a-z 0-9 . - _", r.key_loc["id"], "例如 / for example: ad.absolute-terms")
        self.rule_id = rid
        self.check_keys(r, RULE_KEYS, f"rule {rid}")
        title = self.text(r, "title")
        category = self.choice(r, "category", CATEGORIES)
        severity = self.choice(r, "severity", SEVERITIES)
        basis = self.text(r, "basis")
        kinds = self.kinds(r)
        status = self.choice(r, "status", STATUSES, "stable")
        note = self.text(r, "note", "")
        given_fields: tuple[str, ...] | None = None
        if "fields" in r:
            allowed = tuple(dict.fromkeys(f for k in kinds for f in TEXT_FIELDS[k]))
            given_fields = tuple(self.field_list(r["fields"], r.key_loc["fields"], "fields", allowed, "/".join(kinds)))
        examples = self.examples(r["tests"], r.key_loc["tests"], kinds) if "tests" in r else {}
        meta = {"id": rid, "title": title, "category": category, "severity": severity, "basis": basis,
                "pack": pack.name, "version": pack.version, "status": status, "note": note,
                "location": RuleLocation(loc.path, loc.line)}
        return [self.rule_of_kind(r, kind, given_fields, meta, examples.get(kind, ())) for kind in kinds]

    def kinds(self, r: YMap) -> tuple[str, ...]:
        """``applies_to``: a subject kind, or a list of them."""
        if "applies_to" not in r:
            self.text(r, "applies_to")  # raises: a required key
        value = r["applies_to"]
        if isinstance(value, str):
            return (self.choice(r, "applies_to", SUBJECT_KINDS),)
        self.expect(value, list, "applies_to", r.key_loc["applies_to"], "applies_to: listing  # 或 [listing, shop]")
        kinds = self.field_list(value, r.key_loc["applies_to"], "applies_to", SUBJECT_KINDS, "applies_to")
        if len(set(kinds)) != len(kinds):
            raise self.fail(RuleValueError, "applies_to 里有重复的类型 / a kind is listed twice in applies_to",
                            r.key_loc["applies_to"], "applies_to: [listing, shop]")
        return tuple(kinds)

    def rule_of_kind(self, r: YMap, kind: str, given_fields: tuple[str, ...] | None, meta: dict[str, Any],
                     examples: tuple[Example, ...]) -> Rule:
        fields = DEFAULT_FIELDS[kind]
        if given_fields is not None:
            fields = tuple(f for f in given_fields if f in TEXT_FIELDS[kind])
            if not fields:
                raise self.fail(RuleValueError, f"fields 里没有 {kind} 的字段 / fields name no {kind} field",
                                r.key_loc["fields"], f"{kind} 的字段 / {kind} fields: {', '.join(TEXT_FIELDS[kind])}")

        scope = self.scope(r["scope"], r.key_loc["scope"], kind) if "scope" in r else None
        any_ = self.terms(r["any"], "any", r.key_loc["any"], POSITIVE_KEYS)[0] if "any" in r else None
        all_ = self.all_groups(r["all"], r.key_loc["all"]) if "all" in r else ()
        near = self.near(r["near"], r.key_loc["near"], kind, fields) if "near" in r else None
        regex = self.regexes(r["regex"], r.key_loc["regex"]) if "regex" in r else ()
        unless = None
        if "unless" in r:
            group, opts = self.terms(r["unless"], "unless", r.key_loc["unless"], ("terms", "within"))
            within = self.int_value(opts, "within", "unless") if opts is not None and "within" in opts else None
            unless = Unless(group, within)
        none = self.terms(r["none"], "none", r.key_loc["none"])[0] if "none" in r else None
        when = self.when(r["when"], r.key_loc["when"], kind) if "when" in r else None
        check = None
        if "check" in r:
            check = self.choice(r, "check", tuple(CHECKS))
            if CHECKS[check].kind != kind:
                raise self.fail(RuleValueError, f"检查 '{check}' 只适用于 {CHECKS[check].kind} / check '{check}' "
                                f"applies to {CHECKS[check].kind} only", r.key_loc["check"],
                                f"把 applies_to 改为 {CHECKS[check].kind} / set applies_to: {CHECKS[check].kind}")
        yields_to: tuple[str, ...] = ()
        if "yields_to" in r:
            yields_to = tuple(self.field_list(r["yields_to"], r.key_loc["yields_to"], "yields_to",
                                              tuple(c for c in CATEGORIES if c != meta["category"]), "yields_to"))
        disguised = False
        if "disguised" in r:
            self.expect(r["disguised"], bool, "disguised", r.key_loc["disguised"], "disguised: true")
            disguised = r["disguised"]
            if disguised and not (any_ or all_ or near):
                raise self.fail(RuleValueError, "disguised 需要 any/all/near 的词 / disguised needs terms",
                                r.key_loc["disguised"], "disguised 只看词的写法 / it looks at how terms were written")
        negation = negation_after = None
        if "negation" in r:
            loc = r.key_loc["negation"]
            self.expect(r["negation"], bool, "negation", loc, "negation: true")
            if r["negation"]:
                if not (any_ or all_ or near):
                    raise self.fail(RuleValueError, "negation 需要 any/all/near 的词 / negation needs terms", loc,
                                    "negation 只看命中词前面有没有否定词 / it looks at what precedes a term hit")
                negation = self.terms(NEGATION_LIST, "negation", loc)[0]
                if (self.dir / NEGATION_AFTER_LIST[1:]).is_file():
                    negation_after = self.terms(NEGATION_AFTER_LIST, "negation", loc)[0]
        if not (any_ or all_ or near or regex or when or check):
            raise self.fail(RuleSchemaError, "规则没有任何命中条件 / the rule has nothing to match", r.loc,
                            "至少写一个 / give at least one of: any, all, near, regex, when, check")
        words: frozenset[str] = frozenset()
        if "words" in r:
            group = self.terms(r["words"], "words", r.key_loc["words"])[0]
            used = set(any_.terms if any_ else ()) | {t for g in all_ for t in g.terms}
            if near:
                used |= set(near.a.terms) | set(near.b.terms)
            missing = [t for t in group.terms if t not in used]
            if missing:
                raise self.fail(RuleValueError, f"words 中的词不在 any/all/near 里 / words not used in any/all/near: "
                                f"{', '.join(missing)}", r.key_loc["words"],
                                "words 只标记哪些命中词必须是完整的词 / words marks which terms must be whole words")
            words = frozenset(group.terms)

        return Rule(**meta, applies_to=kind, fields=fields, any=any_, all=all_, near=near, regex=regex, unless=unless,
                    none=none, words=words, when=when, check=check, scope=scope, yields_to=yields_to,
                    disguised=disguised, negation=negation, negation_after=negation_after,
                    examples=examples)

    def field_list(self, value: Any, loc: RuleLocation, what: str, allowed: tuple[str, ...], kind: str) -> list[str]:
        if isinstance(value, str):
            value = [value]
        else:
            self.expect(value, list, what, loc, f"{what}: [{', '.join(allowed[:3])}]")
        out = []
        for i, f in enumerate(value):
            floc = value.item_loc[i] if isinstance(value, YList) else loc
            if f not in allowed:
                if what == "applies_to":
                    raise self.fail(RuleValueError, f"'{f}' 不是可用的 applies_to / '{f}' is not a valid applies_to",
                                    floc, _suggest(f, allowed) or f"可选 / one of: {', '.join(allowed)}")
                if what == "yields_to":
                    raise self.fail(RuleValueError, f"yields_to 里的 '{f}' 不是另一个违法类别 / '{f}' is not "
                                    "another category of the statistics form", floc,
                                    _suggest(f, allowed) or f"可选 / one of: {', '.join(allowed)}")
                raise self.fail(RuleValueError, f"{kind} 没有字段 '{f}' / {kind} has no text field '{f}'", floc,
                                _suggest(f, allowed) or f"可用字段 / fields: {', '.join(allowed)}")
            out.append(f)
        if not out:
            raise self.fail(RuleValueError, f"'{what}' 为空 / '{what}' is empty", loc)
        return out

    def scope(self, value: Any, loc: RuleLocation, kind: str) -> Scope:
        self.expect(value, dict, "scope", loc, "scope: {category_in: [食品, 保健]}")
        self.check_keys(value, ("category_in", "terms", "fields", "unless"), "scope")
        cats: tuple[str, ...] = ()
        if "category_in" in value:
            if kind != "listing":
                raise self.fail(RuleValueError, "category_in 只用于 listing / category_in is for listings only",
                                value.key_loc["category_in"], "店铺请用 scope.terms / for shops use scope.terms")
            cats = self.terms(value["category_in"], "scope.category_in", value.key_loc["category_in"])[0].terms
        terms = self.terms(value["terms"], "scope.terms", value.key_loc["terms"])[0] if "terms" in value else None
        fields: tuple[str, ...] = TEXT_FIELDS[kind]
        if "fields" in value:
            fields = tuple(self.field_list(value["fields"], value.key_loc["fields"], "scope.fields",
                                           TEXT_FIELDS[kind], kind))
        if not cats and not terms:
            raise self.fail(RuleSchemaError, "scope 需要 category_in 或 terms / scope needs category_in or terms", loc)
        unless = None
        if "unless" in value:
            if not terms:
                raise self.fail(RuleSchemaError, "scope.unless 需要 scope.terms / scope.unless needs scope.terms",
                                value.key_loc["unless"], "例如 / for example: scope: {terms: [咖啡], unless: [咖啡色]}")
            unless = self.terms(value["unless"], "scope.unless", value.key_loc["unless"])[0]
        return Scope(cats, terms, fields, unless)

    def all_groups(self, value: Any, loc: RuleLocation) -> tuple[TermGroup, ...]:
        if isinstance(value, YMap):  # all: {terms: [a, b]} -> every term must hit
            group = self.terms(value, "all", loc, POSITIVE_KEYS)[0]
            return tuple(TermGroup((t,), group.location, tuple(s for s in group.sources if s.term == t),
                                   tuple(v for v in group.variants if v.term == t), group.pinyin)
                         for t in group.terms)
        self.expect(value, list, "all", loc, "all: [[高仿, A货], [\"@lists/brands.txt\"]]")
        groups = []
        for i, g in enumerate(value):
            gloc = value.item_loc[i]
            if isinstance(g, str) and not g.startswith("@"):
                g = YList([g])
                g.loc, g.item_loc, g.raw = gloc, [gloc], [value.raw[i]]
            elif isinstance(g, str):
                g = YList([g])
                g.loc, g.item_loc, g.raw = gloc, [gloc], [None]
            groups.append(self.terms(g, f"all[{i}]", gloc, POSITIVE_KEYS)[0])
        if not groups:
            raise self.fail(RuleSchemaError, "'all' 为空 / 'all' is empty", loc)
        return tuple(groups)

    def near(self, value: Any, loc: RuleLocation, kind: str, fields: tuple[str, ...]) -> Near:
        self.expect(value, dict, "near", loc, "near: {a: [\"@lists/brands.txt\"], b: [高仿], within: 10}")
        self.check_keys(value, ("a", "b", "within", "title"), "near")
        for k in ("a", "b", "within"):
            if k not in value:
                raise self.fail(RuleSchemaError, f"near 缺少 '{k}' / near needs '{k}'", loc,
                                "例如 / for example: near: {a: [\"@lists/brands.txt\"], b: [高仿], within: 10}")
        a = self.terms(value["a"], "near.a", value.key_loc["a"], POSITIVE_KEYS)[0]
        b = self.terms(value["b"], "near.b", value.key_loc["b"], POSITIVE_KEYS)[0]
        title_field = None
        if "title" in value:
            self.expect(value["title"], bool, "near.title", value.key_loc["title"], "title: true")
            if value["title"]:
                title_field = TEXT_FIELDS[kind][0]
                if title_field not in fields:
                    raise self.fail(RuleValueError, f"near.title 需要 fields 里有 {title_field} / near.title needs "
                                    f"'{title_field}' in fields", value.key_loc["title"],
                                    f"把 {title_field} 加进 fields / add {title_field} to fields")
        return Near(a, b, self.int_value(value, "within", "near"), title_field)

    def regexes(self, value: Any, loc: RuleLocation) -> tuple[RulePattern, ...]:
        """RE2 programs (:mod:`pipelines.match.regexes`); a pattern RE2 cannot run safely is a RuleRegexError."""
        if isinstance(value, str):
            value = YList([value])
            value.item_loc = [loc]
        self.expect(value, list, "regex", loc, "regex: ['原价\\d+']")
        out = []
        for i, p in enumerate(value):
            ploc = value.item_loc[i]
            self.expect(p, str, "regex[]", ploc, "regex: ['原价\\d+']")
            try:
                out.append(compile_rule_pattern(p, ploc))
            except RegexRefused as exc:
                raise self.fail(RuleRegexError, exc.message, ploc, exc.hint) from None
        return tuple(out)

    def when(self, value: Any, loc: RuleLocation, kind: str) -> Predicate:
        self.expect(value, str, "when", loc, "when: \"original_price >= 5 * price\"")
        try:
            return parse_when(value, _suggest)
        except WhenError as exc:
            raise self.fail(RuleExpressionError, exc.message, loc, exc.hint) from None

    def examples(self, value: Any, loc: RuleLocation, kinds: tuple[str, ...]) -> dict[str, tuple[Example, ...]]:
        """The examples per subject kind. A text is an example of the first kind; a mapping one of the first kind
        with all its fields (a shop example of an ``applies_to: [listing, shop]`` rule names ``name`` or
        ``notices``)."""
        self.expect(value, dict, "tests", loc, "tests: {match: [...], no_match: [...]}")
        self.check_keys(value, ("match", "no_match"), "tests")
        out: dict[str, list[Example]] = {k: [] for k in kinds}
        known = frozenset().union(*(EXAMPLE_FIELDS[k] for k in kinds))
        for key, expected in (("match", True), ("no_match", False)):
            if key not in value:
                continue
            items = value[key]
            self.expect(items, list, f"tests.{key}", value.key_loc[key], f"{key}: [\"...\"]")
            for i, ex in enumerate(items):
                eloc = items.item_loc[i]
                if isinstance(ex, YMap):
                    for k in ex:
                        if k != "text" and k not in known:
                            raise self.fail(RuleValueError, f"例子中的未知字段 '{k}' / unknown item field '{k}' in "
                                            "example", ex.key_loc.get(k, eloc), _suggest(k, known | {"text"})
                                            or f"可用 / fields: text, {', '.join(sorted(known))}")
                    keys = set(ex) - {"text"}
                    kind = next((k for k in kinds if keys <= EXAMPLE_FIELDS[k]), None)
                    if kind is None:
                        raise self.fail(RuleValueError, "例子混用了商品和店铺的字段 / the example mixes listing and "
                                        "shop fields", eloc, "商品、店铺的例子分开写 / write one example per kind")
                    out[kind].append(Example(dict(ex), expected, eloc))
                elif isinstance(ex, str):
                    out[kinds[0]].append(Example(ex, expected, eloc))
                elif items.raw[i] is not None:
                    out[kinds[0]].append(Example(items.raw[i], expected, eloc))
                else:
                    raise self.fail(RuleSchemaError, "例子应为文字或字段映射 / an example is a text or a mapping of "
                                    "item fields", eloc)
        return {k: tuple(v) for k, v in out.items()}

    # -- packs

    def pack(self, path: Path) -> Pack | None:
        self.path = str(path)
        self.rule_id = None
        data = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        floc = RuleLocation(str(path), 1)
        if not isinstance(data, YMap):
            raise RuleSchemaError("规则包应以 'pack:' 等键开头 / a rule pack is a mapping with pack, version, rules",
                                  floc, "参见 rules/README.md / see rules/README.md")
        self.check_keys(data, PACK_KEYS, "pack")
        for key in ("pack", "version", "rules"):
            if key not in data:
                raise RuleSchemaError(f"规则包缺少 '{key}' / pack needs '{key}'", data.loc,
                                      "例如 / for example: pack: advertising / version: \"2026.1\" / rules: [...]")
        name = self.text(data, "pack")
        version = self.text(data, "version")
        title = self.text(data, "title", "")
        rules = data["rules"]
        self.expect(rules, list, "rules", data.key_loc["rules"], "rules:\n  - id: ...")
        pack = Pack(name=name, version=version, path=str(path), title=title)
        for i, r in enumerate(rules):
            try:
                pack.rules.extend(self.rule(r, rules.item_loc[i], pack))
            except RuleError as err:
                if not self.collect:
                    raise
                self.errors.append(err)
        return pack

    def guard(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except RuleError as err:
            self.report(err)
            return None

    def report(self, err: RuleError) -> None:
        if not self.collect:
            raise err
        self.errors.append(err)


def load_packs(rules_dir: Path, collect_errors: bool = False) -> tuple[list[Pack], list[RuleError]]:
    """Read every ``*.yml``/``*.yaml`` pack in ``rules_dir`` (sorted by name)."""
    rules_dir = Path(rules_dir)
    if not rules_dir.is_dir():
        err = RuleError(f"规则目录不存在 / rules folder not found: {rules_dir}", RuleLocation(str(rules_dir)),
                        "设置 NETSWORD_RULES_DIR 或传入 rules_dir / set NETSWORD_RULES_DIR or pass rules_dir")
        if collect_errors:
            return [], [err]
        raise err
    loader = _Loader(rules_dir, collect_errors)
    packs: list[Pack] = []
    files = sorted([*rules_dir.glob("*.yml"), *rules_dir.glob("*.yaml")])
    for path in files:
        pack = loader.guard(lambda p=path: loader.pack(p))
        if pack is not None:
            packs.append(pack)
    # ids and pack names unique across packs
    seen_ids: dict[str, Rule] = {}
    seen_packs: dict[str, Pack] = {}
    for pack in packs:
        if pack.name in seen_packs:
            loader.report(DuplicateRuleError(
                f"规则包名 '{pack.name}' 重复 / pack name '{pack.name}' is used twice "
                f"(also in {seen_packs[pack.name].path})", RuleLocation(pack.path, 1)))
        seen_packs.setdefault(pack.name, pack)
        kept = []
        for rule in pack.rules:
            if rule.id in seen_ids and seen_ids[rule.id].location != rule.location:  # twins (one per kind) share it
                loader.report(DuplicateRuleError(
                    f"规则 id '{rule.id}' 重复 / rule id '{rule.id}' is used twice (first at "
                    f"{seen_ids[rule.id].location})", rule.location,
                    "每条规则的 id 必须唯一 / every rule needs its own id", rule_id=rule.id))
                continue
            seen_ids[rule.id] = rule
            kept.append(rule)
        pack.rules = kept
    return packs, loader.errors
