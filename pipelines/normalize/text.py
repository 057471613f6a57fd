"""Text clean-up before matching: one normal form for every field a rule looks at.

``normalize_text`` is what rules and texts are compared in:

1. zero-width and other invisible characters removed (U+200B-U+200D, U+2060, U+FEFF, soft
   hyphen, bidi marks),
2. NFKC (full-width -> half-width, compatibility ideographs, circled digits ...),
3. look-alike letters in latin words (Cyrillic ``с`` in ``Guссi``, Greek ``ΝΙΚΕ``) and dingbat
   digits (``❶ ➀``) folded (:mod:`pipelines.normalize.homoglyphs`),
4. traditional -> simplified Chinese (OpenCC ``t2s`` from opencc-purepy, plus a few variant
   characters OpenCC keeps, such as 倣 -> 仿),
5. latin lower-cased, runs of whitespace collapsed to one space.

``deobfuscate_text`` also drops separators that sellers put between Chinese characters to
dodge keyword filters (高 仿, 高*仿, 高-仿, 高.仿 -> 高仿) and says what it did, so a finding
can report it. ``strip_separators`` is the same step with an offset map back to the
normalised text (the matcher reports evidence offsets in the normalised text).

``parse_price`` turns a price as shown into (amount, ISO currency) with price-parser.
``NormalizePipeline`` is the Scrapy item pipeline that fills ``norm``, ``price``,
``original_price``, ``currency`` and ``tokens``.

Speed (one core, ~3 KB listings): most listing text is simplified Chinese, ASCII and full-width
punctuation, which only NFKC (to ASCII), lower-casing and whitespace change; it takes a quick
path (:mod:`pipelines.normalize.quick`: one C-speed scan, one ``str.replace`` per distinct
character to fix), about 200 MB/s. A text with a zero-width, look-alike or traditional character (or whose NFKC
form is not ASCII) takes every step in turn, about 90 MB/s: OpenCC in pure Python converts only
about 6 MB/s, so it runs only where a text has a traditional-only character (a C-speed regex
test), and on long texts only in windows around those characters; NFKC is applied character by
character (exact for everything but combining marks, which fall back to ``unicodedata.normalize``).
``normalize_many`` takes an item's fields in one pass; short texts (category, service, price
texts repeat across listings) and prices are cached per process (:func:`clear_caches`). jieba
(``tokens``) is the slow part, ~1 MB/s.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pipelines.normalize.homoglyphs import LETTERS, SYMBOLS, fold_homoglyphs
from pipelines.normalize.quick import QuickNormalizer, char_class

log = logging.getLogger(__name__)

# Notes reported to analysts (Chinese first: the console is Chinese).
NOTE_ZERO_WIDTH = "去除零宽字符"
NOTE_NFKC = "全角/兼容字符转换"
NOTE_HOMOGLYPH = "形近字母/数字符号转换"
NOTE_T2S = "繁体转简体"
NOTE_SEPARATORS = "去除分隔符"

#: Invisible characters removed before anything else.
ZERO_WIDTH = (
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space / non-joiner / joiner, word joiner, BOM
    "\u00ad\u180e\u200e\u200f"  # soft hyphen, Mongolian vowel separator, LRM, RLM
    "\u202a\u202b\u202c\u202d\u202e\u2061\u2062\u2063\u2064"  # bidi embeddings, invisible operators
)
_ZW_TABLE = {ord(c): None for c in ZERO_WIDTH}
_ZW_RE = re.compile(f"[{ZERO_WIDTH}]")

#: Variant characters OpenCC's t2s leaves alone but sellers use as look-alikes.
EXTRA_VARIANTS: dict[str, str] = {
    "倣": "仿",
    "髙": "高",
    "眞": "真",
    "僞": "伪",
    "貭": "质",
}

#: Characters OpenCC's t2s changes that mainland simplified text uses as they are (显著, 著名):
#: they do not make a text "traditional" on their own.
NOT_TRADITIONAL = frozenset("著")

_nfkc_re: re.Pattern[str] | None = None
_nfkc_cache: dict[str, str] = {}


def _nfkc_chars() -> re.Pattern[str]:
    """Class of the BMP characters NFKC changes on their own (full-width forms, ①, ㎡ ...); built once."""
    global _nfkc_re
    if _nfkc_re is None:
        chars = {chr(i) for i in range(0xA0, 0x10000)
                 if not 0xD800 <= i < 0xE000 and unicodedata.normalize("NFKC", chr(i)) != chr(i)}
        _nfkc_re = re.compile(f"[{char_class(chars)}]")
    return _nfkc_re


def _nfkc_of(c: str) -> str:
    out = _nfkc_cache.get(c)
    if out is None:
        out = _nfkc_cache[c] = unicodedata.normalize("NFKC", c)
    return out


def _nfkc(s: str) -> str:
    """NFKC, character by character where that is exact (C-speed regex), whole-text otherwise."""
    if unicodedata.is_normalized("NFKC", s):
        return s
    n = s
    for c in set(_nfkc_chars().findall(s)):  # their NFKC forms hold none of them: one replace each
        n = n.replace(c, _nfkc_of(c))
    # combining marks, Hangul jamo ...: what is left needs the real algorithm
    return n if unicodedata.is_normalized("NFKC", n) else unicodedata.normalize("NFKC", n)


def _collapse_ws(s: str) -> str:
    """Runs of whitespace (any kind) -> one space, none at the ends (str.split is C-speed)."""
    return " ".join(s.split())


#: Every character ``str.isspace`` (and the regex ``\s``) calls whitespace, as an explicit class:
#: one bitmap lookup per character where ``\s`` costs a category test on top (~1.5x faster scans).
WHITESPACE = "".join(re.escape(chr(i)) for i in range(0x3001) if chr(i).isspace())
#: CJK characters (unified ideographs + extension A + compatibility ideographs left after NFKC).
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: Characters treated as obfuscating separators when they stand between two CJK characters.
#: Sentence punctuation (， 。 、 ！ ？ ； ：) and brackets are NOT separators: they are structure.
SEPARATORS = (
    WHITESPACE + r"*\-._~·•・/\\|+=^#`'\"‘’“”"
    "★☆♡♥❤✦✧◆◇○●□■△▲▽▼※♪♫♬❀✿❁✔✘✓✗☑☞☜→←↑↓"
    "\u2600-\u27bf"  # miscellaneous symbols and dingbats
    "\U0001f300-\U0001faff"  # emoji
    "\ufe0f"  # variation selector (emoji presentation)
)
_WS_RUN_RE = re.compile(f"[{WHITESPACE}]+")
# The pattern starts with the separator class (not the look-behind) so the regex engine can skip
# quickly to candidate characters: about 2x faster on Chinese text, same matches.
# Also one separator between two single latin letters ("l.v", "g-u-c-c-i": a brand spelled out letter by
# letter); a letter beside another letter or digit is part of a word ("t-shirt", "1.5l", "a4") and is kept.
_SEP_RE = re.compile(f"[{SEPARATORS}](?:(?<=[{CJK}][{SEPARATORS}])[{SEPARATORS}]*(?=[{CJK}])"
                     f"|(?<=(?<![a-z0-9])[a-z][{SEPARATORS}])(?=[a-z](?![a-z0-9])))")


# ---------------------------------------------------------------- traditional -> simplified


@dataclass
class _T2S:
    convert: Any  # OpenCC("t2s").convert
    trigger: re.Pattern[str]  # any BMP character that t2s would change
    astral: frozenset[str]  # the same for characters outside the BMP (rare: extension B ...)
    variants: dict[int, str]
    chars: frozenset[str]  # every character that triggers a conversion (BMP and astral)

    def needed(self, text: str) -> bool:
        if self.trigger.search(text):
            return True
        return bool(_ASTRAL_RE.search(text)) and not self.astral.isdisjoint(text)


_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")
_t2s_lock = threading.Lock()
_t2s: _T2S | None = None


def _load_t2s() -> _T2S:
    """Build the converter once per process (about 0.15 s)."""
    global _t2s
    if _t2s is not None:
        return _t2s
    with _t2s_lock:
        if _t2s is None:
            from opencc_purepy import OpenCC

            cc = OpenCC("t2s")
            triggers: set[str] = set(EXTRA_VARIANTS)
            text = resources.files("opencc_purepy").joinpath("dicts/TSCharacters.txt").read_text("utf-8")
            for line in text.splitlines():
                parts = line.split("\t")
                key = parts[0]
                # keys that map to themselves first (么, 像, 著 ...) are ordinary simplified characters
                if len(parts) == 2 and len(key) == 1 and not key.isascii() and parts[1].split(" ")[0] != key:
                    triggers.add(key)
            triggers -= NOT_TRADITIONAL
            bmp = {c for c in triggers if ord(c) < 0x10000}
            _t2s = _T2S(
                convert=cc.convert,
                trigger=re.compile(f"[{char_class(bmp)}]"),
                astral=frozenset(triggers - bmp),
                variants={ord(k): v for k, v in EXTRA_VARIANTS.items()},
                chars=frozenset(triggers),
            )
    return _t2s


#: characters either side of a traditional character handed to OpenCC (its longest phrase is 10)
T2S_WINDOW = 10


def to_simplified(text: str) -> str:
    """Traditional -> simplified; returns ``text`` itself when it has no traditional character.

    Long texts are converted only in windows around their traditional characters: OpenCC in pure
    Python is slow, and mainland texts carry only the odd traditional character.
    """
    t = _load_t2s()
    if not t.needed(text):
        return text
    if len(text) <= 8 * T2S_WINDOW:
        return t.convert(text).translate(t.variants)
    positions = [m.start() for m in t.trigger.finditer(text)]
    if _ASTRAL_RE.search(text):
        positions += [i for i, c in enumerate(text) if c in t.astral]
    spans: list[list[int]] = []
    for p in sorted(positions):
        a, b = max(0, p - T2S_WINDOW), min(len(text), p + T2S_WINDOW + 1)
        if spans and a <= spans[-1][1]:
            spans[-1][1] = b
        else:
            spans.append([a, b])
    out, last = [], 0
    for a, b in spans:
        out.append(text[last:a])
        out.append(t.convert(text[a:b]))
        last = b
    out.append(text[last:])
    return "".join(out).translate(t.variants)


# ---------------------------------------------------------------- quick path


def _finish_ws(s: str, other_ws: bool) -> str:
    """``_collapse_ws`` when ``s`` needs it (other whitespace, double, leading or trailing spaces)."""
    if other_ws or "  " in s or s[:1] == " " or s[-1:] == " ":
        return _collapse_ws(s)
    return s


_quick: QuickNormalizer | None = None


def _get_quick() -> QuickNormalizer:
    """Built once per process, after the OpenCC tables (about 0.05 s)."""
    global _quick
    if _quick is None:
        t2s = _load_t2s()
        with _t2s_lock:
            if _quick is None:
                # characters only the full path handles: zero-width, look-alikes, traditional
                _quick = QuickNormalizer(frozenset(ZERO_WIDTH) | frozenset(LETTERS) | frozenset(SYMBOLS) | t2s.chars)
    return _quick


# ---------------------------------------------------------------- normalisation


def normalize_with_notes(s: str | None) -> tuple[str, list[str]]:
    """Normalise ``s`` for matching and say which steps changed it (see module docstring)."""
    if not s:
        return "", []
    notes: list[str] = []
    if s.isascii():
        return _collapse_ws(s.lower()), notes
    quick = _get_quick().normalize(s)
    if quick is not None:
        return _finish_ws(quick[0], quick[2]), [NOTE_NFKC] if quick[1] else notes
    return _normalize_steps(s)


def _normalize_steps(s: str) -> tuple[str, list[str]]:
    """The full path of :func:`normalize_with_notes`: every step in turn (the reference the quick path
    is tested against)."""
    notes: list[str] = []
    if _ZW_RE.search(s):
        s = s.translate(_ZW_TABLE)
        notes.append(NOTE_ZERO_WIDTH)
    n = _nfkc(s)
    if n != s:
        notes.append(NOTE_NFKC)
    s = n
    h = fold_homoglyphs(s)
    if h is not s and h != s:
        notes.append(NOTE_HOMOGLYPH)
        s = h
    t = to_simplified(s)
    if t is not s and t != s:
        notes.append(NOTE_T2S)
    return _collapse_ws(t.lower()), notes


_STEPS = ((NOTE_ZERO_WIDTH, lambda s: s.translate(_ZW_TABLE)), (NOTE_NFKC, _nfkc), (NOTE_HOMOGLYPH, fold_homoglyphs),
          (NOTE_T2S, to_simplified))


def notes_for_fragment(raw: str, fragment: str) -> list[str]:
    """Which normalisation steps were needed for ``fragment`` (normalised text) to appear in ``raw``.

    A step is reported when leaving it out would lose the fragment, so a full-width comma
    elsewhere in the text does not make a hit report "全角/兼容字符转换".
    """
    if not raw or not fragment or fragment in _collapse_ws(raw.lower()):
        return []
    out = []
    for note, _ in _STEPS:
        s = raw
        for other, fn in _STEPS:
            if other != note:
                s = fn(s)
        if fragment not in _collapse_ws(s.lower()):
            out.append(note)
    return out


def normalize_text(s: str | None) -> str:
    """Normal form used for matching: zero-width removed, NFKC, look-alikes folded, simplified, lower-case.

    Short texts are remembered (see :data:`CACHE_TEXT_MAX`): category, service, promo and price
    texts repeat across listings.
    """
    if not s:
        return ""
    out = _norm_cache.get(s)
    if out is None:
        out = normalize_with_notes(s)[0]
        _remember(_norm_cache, s, out)
    return out


#: from this many texts on, normalize_many looks for characters the quick path may not take first
MANY_TEXTS = 16


def normalize_many(texts: list[str]) -> list[str]:
    """``normalize_text`` of each of ``texts`` (an item's fields, or many items' fields): the quick path
    runs once over them joined by NUL. When it cannot take them all, the texts with a character it may
    not take (traditional, look-alike, zero-width, astral ...: one C-speed scan finds them) are
    normalised one by one and the others together again."""
    joined = "\x00".join(texts)
    if joined.isascii():
        return [_collapse_ws(t.lower()) if t else "" for t in texts]
    many = len(texts) > MANY_TEXTS
    # many texts: look for such characters first (one in thousands of texts would fail the whole attempt)
    if not (many and _get_quick().hard.search(joined)):
        out = _normalize_joined(texts, joined)
        if out is not None:
            return out
        if not many:
            return [normalize_text(t) for t in texts]
    if joined.count("\x00") != len(texts) - 1:
        return [normalize_text(t) for t in texts]
    hard, at, seen = set(), 0, 0  # indexes of the texts holding such a character
    for m in _get_quick().hard.finditer(joined):
        seen += joined.count("\x00", at, m.start())
        at = m.start()
        hard.add(seen)
    if not hard:  # not one character but the whole (combining marks ...): one by one
        return [normalize_text(t) for t in texts]
    easy = list(texts)
    for i in hard:
        easy[i] = ""
    out = _normalize_joined(easy, "\x00".join(easy))
    if out is None:
        return [normalize_text(t) for t in texts]
    for i in hard:
        out[i] = normalize_text(texts[i])
    return out


def _normalize_joined(texts: list[str], joined: str) -> list[str] | None:
    """The quick path over ``texts`` (``joined``: them joined by NUL), or None when it cannot take one."""
    if joined.count("\x00") != len(texts) - 1:
        return None
    quick = _get_quick().normalize(joined)
    if quick is None:
        return None
    out, other_ws = quick[0], quick[2]
    if other_ws or "  " in out or " \x00" in out or "\x00 " in out or out[:1] == " " or out[-1:] == " ":
        # _collapse_ws of each text, all at once: runs -> one space, none next to NUL or at the ends
        out = _WS_RUN_RE.sub(" ", out).replace(" \x00", "\x00").replace("\x00 ", "\x00").strip(" ")
    return out.split("\x00")


# ---------------------------------------------------------------- per-process caches

#: texts up to this many characters keep their normal form in a cache
CACHE_TEXT_MAX = 200
#: entries per cache; a full cache is emptied (cheap, and bounds memory at a few MB)
CACHE_SIZE = 8192
_norm_cache: dict[str, str] = {}


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(key) <= CACHE_TEXT_MAX:
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        cache[key] = value


def clear_text_cache() -> None:
    """Empty the cache of normal forms of short texts (see :func:`pipelines.normalize.clear_caches`)."""
    _norm_cache.clear()


class Stripped:
    """Text with obfuscating separators removed, and how to map offsets back to the source.

    The stripped text is one C-speed ``re.sub``; the offset map is built only when asked for
    (evidence for a finding), so scanning stays fast.
    """

    __slots__ = ("_src_starts", "_starts", "source", "text")

    def __init__(self, text: str, source: str) -> None:
        self.text = text  # separators removed
        self.source = source  # the (normalised) text it came from
        self._starts: list[int] | None = None
        self._src_starts: list[int] | None = None

    @property
    def changed(self) -> bool:
        return len(self.text) != len(self.source)

    def _map(self) -> tuple[list[int], list[int]]:
        if self._starts is None:
            # piece i starts at starts[i] in ``text`` and at src_starts[i] in ``source``
            starts, src_starts, out_len, last = [0], [0], 0, 0
            for m in _SEP_RE.finditer(self.source):
                out_len += m.start() - last
                last = m.end()
                starts.append(out_len)
                src_starts.append(last)
            self._starts, self._src_starts = starts, src_starts
        return self._starts, self._src_starts  # type: ignore[return-value]

    def to_source(self, pos: int) -> int:
        """Offset in ``source`` of the character at ``pos`` in ``text``."""
        if not self.changed:
            return pos
        starts, src_starts = self._map()
        i = bisect.bisect_right(starts, pos) - 1
        return src_starts[i] + (pos - starts[i])

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Span in ``source`` covering text[start:end] (separators inside included)."""
        if not self.changed or end <= start:
            return start, end
        return self.to_source(start), self.to_source(end - 1) + 1

    def removed_in(self, start: int, end: int) -> str | None:
        """The source fragment for text[start:end] if separators were removed inside it."""
        s, e = self.source_span(start, end)
        return self.source[s:e] if e - s != end - start else None


