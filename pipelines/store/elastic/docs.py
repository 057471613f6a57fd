"""Documents of the Elasticsearch engine, and how each write changes them (pure functions, no I/O).

A listing or shop is one *root* document (index ``<prefix>-listings`` / ``-shops``, id = subject id)
holding its latest observation, its page versions (listings) and the life cycle of every finding
on it (nested ``findings``). Every write is an *operation* (a JSON-able dict, what the spool file
keeps) that is applied to the root documents it touches, read with one ``mget``; the findings
and versions indices hold projections of the roots, rewritten whenever a root changes (Kibana,
exports and counts read them).

The merge rules are the Store contract's (see ``base.py`` and the SQLite engine):
the latest observation wins, an older one only widens ``first_seen``; a finding keeps its
latest evidence, its first/last seen and sweeps; a rescan that no longer shows it resolves it
(soft) and a later sighting reopens it. Applying the same operation twice changes nothing,
which is what makes spool replay safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from typing import Any

from crawler.items import Finding, ListingItem, ShopItem
from netsword.clock import utc_now

from ..base import OPEN, RESOLVED, SEVERITY_RANK, ListingVersion, StoredFinding
from ..sqlite.search import LISTING_TEXT, SHOP_TEXT, index_tokens

ROOT_KINDS = ("listing", "shop")
_NOT_KEPT = frozenset({"findings", "html"})
_FINDING_NAMES = tuple(f.name for f in fields(Finding))
_STATE_KEYS = ("status", "first_seen", "last_seen", "first_sweep_id", "last_sweep_id", "resolved_at",
               "resolved_sweep_id", "sweeps")
#: Date fields of root documents: "" is stored as null (Elasticsearch cannot index an empty date).
_ROOT_DATES = ("fetched_at", "first_seen")
_COMMON = ("subject_id", "site", "shop_id", "url", "status", "fetched_at", "sweep_id", "html_sha256", "rendered")
_LISTING = ("listing_id", "shop_name", "title", "description", "promo", "service", "category", "price_text",
            "original_price_text", "price", "original_price", "currency", "attributes")
_SHOP = ("name", "operator", "license_text", "license_number", "license_image", "food_license", "phone", "address",
         "description", "service", "notices", "listing_count")


def digest(text: str, size: int = 12) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def none_if_empty(value: Any) -> Any:
    return value if value not in ("", None) else None


# --------------------------------------------------------------------------- operations


def item_data(item: ListingItem | ShopItem) -> dict[str, Any]:
    """The item as kept (the page body and findings are not)."""
    data = {f.name: getattr(item, f.name) for f in fields(item) if f.name not in _NOT_KEPT}
    data["fetched_at"] = item.fetched_at or utc_now()
    return data


def subject_op(item: ListingItem | ShopItem) -> dict[str, Any]:
    return {"op": item.kind, "item": item_data(item)}


def findings_op(findings: Sequence[Finding]) -> dict[str, Any]:
    now = utc_now()
    out = []
    for f in findings:
        d = asdict(f)
        d["found_at"] = f.found_at or now
        out.append(d)
    return {"op": "findings", "findings": out}


def resolve_op(subject_id: str, keep_ids: Sequence[str], kind: str | None, at: str, sweep_id: str) -> dict[str, Any]:
    return {"op": "resolve", "subject_id": subject_id, "keep": sorted(set(keep_ids)), "kind": kind,
            "at": at or utc_now(), "sweep_id": sweep_id}


def op_roots(op: dict[str, Any]) -> list[tuple[str, str]]:
    """The root documents (kind, subject id) an operation reads and writes."""
    kind = op["op"]
    if kind in ROOT_KINDS:
        return [(kind, _subject_id(op["item"]))]
    if kind == "findings":
        return [(f["subject_kind"], f["subject_id"]) for f in op["findings"]]
    if kind == "resolve":
        return [(k, op["subject_id"]) for k in ((op["kind"],) if op["kind"] else ROOT_KINDS)]
    if kind == "mark_seen":
        return [(op["kind"], op["subject_id"])]
    if kind == "finding_status":
        return [(k, sid) for k, sid in op["subjects"]]
    if kind == "record" and op["record"]["type"] in ROOT_KINDS:
        return [(op["record"]["type"], _subject_id(op["record"]["item"]))]
    if kind == "record" and op["record"]["type"] == "finding":
        f = op["record"]["finding"]
        return [(f["subject_kind"], f["subject_id"])]
    return []


def _subject_id(data: dict[str, Any]) -> str:
    return f"{data['site']}:{data['listing_id'] if 'listing_id' in data else data['shop_id']}"


# --------------------------------------------------------------------------- roots


def new_root(kind: str, subject_id: str, site: str = "", shop_id: str = "") -> dict[str, Any]:
    """A root with no observation yet (a *stub*: holds findings that arrived before their page)."""
    return {"key": subject_id, "kind": kind, "stub": True, "subject_id": subject_id, "site": site,
            "shop_id": shop_id, "sweeps": [], "findings": [], "versions": [], "_states": {}}


def load_root(source: dict[str, Any]) -> dict[str, Any]:
    """A root as read from Elasticsearch, with its finding states keyed by id for merging."""
    root = dict(source)
    root["_states"] = {e["finding_id"]: dict(e["state"]) for e in source.get("findings") or []}
    root.setdefault("versions", [])
    root.setdefault("sweeps", [])
    return root


def _add(values: list[str], value: str) -> None:
    if value and value not in values:
        values.append(value)
        values.sort()


def _search_text(data: dict[str, Any], names: Sequence[str]) -> list[str]:
    parts = [str(data.get(n) or "") for n in names]
    originals = set(parts)
    parts += [v for v in (data.get("norm") or {}).values() if v and v not in originals]
    return [t for t in (index_tokens(p) for p in parts if p) if t]


def apply_subject(root: dict[str, Any] | None, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """An observation of a listing or shop page: the latest one replaces the stored fields."""
    sid = _subject_id(data)
    root = root or new_root(kind, sid, data.get("site", ""), data.get("shop_id", ""))
    fetched, sweep = data["fetched_at"], data.get("sweep_id", "")
    if root.get("stub") or fetched >= (root.get("fetched_at") or ""):
        first_seen = min(filter(None, (root.get("first_seen"), fetched)))
        first_sweep = root.get("first_sweep_id") if root.get("first_seen") and root["first_seen"] <= fetched else sweep
        for name in (*_COMMON, *(_LISTING if kind == "listing" else _SHOP)):
            root[name] = data.get(name)
        root.update(subject_id=sid, stub=False, item=data, norm=data.get("norm") or {}, first_seen=first_seen,
                    first_sweep_id=first_sweep or "", tokens=" ".join(data.get("tokens") or []),
                    search_text=_search_text(data, LISTING_TEXT if kind == "listing" else SHOP_TEXT))
    elif fetched < (root.get("first_seen") or fetched):
        root["first_seen"] = fetched
    _add(root["sweeps"], sweep)
    if kind == "listing":
        _apply_version(root, data)
    return root


def _apply_version(root: dict[str, Any], data: dict[str, Any]) -> None:
    fetched, sweep = data["fetched_at"], data.get("sweep_id", "")
    key = data.get("html_sha256") or "c:" + digest(f"{data.get('title')}|{data.get('price')}|"
                                                   f"{data.get('original_price')}")
    versions: list[dict[str, Any]] = root["versions"]
    earlier = [v for v in versions if v["fetched_at"] <= fetched]
    prev = max(earlier, key=lambda v: (v["fetched_at"], v["seq"])) if earlier else None
    if prev is not None and prev["version_key"] == key:  # unchanged page: extend the version
        if fetched > prev["last_seen_at"]:
            prev.update(last_seen_at=fetched, last_sweep_id=sweep)
        return
    if any(v["fetched_at"] == fetched and v["version_key"] == key for v in versions):
        return
    versions.append({"seq": max((v["seq"] for v in versions), default=0) + 1, "version_key": key,
                     "html_sha256": data.get("html_sha256", ""), "price": data.get("price"),
                     "original_price": data.get("original_price"), "title": data.get("title", ""),
                     "sweep_id": sweep, "fetched_at": fetched, "last_seen_at": fetched, "last_sweep_id": sweep})


def apply_finding(root: dict[str, Any], f: dict[str, Any]) -> None:
    """One sighting of a finding (``found_at`` filled) on its subject's root."""
    fid = finding_id_of(f)
    found, sweep = f["found_at"], f.get("sweep_id", "")
    states: dict[str, dict[str, Any]] = root["_states"]
    st = states.get(fid)
    if st is None:
        states[fid] = {**f, "finding_id": fid, "status": OPEN, "first_seen": found, "last_seen": found,
                       "first_sweep_id": sweep, "last_sweep_id": sweep, "resolved_at": None,
                       "resolved_sweep_id": None, "sweeps": [sweep] if sweep else []}
        return
    if found >= st["last_seen"]:
        resolved_at = st.get("resolved_at")
        reopen = resolved_at is not None and resolved_at <= found
        st.update({k: f[k] for k in _FINDING_NAMES if k in f})
        st.update(last_seen=found, last_sweep_id=sweep)
        if reopen:
            if st["status"] == RESOLVED:
                st["status"] = OPEN
            st.update(resolved_at=None, resolved_sweep_id=None)
    else:  # an older sighting only widens first_seen
        if found < st["first_seen"]:
            st.update(first_seen=found, first_sweep_id=sweep)
    _add(st["sweeps"], sweep)


