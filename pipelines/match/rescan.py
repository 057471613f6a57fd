"""``netsword rescan``: apply the current rules to stored listings and shops, without crawling.

Each stored subject (its latest observation, as ``Store.get_listing`` / ``Store.get_shop``
return it) is normalised again (normalisation may have improved too) and matched with the
rules as they are now:

* findings it still produces are written again (``found_at`` = the rescan time, so they count
  as seen now; their evidence stays the stored page's snapshot and sweep);
* findings of new or changed rules appear;
* findings it no longer produces are **marked resolved** with ``Store.resolve_findings``
  (never deleted; triage statuses such as confirmed/dismissed stay; a resolved finding that
  comes back later is reopened by the store).

With ``rule_ids`` / ``packs`` only those rules run, and only their findings can be resolved.
``dry_run`` counts what would change and writes nothing.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from netsword.clock import utc_now
from pipelines.normalize import NormalizePipeline

KINDS = ("listing", "shop")


@dataclass
class RescanReport:
    rescan_id: str
    subjects: Counter[str] = field(default_factory=Counter)  # kind -> subjects rescanned
    produced: int = 0  # findings the current rules give
    new: int = 0  # of those, not unresolved before the rescan (new rules, reopened findings)
    resolved: int = 0  # unresolved findings no longer produced, now marked resolved
    missing: int = 0  # subjects listed by the store but not readable
    new_by_category: Counter[str] = field(default_factory=Counter)
    resolved_by_category: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"rescan_id": self.rescan_id, "subjects": dict(self.subjects), "produced": self.produced,
                "new": self.new, "resolved": self.resolved, "missing": self.missing, "dry_run": self.dry_run,
                "new_by_category": dict(self.new_by_category),
                "resolved_by_category": dict(self.resolved_by_category)}


def iter_subject_ids(store: Any, kinds: Iterable[str] = KINDS, site: str | None = None) -> Iterator[tuple[str, str]]:
    """(kind, subject_id) of every stored subject (shops first). The ids of a kind are collected before
    yielding, so the rescan's own writes cannot move the store's paging."""
    for kind in ("shop", "listing"):
        if kind in kinds:
            yield from ((kind, sid) for sid in list(store.iter_subject_ids(kind, site)))


#: subjects read, normalised and matched together (RuleSet.match_many) before their findings are written
RESCAN_CHUNK = 256


def rescan(store: Any, ruleset: Any, *, kinds: Iterable[str] = KINDS, site: str | None = None,
           rule_ids: Iterable[str] | None = None, packs: Iterable[str] | None = None, dry_run: bool = False,
           at: str | None = None, progress: Callable[[int], None] | None = None) -> RescanReport:
    """Re-match every stored subject (of ``kinds`` / ``site``) with ``ruleset``; see the module doc.

    Subjects are read :data:`RESCAN_CHUNK` at a time, normalised and matched together with the
    engine's batched path, then written one by one."""
    at = at or utc_now()
    report = RescanReport(rescan_id=f"rescan:{at}", dry_run=dry_run)
    only = _selected(ruleset, rule_ids, packs)
    normalize = NormalizePipeline(tokens=False)
    chunk: list[tuple[int, str, Any, dict[str, Any]]] = []  # (n, subject id, fresh item, findings before)

    def flush() -> None:
        normalize.process_many([fresh for _, _, fresh, _ in chunk])
        for (i, sid, fresh, before), found in zip(chunk, ruleset.match_many([c[2] for c in chunk]), strict=True):
            _apply(store, report, sid, fresh.kind, before, found, only, at, dry_run)
            if progress is not None:
                progress(i)
        chunk.clear()

    for n, (kind, sid) in enumerate(iter_subject_ids(store, kinds, site), 1):
        item = store.get_listing(sid) if kind == "listing" else store.get_shop(sid)
        if item is None:
            report.missing += 1
            continue
        # findings not resolved yet (whatever their triage status)
        before = {sf.finding_id: sf.finding for sf in store.findings_for(sid, kind=kind) if sf.resolved_at is None}
        fresh = copy.copy(item)
        fresh.findings, fresh.norm = [], {}
        chunk.append((n, sid, fresh, before))
        if len(chunk) >= RESCAN_CHUNK:
            flush()
    flush()
    if not dry_run:
        store.flush()
    return report


def _apply(store: Any, report: RescanReport, sid: str, kind: str, before: dict[str, Any], found: list[Any],
           only: set[str] | None, at: str, dry_run: bool) -> None:
    """One subject's findings of the rescan: written (new and still produced) and resolved (gone)."""
    if only is not None:
        found = [f for f in found if f.rule_id in only]
    for f in found:
        f.found_at = at
    produced = {f.finding_id for f in found}
    keep = produced | {fid for fid, f in before.items() if only is not None and f.rule_id not in only}
    report.subjects[kind] += 1
    report.produced += len(found)
    for f in found:
        if f.finding_id not in before:
            report.new += 1
            report.new_by_category[f.category] += 1
    gone = [f for fid, f in before.items() if fid not in keep]
    if dry_run:
        report.resolved += len(gone)
    else:
        if found:
            store.upsert_findings(found)
        report.resolved += store.resolve_findings(sid, sorted(keep), kind=kind, at=at, sweep_id=report.rescan_id)
    for f in gone:
        report.resolved_by_category[f.category] += 1


def _selected(ruleset: Any, rule_ids: Iterable[str] | None, packs: Iterable[str] | None) -> set[str] | None:
    ids = set(rule_ids or ())
    names = set(packs or ())
    if not ids and not names:
        return None
    unknown = sorted(ids - set(ruleset.by_id))
    if unknown:
        raise ValueError(f"unknown rule id(s) / 没有这些规则: {', '.join(unknown)}")
    have = {r.pack for r in ruleset.rules}
    bad = sorted(names - have)
    if bad:
        raise ValueError(f"unknown pack(s) / 没有这些规则包: {', '.join(bad)}")
    return ids | {r.id for r in ruleset.rules if r.pack in names}
