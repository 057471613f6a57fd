"""Aho-Corasick automata for the rule engine, behind one small interface.

``ahocorasick_rs`` (Rust; its contiguous NFA) scans Chinese text at about 100-150 MB/s whatever
the number of terms; ``pyahocorasick`` searches each node's children one by one, so its speed
falls as the terms' distinct first characters grow (about 20 MB/s with today's ~800 terms, under
15 MB/s with 6,000). The engine uses ``ahocorasick_rs`` when it is installed;
``NETSWORD_MATCH_BACKEND`` (``ahocorasick_rs``, ``pyahocorasick`` or ``auto``) forces a choice.
Both report the same overlapping matches.
"""

from __future__ import annotations

import os
from typing import Any

#: payload stored per term: (term, must start a latin word, must end a latin word,
#: per scanned field: ((rule index, group), ...))
Payload = tuple[str, bool, bool, tuple[tuple[tuple[int, int], ...], ...]]
BACKENDS = ("ahocorasick_rs", "pyahocorasick")


def pick_backend(name: str | None) -> str:
    """``ahocorasick_rs`` (Rust, ~6x faster on Chinese text) when installed, else pyahocorasick."""
    name = (name or os.environ.get("NETSWORD_MATCH_BACKEND") or "auto").strip().lower()
    if name == "auto":
        try:
            import ahocorasick_rs  # noqa: F401
        except ImportError:
            return "pyahocorasick"
        return "ahocorasick_rs"
    if name not in BACKENDS:
        raise ValueError(f"unknown match backend {name!r}; use one of {', '.join(BACKENDS)} or auto")
    return name


class Scanner:
    """One automaton over a set of terms; ``scan(text)`` -> [(term index, start, end)], overlapping."""

    __slots__ = ("_ac", "_lens", "backend", "payloads")

    def __init__(self, terms: list[str], payloads: list[Payload], backend: str) -> None:
        self.payloads = payloads
        self.backend = backend
        if backend == "ahocorasick_rs":
            import ahocorasick_rs

            # the contiguous NFA: with ~6,000 terms a DFA takes ~20 MB and 30 ms to build and scans no
            # faster between the Python work of a match (its tables fall out of the CPU caches); this
            # one takes under 1 MB and 5 ms. Matches are the same whatever the implementation.
            impl = ahocorasick_rs.Implementation.ContiguousNFA
            self._ac: Any = ahocorasick_rs.AhoCorasick(terms, implementation=impl)
        else:
            import ahocorasick

            self._ac = ahocorasick.Automaton()
            for i, t in enumerate(terms):
                self._ac.add_word(t, i)
            self._ac.make_automaton()
            self._lens = [len(t) for t in terms]

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        if self.backend == "ahocorasick_rs":
            return self._ac.find_matches_as_indexes(text, overlapping=True)
        lens = self._lens
        return [(i, end - lens[i] + 1, end + 1) for end, i in self._ac.iter(text)]
