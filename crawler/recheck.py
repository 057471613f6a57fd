"""`netsword recheck` (复查): fetch the listings of confirmed and referred leads again, with fresh evidence.

One re-check is one sweep of its own (``<site>-recheck-<UTC time>``, job folder ``jobs/<site>-recheck``
so an unfinished regular sweep stays resumable): only the listings' pages, no link followed, every
page fetched in full (no conditional request), through the whole pipeline -- the WARC holds every
answer (a 404 too), the manifest and its seal are written as for any sweep, the store gets the
listings as they are now (findings that no longer fire are resolved). Then each listing's outcome
(:mod:`leads.recheck`): ``online`` (same HTML), ``changed``, ``removed`` (404 / 410, or sent
elsewhere), ``unreachable`` (no answer); they are written, with the HTTP status and the WARC record of
each answer, to ``evidence/rechecks/<sweep>.json``, sealed like a manifest (signed, time-stamped), and
into each lead's audit trail.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from leads.recheck import RecheckResult, Target, record
from netsword import config as netsword_config
from netsword.clock import utc_now

GONE = (404, 410)


@dataclass
class RecheckRun:
    site: str
    sweep_id: str
    results: list[tuple[Target, RecheckResult]] = field(default_factory=list)
    evidence: str = ""  # the sealed results file, relative to the evidence root
    finished: bool = True

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _t, r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out


def _answers(warc_folder: Path) -> dict[str, dict[str, Any]]:
    """url -> the last answer the sweep's WARC holds for it: HTTP status, record id, payload SHA-256, Location."""
    import hashlib

    from warcio.archiveiterator import ArchiveIterator

    out: dict[str, dict[str, Any]] = {}
    for path in sorted(warc_folder.glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type not in ("response", "conversion"):
                    continue
                uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                body = rec.content_stream().read()
                status = int(rec.http_headers.get_statuscode()) if rec.http_headers is not None else 200
                location = rec.http_headers.get_header("Location") if rec.http_headers is not None else ""
                out[uri] = {"status": status, "record": rec.rec_headers.get_header("WARC-Record-ID"),
                            "payload_sha256": hashlib.sha256(body).hexdigest(), "location": location or "",
                            "warc": f"{warc_folder.name}/{path.name}"}
    return out


def outcome(target: Target, entries: dict[str, dict[str, Any]], answers: dict[str, dict[str, Any]]
            ) -> tuple[str, int, str]:
    """(outcome, HTTP status, HTML sha256 now) of one listing."""
    entry = entries.get(target.url)
    answer = answers.get(target.url)
    if entry is not None and (entry.get("status") or 0) < 400 and entry.get("html_sha256"):
        sha = entry["html_sha256"]
        return ("online" if sha == target.html_sha256 else "changed"), int(entry.get("status") or 200), sha
    if answer is None:
        return "unreachable", 0, ""
    status = answer["status"]
    if status in GONE:
        return "removed", status, ""
    if 300 <= status < 400:  # sent elsewhere (a search page, the home page): the listing's own page is gone
        return "removed", status, ""
    if status >= 500:
        return "unreachable", status, ""
    return "changed", status, ""  # answered, but no listing on the page any more


def run_recheck(site: str, targets: list[Target], *, base_url: str | None = None, store_url: str | None = None,
                sweep_id: str | None = None) -> RecheckRun:
    """Re-check ``targets`` (all of ``site``) in this process: one sweep, then the outcomes recorded."""
    from crawler.runner import run_sweep
    from pipelines.evidence import Sealer, manifest_path, read_manifest
    from pipelines.store import open_store

    cfg = netsword_config.current()
    sweep_id = sweep_id or f"{site}-recheck-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    urls = [t.url for t in targets]
    if base_url is None and urls:
        parts = urlsplit(urls[0])
        base_url = f"{parts.scheme}://{parts.netloc}"
    result = run_sweep(site, base_url=base_url, store_url=store_url, sweep_id=sweep_id, quiet=True, full=True,
                       urls=urls, job_name=f"{site}-recheck")
    run = RecheckRun(site, sweep_id, finished=result.finished)
    root = Path(cfg.evidence_dir)
    entries: dict[str, dict[str, Any]] = {}
    mpath = manifest_path(root, sweep_id)
    if mpath.is_file():
        for e in read_manifest(mpath):
            if e.get("kind") in ("listing", "shop", "page", None) or e.get("html_sha256"):
                for key in (e.get("requested_url"), e.get("url")):
                    if key:
                        entries.setdefault(key, e)
    answers = _answers(root / "warc" / sweep_id)
    rel = f"rechecks/{sweep_id}.json"
    lines = []
    for t in targets:
        out, status, sha = outcome(t, entries, answers)
        r = RecheckResult(t.subject_id, t.url, out, status, sweep_id, sha, t.html_sha256, rel)
        run.results.append((t, r))
        lines.append({"lead_id": t.lead_id, **asdict(r), "answer": answers.get(t.url)})
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": "netsword-recheck/1", "sweep_id": sweep_id, "site": site,
                                "checked_at": utc_now(), "manifest": f"manifests/{sweep_id}.jsonl",
                                "results": lines}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    from pipelines.evidence import seal_file

    seal_file(path, Sealer.from_config(cfg), kind="recheck", extra={"sweep_id": sweep_id, "listings": len(lines)})
    run.evidence = rel
    store = open_store(store_url or cfg.store_url)
    try:
        for t, r in run.results:
            record(store, t.lead_id, r)
        store.flush()
    finally:
        store.close()
    return run
