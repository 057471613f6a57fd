"""Rule regexes (``regex:``) on RE2: matching time grows with the text, never with the pattern's shape.

Python's ``re`` backtracks: a nested quantifier such as ``(a+)+$`` against a long listing runs
for minutes, and inside a sweep it holds Scrapy's reactor, so SIGINT and SIGTERM only schedule a
stop that never runs. Rule regexes are compiled with RE2 (Google's engine, through its
``google-re2`` binding), which never backtracks. What RE2 cannot run in linear time it refuses:
lookarounds ``(?=…)`` ``(?!…)`` ``(?<=…)`` ``(?<!…)``, backreferences ``\\1``, possessive and
atomic groups. netsword refuses two more kinds of pattern:

* one that can match empty text (``(优惠)*``): every position would be a match, and finding each
  one may scan the rest of the text again;
* one whose compiled program has more than :data:`MAX_PROGRAM_SIZE` instructions (``.{0,1000}x``):
  when a text makes RE2's DFA run out of memory, its fallback (still linear) costs time in
  proportion to the program size for every byte of text.

:func:`compile_rule_pattern` raises :class:`RegexRefused` with a message and a hint for the rule
author, in Chinese and English; the loader turns it into a ``RuleRegexError`` naming file and line.

Iterating over all matches of a pattern can still cost a full scan per match (``a*b|a`` on
``aaaa…``), so :meth:`RulePattern.spans` gives at most :data:`MAX_CANDIDATES` matches per text:
the engine needs only the first one that no ``unless`` term drops.

RE2's dialect is Python's minus the constructs above, plus ``\\p{Han}`` and friends; ``\\w``,
``\\b``, ``\\d`` and ``\\s`` are ASCII-only (rules/README.md, "正则 / Regular expressions").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import re2

from netsword.yamlsource import SourceLocation

#: Largest compiled program (RE2 instructions, forward or reverse) a rule regex may have.
#: ``.{0,200}x`` has about 1,800, ``\p{Han}{1,20}`` about 1,600, ``原价\d{4,}`` 15. The slowest match we
#: could build on a 100,000-character field (the most a sweep keeps), text made to defeat the DFA:
#: about 0.7 s at 1,800 instructions (``(.{0,200}高)+y``), 3 s at 9,000 (``.{0,1000}x``); 2 cores, loaded.
MAX_PROGRAM_SIZE = 2000
#: Matches looked at per pattern and text (each may cost a scan of the rest of the text).
MAX_CANDIDATES = 20


class RegexRefused(ValueError):
    """A pattern RE2 cannot run, or cannot run safely: ``message`` and ``hint`` are for the rule author."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class RulePattern:
    """One ``regex:`` entry: the pattern as written, where, and its RE2 program."""

    pattern: str
    location: SourceLocation | None = None
    compiled: Any = field(default=None, compare=False, repr=False)

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """(start, end) of the first :data:`MAX_CANDIDATES` matches in ``text``, leftmost first."""
        for m in itertools.islice(self.compiled.finditer(text), MAX_CANDIDATES):
            yield m.start(), m.end()

    def spans_utf8(self, data: bytes) -> Iterator[tuple[int, int]]:
        """:meth:`spans` of a text given as its UTF-8 bytes (encoded once for all patterns), in character
        offsets; empty matches are left out. About 5x cheaper per call than handing RE2 a str."""
        at_byte = at_char = 0
        for m in itertools.islice(self.compiled.finditer(data), MAX_CANDIDATES):
            s, e = m.span()
            if s == e:
                continue
            try:
                start = at_char + len(data[at_byte:s].decode("utf-8"))
                end = start + len(data[s:e].decode("utf-8"))
            except UnicodeDecodeError:  # a span inside a character: cannot happen without \C (refused)
                continue
            at_byte, at_char = e, end
            yield start, end

    def matches_empty(self) -> bool:
        return self.compiled.fullmatch("") is not None


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the loader reports the problem; RE2 would also print it to stderr
    options.never_capture = True  # only the whole match is used: no submatch engines, smaller programs
    return options


_OPTIONS = _options()

# --------------------------------------------------------------------------- what RE2 said, for analysts

_UNLESS_HINT = ("RE2 不支持前后查看。要排除某些语境，用 unless：第一(?!次|代) 写成 any: [第一] 加 "
                "unless: {terms: [第一次, 第一代]}（命中落在例外词里就不算，regex 的命中也一样）；"
                "(?<!不)退款 写成 any: [退款] 加 unless: {terms: [不退款]} / RE2 has no lookarounds; drop "
                "contexts with unless: 第一(?!次|代) becomes any: [第一] with unless: {terms: [第一次, 第一代]}")
