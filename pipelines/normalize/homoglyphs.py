"""Look-alike characters sellers put into brand names and slang to dodge keyword filters.

:func:`fold_homoglyphs` is one step of :func:`pipelines.normalize.normalize_text` (after NFKC,
before lower-casing, so capital and small Greek letters can be read the way they look):

* tone-marked pinyin vowels lose their tones (``gāo fǎng`` -> ``gao fang``, ü -> v as pypinyin writes it);
* Cyrillic and Greek letters inside a latin word become the latin letters they imitate
  (``Guссi`` with Cyrillic ``с`` -> ``Gucci``, ``ΝΙΚΕ`` in Greek capitals -> ``NIKE``). A word is
  folded only if it also has latin letters, or if every letter in it has a latin twin, so
  Russian words and ``β-胡萝卜素`` / ``α-亚麻酸`` stay as they are;
* dingbat digits NFKC leaves alone (``❶ ➀ ➊ ⓵``) become digits, and the ratio colon
  ``∶`` (U+2236) becomes ``:`` (``1∶1复刻`` -> ``1:1复刻``).

Digit tricks inside latin words (``n1ke``, ``g0cci``) cannot be undone in the text (``a7``,
``x1``, ``g502`` are model numbers); :mod:`pipelines.match.variants` compares such words with
the latin terms of the rules instead.
"""

from __future__ import annotations

import re

#: Cyrillic letters with a latin twin (capital and small).
CYRILLIC: dict[str, str] = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԛ": "Q", "Ԝ": "W",
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
    "ь": "b", "г": "r", "п": "n", "ё": "e", "Ё": "E",
}
#: Greek letters with a latin twin (capitals by their shape; small letters by theirs).
GREEK: dict[str, str] = {
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ϲ": "c", "ϳ": "j",
}
#: Pinyin with tone marks (``gāo fǎng``): the vowels without their tones, ü as v (pypinyin's spelling,
#: the one rules' pinyin variants use: 女 -> nv).
PINYIN_TONES: dict[str, str] = {
    **dict.fromkeys("āáǎà", "a"), **dict.fromkeys("ēéěè", "e"), **dict.fromkeys("īíǐì", "i"),
    **dict.fromkeys("ōóǒò", "o"), **dict.fromkeys("ūúǔù", "u"), **dict.fromkeys("ǖǘǚǜü", "v"),
    **dict.fromkeys("ńňǹ", "n"), "ḿ": "m",
    **dict.fromkeys("ĀÁǍÀ", "A"), **dict.fromkeys("ĒÉĚÈ", "E"), **dict.fromkeys("ĪÍǏÌ", "I"),
    **dict.fromkeys("ŌÓǑÒ", "O"), **dict.fromkeys("ŪÚǓÙ", "U"), **dict.fromkeys("ǕǗǙǛÜ", "V"),
}
LETTERS: dict[str, str] = {**CYRILLIC, **GREEK, **PINYIN_TONES}

#: Characters folded wherever they stand (NFKC keeps them).
SYMBOLS: dict[str, str] = {"∶": ":", "꞉": ":", "⓿": "0"}
for _first, _n in ((0x2776, 10), (0x2780, 10), (0x278A, 10), (0x24F5, 10)):  # ❶ ➀ ➊ ⓵ ... 10
    for _i in range(_n):
        SYMBOLS[chr(_first + _i)] = str(_i + 1)
for _i in range(10):  # ⓫ ... ⓴ = 11 ... 20
    SYMBOLS[chr(0x24EB + _i)] = str(_i + 11)

_ANY_RE = re.compile("[" + "".join(sorted(set(LETTERS) | set(SYMBOLS))) + "]")
_SYMBOL_RE = re.compile("[" + "".join(sorted(SYMBOLS)) + "]")
#: a word: latin, Greek and Cyrillic letters (digits inside are kept in the word: "n1кe")
_WORD_RE = re.compile(r"[A-Za-z0-9\u0370-\u03ff\u0400-\u052f" + "".join(PINYIN_TONES) + "]+")
_LATIN_RE = re.compile("[A-Za-z]")
_LETTER_TABLE = str.maketrans(LETTERS)


def _fold_word(m: re.Match[str]) -> str:
    w = m.group()
    if w.isascii():
        return w
    letters = [c for c in w if c.isalpha()]
    if _LATIN_RE.search(w) or (len(letters) >= 2 and all(c in LETTERS or c.isascii() for c in letters)):
        return w.translate(_LETTER_TABLE)
    return w


def fold_homoglyphs(s: str) -> str:
    """``s`` with look-alike letters in latin words and dingbat digits replaced (see module doc)."""
    if not _ANY_RE.search(s):
        return s
    if _SYMBOL_RE.search(s):
        s = _SYMBOL_RE.sub(lambda m: SYMBOLS[m.group()], s)
    return _WORD_RE.sub(_fold_word, s)
