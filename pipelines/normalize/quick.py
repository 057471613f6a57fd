"""The quick path of :func:`pipelines.normalize.normalize_text` (see :class:`QuickNormalizer`).

``normalize_text`` runs five steps (zero-width removal, NFKC, look-alike folding, traditional ->
simplified, lower-casing and whitespace), each a scan of the text. Most listing text needs only
NFKC of full-width punctuation and digits, lower-casing of latin capitals and whitespace
collapsing: this module does that in about one scan and tells the caller when the full path is
needed instead. Tests compare it with the full path on random text.
"""

from __future__ import annotations

import re
import unicodedata

_ASTRAL = "\U00010000-\U0010ffff"
# what the quick path has seen so far (bit flags)
_UPPER = 1  # a character lower-casing changes
_SPACE = 2  # whitespace other than " "


def char_class(chars: set[str]) -> str:
    """Regex class of ``chars`` as merged ranges: a long flat class is slow to search."""
    spans: list[list[int]] = []
    for o in sorted(map(ord, chars)):
        if spans and spans[-1][1] == o - 1:
            spans[-1][1] = o
        else:
            spans.append([o, o])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in spans)


class QuickNormalizer:
    """One C-speed pass for what each normalisation step would change, and the fixes where that is easy.

    Most listing text is simplified Chinese, ASCII and full-width punctuation: no step but NFKC
    (full-width -> ASCII), lower-casing and whitespace collapsing changes it. :meth:`normalize`
    finds the characters to fix with a regex, replaces each distinct one with ``str.replace`` (its
    NFKC form, when that is ASCII), notes whether lower-casing or collapsing will be needed, and
    skips the zero-width, look-alike and traditional steps and their scans. A character one of
    those steps would change, or whose NFKC form is not ASCII, sends the text down the full path.
    Exact: the skipped steps change nothing without their characters, and the result is checked to
    be in NFKC (combining marks and the like fall back).
    """

    def __init__(self, hard: frozenset[str]) -> None:
        self._hard = hard  # characters a step other than NFKC, lower-casing and whitespace changes
        #: character -> its NFKC form if ASCII (itself if unchanged), or None: the full path.
        #: Every BMP character NFKC changes or the full path needs; astral ones are added when first met.
        self.fixes: dict[str, str | None] = {}
        upper, spaces = set(), set()
        for i in range(0x10000):
            c = chr(i)
            if 0xD800 <= i < 0xE000:
                continue
            fix = self._fix(c)
            if fix != c:
                self.fixes[c] = fix
            if c.lower() != c:
                upper.add(c)
            if c.isspace() and c != " ":
                spaces.add(c)
        self.upper, self.spaces = frozenset(upper), frozenset(spaces)
        #: flags a fix brings along (an upper-case or space character in its NFKC form)
        self.fix_flags = {c: self._flags(f) for c, f in self.fixes.items() if f and self._flags(f)}
        # one pattern per flags seen so far: the fixes, and upper-case / other space characters until
        # one of them is seen. Astral characters are one range (a long list of them outside the BMP
        # bitmap would be tried one by one on every character); see normalize().
        fix, up, sp = char_class(set(self.fixes)) + _ASTRAL, char_class(upper), char_class(spaces)
        self.patterns = [re.compile(f"[{fix}{'' if f & _UPPER else up}{'' if f & _SPACE else sp}]") for f in range(4)]
        #: characters that may send a text down the full path (the astral ones are decided when met)
        self.hard = re.compile(f"[{char_class({c for c, f in self.fixes.items() if f is None})}{_ASTRAL}]")

    def _fix(self, c: str) -> str | None:
        """What ``c`` becomes (itself if nothing), or None when only the full path can tell."""
        if c in self._hard:
            return None
        n = unicodedata.normalize("NFKC", c)
        return n if n == c or n.isascii() else None

    def _flags(self, text: str) -> int:
        return (_UPPER if any(c in self.upper for c in text) else 0) | (
            _SPACE if any(c in self.spaces for c in text) else 0)

    def normalize(self, s: str) -> tuple[str, bool, bool] | None:
        """NFKC and lower-casing of non-ASCII ``s``: (text, NFKC changed it, whitespace other than " "
        is left), or None when the full path is needed. Whitespace is not collapsed yet, so ``s`` may be
        several texts joined by NUL (which no step changes or merges with a neighbour)."""
        out, pos, nfkc, seen = s, 0, False, 0
        fixes = self.fixes
        search = self.patterns[0].search
        while (m := search(out, pos)) is not None:
            c = m.group()
            fix = fixes[c] if c in fixes else (self._astral(c) if c > "\uffff" else c)
            if fix is None:
                return None
            if fix != c:  # every c is replaced at once, none was before pos, fixes are ASCII: go on after it
                out = out.replace(c, fix)
                pos = m.start() + len(fix)
                nfkc = True
                flags = self.fix_flags.get(c, 0)
            else:  # upper case, other space, or an astral character (then lower-case, a no-op if none is upper)
                pos = m.end()
                flags = _UPPER if c in self.upper or c > "\uffff" else _SPACE
            if flags & ~seen:
                seen |= flags
                search = self.patterns[seen].search
        if not unicodedata.is_normalized("NFKC", out):
            return None  # combining marks, Hangul jamo ...: the real algorithm
        if seen & _UPPER:
            out = out.lower()
        return out, nfkc, bool(seen & _SPACE)

    def _astral(self, c: str) -> str | None:
        """``_fix`` of an astral character, remembered (with its flags) on first sight."""
        fix = self._fix(c)
        if fix and fix != c and self._flags(fix):
            self.fix_flags[c] = self._flags(fix)
        self.fixes[c] = fix  # last: another thread that finds it here finds its flags too
        return fix