def apply_resolve(root: dict[str, Any], keep: Iterable[str], at: str, sweep_id: str) -> list[str]:
    """Resolve (softly) the findings a rescan no longer produced; returns the ids marked."""
    keep = set(keep)
    marked = []
    for fid, st in root["_states"].items():
        if fid in keep or st.get("resolved_at") is not None or st["last_seen"] > at:
            continue
        if st["status"] == OPEN:
            st["status"] = RESOLVED
        st.update(resolved_at=at, resolved_sweep_id=sweep_id)
        marked.append(fid)
    return marked


def apply_mark_seen(root: dict[str, Any], sweep_id: str, seen_at: str) -> list[str]:
    """The subject's page was fetched again, unchanged: extend its observation, latest version and open
    findings to ``seen_at``; returns the ids of the findings touched."""
    if seen_at > (root.get("fetched_at") or ""):
        root.update(fetched_at=seen_at, sweep_id=sweep_id)
        root["item"] = {**(root.get("item") or {}), "fetched_at": seen_at, "sweep_id": sweep_id}
    _add(root["sweeps"], sweep_id)
    if root["kind"] == "listing" and root["versions"]:
        latest = max(root["versions"], key=lambda v: (v["fetched_at"], v["seq"]))
        if latest["last_seen_at"] < seen_at:
            latest.update(last_seen_at=seen_at, last_sweep_id=sweep_id)
    touched = []
    for fid, st in root["_states"].items():
        if st.get("resolved_at") is not None:
            continue
        if st["last_seen"] < seen_at:
            st.update(last_seen=seen_at, last_sweep_id=sweep_id)
        _add(st["sweeps"], sweep_id)
        touched.append(fid)
    return touched