_BACKREF_HINT = "把要重复的部分直接写出来，或改用 all: 词组 / write the repeated part out, or use all: term groups"
#: (start of RE2's error text, starts of its argument, what it is in Chinese, in English, hint)
_KNOWN: tuple[tuple[str, tuple[str, ...], str, str, str], ...] = (
    ("invalid perl operator", ("(?=",), "前后查看 (?=…)", "a lookahead (?=…)", _UNLESS_HINT),
    ("invalid perl operator", ("(?!",), "前后查看 (?!…)", "a negative lookahead (?!…)", _UNLESS_HINT),
    ("invalid perl operator", ("(?<=",), "前后查看 (?<=…)", "a lookbehind (?<=…)", _UNLESS_HINT),
    ("invalid perl operator", ("(?<!",), "前后查看 (?<!…)", "a negative lookbehind (?<!…)", _UNLESS_HINT),
    ("invalid perl operator", ("(?P",), "反向引用 (?P=…)", "a backreference (?P=…)", _BACKREF_HINT),
    ("invalid perl operator", ("(?>",), "固化分组 (?>…)", "an atomic group (?>…)",
     "写成普通分组 (?:…)；RE2 本来就不回溯 / write (?:…); RE2 never backtracks anyway"),
    ("invalid perl operator", ("(?",), "(?…) 写法", "this (?…) form",
     "可用的标志只有 (?i) (?s) (?m) (?U)；分组写 (…) 或 (?:…) / flags i s m U only; groups are (…) or (?:…)"),
    ("invalid escape sequence", tuple(f"\\{d}" for d in range(1, 10)), "反向引用 \\1", "a backreference \\1",
     _BACKREF_HINT),
    ("invalid escape sequence", ("\\Z",), "\\Z", "\\Z", "文本结尾写 $ 或 \\z / end of text is $ or \\z"),
    ("invalid escape sequence", ("\\",), "这个转义", "this escape",
     "要找这个字符本身就去掉 \\ / for the character itself, drop the \\"),
    ("bad repetition operator", ("",), "占有量词或连写的量词（++ *+ ?+ **）",
     "a possessive or doubled quantifier (++ *+ ?+ **)",
     "去掉多余的 + 或 *；RE2 本来就不回溯 / drop the extra + or *; RE2 never backtracks anyway"),
    ("invalid repetition size", ("",), "超过 1000 的 {m,n} 上限", "a {m,n} bound over 1000",
     "改小上限，或改用 + / use a smaller bound, or +"),
    ("pattern too large", ("",), "展开后过大的写法", "repetitions that expand too far",
     "改小 {m,n} 的上限，或改用 + / use smaller {m,n} bounds, or +"),
)


def _refusal(pattern: str, error: str) -> RegexRefused:
    code, _, arg = error.partition(": ")
    for known_code, starts, zh, en, hint in _KNOWN:
        if code.startswith(known_code) and arg.startswith(starts):
            return RegexRefused(f"正则 '{pattern}' 用了 RE2 不支持的{zh} / regex '{pattern}' uses {en}, which RE2 "
                                f"cannot run ({error})", hint)
    return RegexRefused(f"正则表达式错误 / bad regular expression '{pattern}': {error}",
                        "正则的写法见 rules/README.md（RE2 语法）/ see rules/README.md for the regex dialect (RE2)")


def _error_text(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else ""
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


_BYTE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\C")


def compile_rule_pattern(pattern: str, location: SourceLocation | None = None) -> RulePattern:
    """``pattern`` compiled with RE2, or :class:`RegexRefused` saying why not and what to write instead."""
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise _refusal(pattern, _error_text(exc)) from None
    size = max(compiled.programsize, compiled.reverseprogramsize)
    if size > MAX_PROGRAM_SIZE:
        raise RegexRefused(f"正则 '{pattern}' 太大（{size} 条指令，上限 {MAX_PROGRAM_SIZE}），在精心构造的长文本上会"
                           f"很慢 / regex '{pattern}' is too large ({size} instructions, at most {MAX_PROGRAM_SIZE}): "
                           "crafted long texts would make it slow",
                           "改小 {m,n} 的上限（.{0,200} 而不是 .{0,1000}），或改用 + / * / use smaller {m,n} "
                           "bounds (.{0,200}, not .{0,1000}), or + / *")
    if _BYTE_ESCAPE.search(pattern):
        raise RegexRefused(f"正则 '{pattern}' 用了 \\C：它匹配单个字节，会把汉字切开 / regex '{pattern}' uses \\C, "
                           "which matches one byte and can split a character", "任意一个字写 . / any character is .")
    rule_pattern = RulePattern(pattern, location, compiled)
    if rule_pattern.matches_empty():
        raise RegexRefused(f"正则 '{pattern}' 能匹配空文本，每个位置都会算一次匹配 / regex '{pattern}' matches "
                           "empty text: every position would be a match",
                           "把 * 改成 +，或去掉可有可无的部分 / use + instead of *, or drop the optional parts")
    return rule_pattern


# --------------------------------------------------------------------------- for lint: RE2 spelt as Python

_RE2_ONLY = re.compile(r"\\\\|\\[pP](?:\{[^}]*\}|[A-Za-z])|\\[zC]|\(\?<(?=[A-Za-z_])")


def python_spelling(pattern: str) -> str:
    """``pattern`` with RE2-only syntax replaced so that Python's parser reads it (for lint checks only):
    Unicode classes become ``.``, ``\\z`` becomes ``\\Z``, ``(?<name>`` becomes ``(?P<name>``."""

    def swap(m: re.Match[str]) -> str:
        s = m.group()
        if s == "\\\\":
            return s
        if s == "\\z":
            return "\\Z"
        if s.startswith("(?<"):
            return "(?P<"
        return "."

    return _RE2_ONLY.sub(swap, pattern)


_ASCII_WORD = re.compile(r"\\\\|\\[wWbB]")


def ascii_word_escapes(pattern: str) -> list[str]:
    r"""The ``\w \W \b \B`` in ``pattern`` (ASCII-only in RE2: Chinese characters are not word characters)."""
    return sorted({m.group() for m in _ASCII_WORD.finditer(pattern) if m.group() != "\\\\"})
