"""What a term hit is, shared by the engine's item-by-item and batched paths."""

from __future__ import annotations

from typing import NamedTuple

# term-group codes stored in the automaton next to each rule index
G_ANY, G_NEAR_A, G_NEAR_B, G_UNLESS, G_NONE, G_SCOPE, G_SCOPE_UNLESS, G_NEGATION, G_NEGATION_AFTER, G_ALL = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10)

#: characters of a latin word: a latin term must not sit inside a longer one ("lv" in "silver")
ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


class Hit(NamedTuple):
    """One term hit of one term group of one rule, in the separator-stripped text of a field."""

    group: int  # G_ANY, G_NEAR_A, ... (G_ALL + j for the j-th `all` group)
    field: str
    start: int
    end: int
    term: str


#: builds a Hit without NamedTuple's Python-level __new__ (the scan makes one per term hit and rule):
#: ``new_hit(Hit, (group, field, start, end, term))``
new_hit = tuple.__new__