def strip_separators(norm: str) -> Stripped:
    """Drop separators between CJK characters in already-normalised text, keeping an offset map."""
    return Stripped(_SEP_RE.sub("", norm), norm)


def strip_joined(norms: list[str]) -> tuple[str, list[str]]:
    """``strip_separators(n).text`` of each of ``norms``, and all of them joined by NUL, with one regex
    pass (NUL is neither CJK nor a separator, so nothing is removed across texts)."""
    joined = "\x00".join(norms)
    if joined.count("\x00") != len(norms) - 1:  # a text with its own NUL: one by one
        texts = [_SEP_RE.sub("", n) for n in norms]
        return "\x00".join(texts), texts
    joined = _SEP_RE.sub("", joined)
    return joined, joined.split("\x00")


def deobfuscate_text(s: str | None, max_examples: int = 3) -> tuple[str, list[str]]:
    """``normalize_text`` plus separator removal between CJK characters.

    Returns (text, notes); notes name each step that changed something, e.g.
    ``["繁体转简体", "去除分隔符: 高*仿→高仿"]``.
    """
    norm, notes = normalize_with_notes(s)
    st = strip_separators(norm)
    if st.changed:
        examples = []
        for m in list(_SEP_RE.finditer(norm))[:max_examples]:
            a, b = max(m.start() - 1, 0), m.end() + 1
            examples.append(f"{norm[a:b]}→{norm[a:b].replace(m.group(), '')}")
        notes.append(f"{NOTE_SEPARATORS}: " + ", ".join(examples))
    return st.text, notes
