"""Suggestions for rule authors from analysts' decisions (`netsword rules suggest`).

Nothing here changes a rule: it prints candidates for an analyst to accept (or not).

* **unless contexts**: the text around the hit in *dismissed* findings (the hit with the word
  before or after it, as jieba cuts the snippet: 最 in 最近上新 gives 最近). A context that comes
  back in dismissed findings and never in confirmed ones is a lawful look-alike the rule should
  allow (``unless:``).
* **terms**: words of *confirmed* (or referred) findings' snippets that are not yet terms of the
  rule, frequent among them and rare in benign text (a benign corpus, e.g. the look-alikes of
  tests/corpus/eval/cases.jsonl): candidates for the rule's term list.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipelines.normalize import get_jieba, normalize_text
from pipelines.store.base import SearchQuery, Store, as_query

POSITIVE = ("confirmed", "referred")
NEGATIVE = ("dismissed",)
_HIT = re.compile(r"【([^】]*)】")
_WORD = re.compile(r"[\w\u3400-\u9fff]")


@dataclass
class Candidate:
    text: str
    support: int  # findings of the side it was mined from that contain it
    against: int  # findings of the other side that contain it
    benign: int = 0  # benign texts that contain it (terms only)


@dataclass
class RuleSuggestions:
    rule_id: str
    title: str
    confirmed: int
    dismissed: int
    unless: list[Candidate] = field(default_factory=list)
    terms: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "title": self.title, "confirmed": self.confirmed,
                "dismissed": self.dismissed, "unless": [c.__dict__ for c in self.unless],
                "terms": [c.__dict__ for c in self.terms]}


def _split(snippet: str) -> tuple[str, str, str] | None:
    """(left, hit, right) of a finding's snippet ``…left【hit】right…``, normalised."""
    m = _HIT.search(snippet or "")
    if m is None:
        return None
    left, right = snippet[: m.start()].strip("…"), snippet[m.end():].strip("…")
    return normalize_text(left), normalize_text(m.group(1)), normalize_text(right)


def _words(text: str) -> list[str]:
    return [w for w in get_jieba().lcut(text, HMM=False) if len(w) >= 2 and _WORD.search(w)]


def contexts(snippet: str) -> set[str]:
    """The hit joined with the word right before it and the word right after it (jieba's cut)."""
    parts = _split(snippet)
    if parts is None:
        return set()
    left, hit, right = parts
    out = set()
    before = get_jieba().lcut(left, HMM=False)
    after = get_jieba().lcut(right, HMM=False)
    if before and before[-1].strip():
        out.add(before[-1].strip() + hit)
    if after and after[0].strip():
        out.add(hit + after[0].strip())
    return {c for c in out if len(c) > len(hit)}


def benign_texts(path: Path | str | None) -> list[str]:
    """Normalised texts of the benign cases (``expected: []``) of a JSON-lines corpus."""
    if path is None or not Path(path).is_file():
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            case = json.loads(line)
        except ValueError:
            continue
        if isinstance(case, dict) and not case.get("expected"):
            text = " ".join(str(v) for k, v in case.items()
                            if isinstance(v, str) and k not in ("id", "source", "split", "kind"))
            out.append(normalize_text(text))
    return out


def suggest(store: Store, rule_terms: Mapping[str, Iterable[str]], *, benign: list[str] | None = None,
            q: SearchQuery | Mapping[str, Any] | None = None, min_support: int = 2,
            max_benign_rate: float = 0.01, limit: int = 8) -> list[RuleSuggestions]:
    """Candidates per rule with decided findings. ``rule_terms``: each rule's current terms (not suggested again)."""
    q = replace(as_query(q), include_resolved=True)
    by_rule: dict[str, dict[str, list[str]]] = {}
    titles: dict[str, str] = {}
    for f in store.iter_findings(q):
        side = "pos" if f["status"] in POSITIVE else "neg" if f["status"] in NEGATIVE else None
        if side is not None:
            by_rule.setdefault(f["rule_id"], {"pos": [], "neg": []})[side].append(f["snippet"] or "")
            titles[f["rule_id"]] = f["title"] or f["rule_id"]
    benign = benign or []
    out = []
    for rule_id, sides in sorted(by_rule.items()):
        known = {normalize_text(t) for t in rule_terms.get(rule_id, ())}
        s = RuleSuggestions(rule_id, titles[rule_id], len(sides["pos"]), len(sides["neg"]))
        neg_ctx = Counter(c for sn in sides["neg"] for c in contexts(sn))
        pos_ctx = Counter(c for sn in sides["pos"] for c in contexts(sn))
        s.unless = [Candidate(c, n, pos_ctx[c]) for c, n in neg_ctx.most_common()
                    if n >= min_support and pos_ctx[c] == 0][:limit]
        pos_words = Counter(w for sn in sides["pos"] for w in set(_words("".join(_split(sn) or (sn,)))))
        neg_words = Counter(w for sn in sides["neg"] for w in set(_words("".join(_split(sn) or (sn,)))))
        for word, n in pos_words.most_common():
            if n < min_support or word in known or any(word in t or t in word for t in known):
                continue
            hits = sum(word in text for text in benign)
            if benign and hits / len(benign) > max_benign_rate:
                continue
            s.terms.append(Candidate(word, n, neg_words[word], hits))
            if len(s.terms) >= limit:
                break
        if s.unless or s.terms:
            out.append(s)
    return out
