"""Other spellings of rule terms: pinyin and initials (opt-in), digit tricks in latin words.

**Pinyin** (``pinyin: true`` on a term group): 高仿 also matches ``gaofang``, ``gao fang`` and the
initials ``gf``; 精仿 matches ``jingfang`` and ``jf``. Variants are latin, so they only match as
whole latin words ("gf" does not fire inside "gfx"). ``pinyin: full`` gives only the full
spellings, ``pinyin: initials`` only the initials. Initials are made only for terms of two or
more Chinese characters and nothing else (a mixed term like A货 gets ``ahuo`` but no initials).

**Pinyin and hanzi mixed** (with ``pinyin: true`` or ``full``): a term of 2-4 Chinese characters also
matches every mix of its characters and their pinyin (``gao仿``, ``高fang``, ``jing仿``); the latin
part must start or end a latin word like any latin term.

**Digit and letter tricks** (always on): a latin word with digits in it (``n1ke``, ``r0lex``, ``ch4nel``),
or with an ``l`` written for an ``i`` (``nlke``, ``adldas``: NlKE with a small L for the capital i), is
compared with the single-word latin terms of the rules by a *skeleton* where 0=o, 1=l=i, 3=e, 4=a,
5=s, 7=t. Only words with a trick digit touching a letter, or with an ``l``, are looked at (one
C-speed regex finds them); the term must have three or more letters, and the word must differ
from the term: ``iphone15`` stays a model name, ``n1ke`` is reported as ``数字/形近字替换: n1ke→nike``.
A word of three letters and no digit counts only with an l where the term has an i (``djl`` for
dji; not ``isd`` for lsd). Latin terms of several words get their l-for-i spellings as automaton
keys instead (:func:`lookalike_variants`).
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
#: longest all-hanzi term given every mix of pinyin and hanzi (2**n - 2 spellings; longer ones get n)
MIXED_MAX = 4
#: a latin term of more than one word (louis vuitton, kiehl's, off-white), four letters or more in all
_LATIN_PHRASE_RE = re.compile(r"^(?=(?:[a-z][ '&.-]?){4})[a-z]+(?:[ '&.-]+[a-z]+)+$")


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
        out += _mixed(term, syllables)
    if mode in ("both", "initials") and _ALL_CJK_RE.match(term) and len(term) >= 2:
        initials = "".join(lazy_pinyin(term, style=Style.FIRST_LETTER))
        if initials.isascii() and initials.isalpha():
            out.append(Variant(initials, term, "initials"))
    return out


def _mixed(term: str, syllables: list[str]) -> list[Variant]:
    """Pinyin and hanzi mixed (gao仿, 高fang, jing仿): every way to write some characters of a 2-4
    character term in pinyin and the others as they are (2 to 14 spellings); for longer terms (up to
    8 characters) one character in pinyin (跟zheng品一样)."""
    n = len(term)
    if not (2 <= n <= 8 and _ALL_CJK_RE.match(term) and len(syllables) == n
            and all(p.isascii() and p.isalpha() for p in syllables)):
        return []
    masks = range(1, (1 << n) - 1) if n <= MIXED_MAX else (1 << i for i in range(n))
    return [Variant("".join(syllables[i] if mask >> i & 1 else term[i] for i in range(n)), term, "pinyin")
            for mask in masks]


def lookalike_variants(term: str) -> list[Variant]:
    """A latin term of several words with an l written for an i (``louls vuitton``, ``klehl's``):
    each i once, and all of them. Single words are compared by skeleton instead (:class:`DigitTricks`)."""
    if not _LATIN_PHRASE_RE.match(term) or "i" not in term:
        return []
    spots = [k for k, c in enumerate(term) if c == "i"]
    texts = [term[:k] + "l" + term[k + 1:] for k in spots]
    if len(spots) > 1:
        texts.append(term.replace("i", "l"))
    return [Variant(t, term, "lookalike") for t in texts]


def variant_note(v: Variant, found: str) -> str:
    note = {"initials": NOTE_INITIALS, "lookalike": NOTE_DIGITS}.get(v.how, NOTE_PINYIN)
    return f"{note}: {found}→{v.term}"


# ---------------------------------------------------------------- digit tricks

SKELETON = str.maketrans({"0": "o", "1": "l", "i": "l", "3": "e", "4": "a", "5": "s", "7": "t"})
#: a latin word (letters and digits) with an l, or where a letter touches one of the trick digits
_MIXED_RE = re.compile(r"l|[013457](?:(?<=[a-z][013457])|(?=[a-z]))")  # starts with a class: fast to skip
_DIGITS = frozenset("0123456789")
_WORD_END_RE = re.compile(r"[a-z0-9]*")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


class DigitTricks:
    """Finds latin words that are a term with digits or l for letters: ``scan(text)`` -> [(term, start, end)]."""

    __slots__ = ("_table", "_terms")

    def __init__(self, terms: Iterable[str]) -> None:
        self._table: dict[str, int] = {}
        self._terms: dict[int, str] = {}
        for i, t in enumerate(terms):
            if _LATIN_TERM_RE.match(t):
                self._table.setdefault(t.translate(SKELETON), i)
                self._terms[i] = t

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
            if i is None or word == self._terms[i]:  # the term itself: the automaton finds it
                continue
            if _DIGITS.isdisjoint(word) and len(word) < 4 and any(
                    a != b and (a, b) != ("l", "i") for a, b in zip(word, self._terms[i], strict=True)):
                continue  # a 3-letter word of letters only: only an l for an i (djl), not isd for lsd
            if sum(c.isalpha() for c in word) >= 2:
                out.append((i, start, end))
        return out
