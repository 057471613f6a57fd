"""Other spellings of rule terms: pinyin and initials (opt-in), digit tricks in latin words.

**Pinyin** (``pinyin: true`` on a term group): 高仿 also matches ``gaofang``, ``gao fang`` and the
initials ``gf``; 精仿 matches ``jingfang`` and ``jf``. Variants are latin, so they only match as
whole latin words ("gf" does not fire inside "gfx"). ``pinyin: full`` gives only the full
spellings, ``pinyin: initials`` only the initials. Initials are made only for terms of two or
more Chinese characters and nothing else (a mixed term like A货 gets ``ahuo`` but no initials).

**Digit tricks** (always on): a latin word with digits in it (``n1ke``, ``r0lex``, ``ch4nel``) is
compared with the latin terms of the rules by a *skeleton* where 0=o, 1=l=i, 3=e, 4=a, 5=s,
7=t. Only words that mix letters and digits are looked at (one C-speed regex finds them), the
term must have three or more letters, and the word must differ from the term: ``iphone15``
stays a model name, ``n1ke`` is reported as ``数字替换: n1ke→nike``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipelines.match.model import Variant

PINYIN_MODES = {"true": "both", "yes": "both", "both": "both", "full": "full", "initials": "initials",
                "false": "", "no": ""}
NOTE_PINYIN = "拼音变体"
NOTE_INITIALS = "拼音首字母"
NOTE_DIGITS = "数字/形近字替换"

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ALL_CJK_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+$")
_LATIN_TERM_RE = re.compile(r"^[a-z]{3,}$")


def pinyin_variants(term: str, mode: str) -> list[Variant]:
    """Latin spellings of a (normalised) term: full pinyin joined and spaced, and/or initials."""
    if not mode or not _CJK_RE.search(term):
        return []
    from pypinyin import Style, lazy_pinyin

    syllables = [s.strip() for s in lazy_pinyin(term) if s.strip()]
    out: list[Variant] = []
    if mode in ("both", "full"):
        joined = "".join(syllables)
        if joined.isascii() and len(joined) >= 3:
            out.append(Variant(joined, term, "pinyin"))
            if len(syllables) > 1:
                out.append(Variant(" ".join(syllables), term, "pinyin"))
    if mode in ("both", "initials") and _ALL_CJK_RE.match(term) and len(term) >= 2:
        initials = "".join(lazy_pinyin(term, style=Style.FIRST_LETTER))
        if initials.isascii() and initials.isalpha():
            out.append(Variant(initials, term, "initials"))
    return out


def variant_note(v: Variant, found: str) -> str:
    return f"{NOTE_INITIALS if v.how == 'initials' else NOTE_PINYIN}: {found}→{v.term}"


# ---------------------------------------------------------------- digit tricks

SKELETON = str.maketrans({"0": "o", "1": "l", "i": "l", "3": "e", "4": "a", "5": "s", "7": "t"})
#: a latin word (letters and digits) where a letter touches one of the trick digits
_MIXED_RE = re.compile(r"[013457](?:(?<=[a-z][013457])|(?=[a-z]))")  # starts with a class: fast to skip
_WORD_END_RE = re.compile(r"[a-z0-9]*")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


class DigitTricks:
    """Finds latin words that are a term with digits for letters; ``scan(text)`` -> [(term index, start, end)]."""

    __slots__ = ("_table",)

    def __init__(self, terms: Iterable[str]) -> None:
        self._table: dict[str, int] = {}
        for i, t in enumerate(terms):
            if _LATIN_TERM_RE.match(t):
                self._table.setdefault(t.translate(SKELETON), i)

    def __bool__(self) -> bool:
        return bool(self._table)

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        if not self._table:
            return []
        out = []
        end = -1
        # each trick digit touching a letter lies in a mixed word, widened from there to the whole
        # latin word: one C-speed scan for such digits instead of a word regex tried at every position
        for m in _MIXED_RE.finditer(text):
            p = m.start()
            if p < end:
                continue  # a word already looked at
            start = p
            while start and text[start - 1] in _WORD_CHARS:
                start -= 1
            end = _WORD_END_RE.match(text, p).end()  # type: ignore[union-attr]
            word = text[start:end]
            i = self._table.get(word.translate(SKELETON))
            if i is not None and sum(c.isalpha() for c in word) >= 2:
                out.append((i, start, end))
        return out
