"""Score a sweep of the bazaar against ``ground_truth.json`` (the demo's scoring: (subject, category) pairs),
and say which expected rule ids did not fire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crawler.demo.evaluate import Evaluation
from crawler.demo.evaluate import evaluate as _evaluate

GROUND_TRUTH = Path(__file__).with_name("ground_truth.json")


def evaluate(store: Any, sweep_id: str | None = None) -> Evaluation:
    return _evaluate(store, sweep_id, ground_truth=GROUND_TRUTH)


def missing_rules(findings: list[dict[str, Any]] | Any, path: Path = GROUND_TRUTH) -> list[tuple[str, str, str]]:
    """(kind, id, rule id) of every rule the ground truth expects on a subject that did not fire on it."""
    fired: set[tuple[str, str, str]] = set()
    for f in findings:
        get = f.get if isinstance(f, dict) else lambda k, f=f: getattr(f, k)
        fired.add((get("subject_kind"), get("subject_id").split(":", 1)[1], get("rule_id")))
    truth = json.loads(path.read_text(encoding="utf-8"))
    return [(v["kind"], v["id"], r) for v in truth["violations"] for r in v["rules"]
            if (v["kind"], v["id"], r) not in fired]