def apply_finding_status(root: dict[str, Any], ids: Iterable[str], status: str,
                         only_from: Sequence[str] | None) -> list[str]:
    """Triage: set the status of these findings (those in ``only_from``, if given); returns the ids changed."""
    changed = []
    for fid in ids:
        st = root["_states"].get(fid)
        if st is None or st["status"] == status or (only_from is not None and st["status"] not in only_from):
            continue
        st["status"] = status
        changed.append(fid)
    return changed


def finding_id_of(f: dict[str, Any]) -> str:
    from crawler.items import finding_id

    return finding_id(f["subject_kind"], f["subject_id"], f["rule_id"])


def finish_root(root: dict[str, Any]) -> dict[str, Any]:
    """The root as stored: nested finding entries (indexed fields + the whole state) and summaries."""
    doc = {k: v for k, v in root.items() if k != "_states"}
    entries = []
    for fid, st in sorted(root["_states"].items()):
        snippet = (st.get("snippet") or "").replace("【", "").replace("】", "")
        text = [t for t in (index_tokens(x) for x in (snippet, *(st.get("matched") or []))) if t]
        entries.append({"finding_id": fid, "rule_id": st["rule_id"], "category": st["category"],
                        "severity": st["severity"], "rank": SEVERITY_RANK.get(st["severity"], 0),
                        "status": st["status"], "site": st["site"], "shop_id": st["shop_id"],
                        "subject_kind": st["subject_kind"], "sweeps": st["sweeps"], "text": text,
                        "first_seen": none_if_empty(st["first_seen"]), "last_seen": none_if_empty(st["last_seen"]),
                        "state": st})
    doc["findings"] = entries
    open_ranks = [e["rank"] for e in entries if e["status"] != RESOLVED]
    doc["open_findings"] = len(open_ranks)
    doc["max_rank"] = max(open_ranks, default=0)
    for name in _ROOT_DATES:
        if name in doc:
            doc[name] = none_if_empty(doc[name])
    return doc


