"""Score a sweep of the demo marketplace (or the bazaar) against its ground truth (ground_truth.json).

The unit is (subject, category): a listing or shop flagged under a statistics-form
category. Precision = right flags / all flags; recall = found violations / all violations.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GROUND_TRUTH = Path(__file__).with_name("ground_truth.json")

Key = tuple[str, str, str]  # (kind, id, category)


@dataclass
class Evaluation:
    expected: int
    predicted: int
    true_positives: int
    missed: list[Key] = field(default_factory=list)
    false_alarms: list[Key] = field(default_factory=list)
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def false_positives(self) -> int:
        return self.predicted - self.true_positives

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    def table(self) -> str:
        lines = [f"{'category':<24} {'truth':>5} {'flagged':>7} {'P':>5} {'R':>5}"]
        for cat, row in sorted(self.per_category.items()):
            lines.append(f"{cat:<24} {row['truth']:>5.0f} {row['flagged']:>7.0f} {row['precision']:>5.2f} "
                         f"{row['recall']:>5.2f}")
        lines.append(f"{'ALL':<24} {self.expected:>5} {self.predicted:>7} {self.precision:>5.2f} {self.recall:>5.2f}")
        return "\n".join(lines)


def truth_keys(path: Path = GROUND_TRUTH) -> set[Key]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {(v["kind"], v["id"], c) for v in data["violations"] for c in v["categories"]}


def predicted_keys(findings: list[dict[str, Any]] | Any) -> set[Key]:
    keys: set[Key] = set()
    for f in findings:
        get = f.get if isinstance(f, dict) else lambda k, f=f: getattr(f, k)
        subject = get("subject_id").split(":", 1)[1]
        keys.add((get("subject_kind"), subject, get("category")))
    return keys


def score(truth: set[Key], predicted: set[Key]) -> Evaluation:
    tp = truth & predicted
    per: dict[str, dict[str, float]] = defaultdict(lambda: {"truth": 0, "flagged": 0, "tp": 0})
    for _, _, cat in truth:
        per[cat]["truth"] += 1
    for key in predicted:
        per[key[2]]["flagged"] += 1
        per[key[2]]["tp"] += key in tp
    for row in per.values():
        row["precision"] = row["tp"] / row["flagged"] if row["flagged"] else 1.0
        row["recall"] = row["tp"] / row["truth"] if row["truth"] else 1.0
    return Evaluation(len(truth), len(predicted), len(tp), sorted(truth - predicted), sorted(predicted - truth),
                      dict(per))


def evaluate(store: Any, sweep_id: str | None = None, ground_truth: Path = GROUND_TRUTH) -> Evaluation:
    """Score the findings a store holds (optionally of one sweep) against a ground truth (the demo's by
    default; ``crawler/bazaar/ground_truth.json`` has the same shape)."""
    filters = {"sweep_id": sweep_id} if sweep_id else {}
    return score(truth_keys(ground_truth), predicted_keys(list(store.iter_findings(filters))))