# --------------------------------------------------------------------------- projections and reads


def finding_doc(root: dict[str, Any], st: dict[str, Any]) -> dict[str, Any]:
    """The findings-index document of one finding state (with a little of its subject for Kibana)."""
    doc = {k: v for k, v in st.items()}
    doc.update(severity_rank=SEVERITY_RANK.get(st["severity"], 0),
               subject_key=f"{st['subject_kind']}|{st['subject_id']}",
               subject_title=root.get("title") or root.get("name") or "" if not root.get("stub") else "",
               shop_name=(root.get("shop_name") or root.get("name") or "") if not root.get("stub") else "")
    for name in ("found_at", "first_seen", "last_seen", "resolved_at"):
        doc[name] = none_if_empty(doc.get(name))
    return doc


def version_id(subject_id: str, v: dict[str, Any]) -> str:
    return digest(f"{subject_id}|{v['fetched_at']}|{v['version_key']}")


def version_doc(root: dict[str, Any], v: dict[str, Any]) -> dict[str, Any]:
    return {**v, "version_id": version_id(root["subject_id"], v), "subject_id": root["subject_id"],
            "site": root.get("site", ""), "shop_id": root.get("shop_id", "")}


def snapshot_id(sha256: str, url: str, sweep_id: str) -> str:
    return digest(f"{sha256}|{url}|{sweep_id}")


def to_finding(st: dict[str, Any]) -> Finding:
    return Finding(**{k: st[k] for k in _FINDING_NAMES if k in st})


def to_stored(st: dict[str, Any]) -> StoredFinding:
    return StoredFinding(to_finding(st), st["status"], st["first_seen"], st["last_seen"], st["first_sweep_id"],
                         st["last_sweep_id"], st.get("resolved_at"), list(st.get("sweeps") or []))


def sorted_states(states: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worst first, then by rule id (the order ``findings_for`` returns)."""
    return sorted(states, key=lambda s: (-SEVERITY_RANK.get(s["severity"], 0), s["rule_id"]))


def to_item(root: dict[str, Any]) -> ListingItem | ShopItem:
    cls = ListingItem if root["kind"] == "listing" else ShopItem
    names = {f.name for f in fields(cls) if f.init}
    item = cls(**{k: v for k, v in (root.get("item") or {}).items() if k in names})
    item.findings = [to_finding(s) for s in sorted_states(root["_states"].values()) if s["status"] != RESOLVED]
    return item


def to_versions(root: dict[str, Any]) -> list[ListingVersion]:
    return [ListingVersion(root["subject_id"], v["html_sha256"], v["price"], v["original_price"], v["title"],
                           v["sweep_id"], v["fetched_at"], v["last_seen_at"], v["last_sweep_id"])
            for v in sorted(root.get("versions") or [], key=lambda v: (v["fetched_at"], v["seq"]))]
