"""Applying a batch of write operations to Elasticsearch: read the roots, merge, write with one bulk.

Mixed into ``ElasticStore``. ``_apply(ops)`` returns one result per operation (how many findings
a ``resolve`` marked, whether ``mark_seen`` knew the subject, ...; None for the others).

Operations (``op`` key): ``listing`` / ``shop`` (an observation), ``findings``, ``resolve``,
``mark_seen``, ``finding_status`` (triage), ``snapshot``, ``sweep_start`` / ``sweep_finish``,
``page_state``, ``triage_event``, ``user``, ``run``, and ``record`` (a record of ``transfer.dump``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netsword.clock import utc_now

from . import docs
from .reads import ROOT_ALIAS

log = logging.getLogger(__name__)


class Conflict(Exception):
    """Another writer changed a root document between our read and our write."""


@dataclass
class Batch:
    """What a batch changes, collected while its operations are applied in order."""

    roots: dict[tuple[str, str], dict | None]
    meta: dict[tuple[str, str], dict]  # if_seq_no / if_primary_term of the roots as read
    changed: set[tuple[str, str]] = field(default_factory=set)
    findings: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    docs: list[dict[str, Any]] = field(default_factory=list)  # plain documents: snapshots, pages, events
    sweeps: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    def touch(self, key: tuple[str, str], finding_ids: Iterable[str] = ()) -> None:
        self.changed.add(key)
        self.findings.setdefault(key, set()).update(finding_ids)

    def root(self, key: tuple[str, str], site: str = "", shop_id: str = "") -> dict[str, Any]:
        """The root of ``key``, a new stub if there is none yet."""
        root = self.roots.get(key)
        if root is None:
            root = self.roots[key] = docs.new_root(key[0], key[1], site, shop_id)
        return root


class ElasticApply:
    """Write side of ``ElasticStore`` (which provides ``es``, ``alias()`` and ``spool``)."""

    es: Any
    spool: Any
    _dirty: bool

    def alias(self, kind: str) -> str:
        raise NotImplementedError

    def _apply(self, ops: list[dict[str, Any]]) -> list[Any]:
        for _attempt in range(8):
            try:
                return self._apply_once(ops)
            except Conflict:
                time.sleep(0.05)
        raise RuntimeError(f"{self}: gave up after repeated write conflicts (another process keeps writing the "
                           "same subjects)")

    def _get_roots(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[dict | None, dict]]:
        keys = list(dict.fromkeys(keys))
        out: dict[tuple[str, str], tuple[dict | None, dict]] = {}
        for i in range(0, len(keys), 1000):
            chunk = keys[i:i + 1000]
            res = self.es.mget(docs=[{"_index": self.alias(ROOT_ALIAS[k]), "_id": sid} for k, sid in chunk])
            for key, d in zip(chunk, res["docs"], strict=True):
                if d.get("found"):
                    out[key] = (docs.load_root(d["_source"]), {"if_seq_no": d["_seq_no"],
                                                               "if_primary_term": d["_primary_term"]})
                else:
                    out[key] = (None, {})
        return out

    def _get_docs(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        res = self.es.mget(index=self.alias(kind), ids=ids)
        return {d["_id"]: dict(d["_source"]) for d in res["docs"] if d.get("found")}

    def _apply_once(self, ops: list[dict[str, Any]]) -> list[Any]:
        got = self._get_roots(k for op in ops for k in docs.op_roots(op))
        b = Batch({k: r for k, (r, _) in got.items()}, {k: m for k, (_, m) in got.items()})
        b.sweeps = self._get_docs("sweeps", [op["sweep_id"] for op in ops if op["op"].startswith("sweep_")]
                                  + [op["record"]["sweep_id"] for op in ops
                                     if op["op"] == "record" and op["record"]["type"] == "sweep"])
        b.users = self._get_docs("users", [op["user"]["username"] for op in ops if op["op"] == "user"])
        results = [self._apply_op(op, b) for op in ops]
        self._bulk(self._actions(b))
        return results

    def _apply_op(self, op: dict[str, Any], b: Batch) -> Any:
        kind = op["op"]
        if kind in docs.ROOT_KINDS:
            key = docs.op_roots(op)[0]
            before = b.roots.get(key)
            label = None if before is None else (before.get("title"), before.get("name"), before.get("shop_name"))
            root = b.roots[key] = docs.apply_subject(before, kind, op["item"])
            # the findings index shows the subject's title and shop name: refresh them when they change
            b.touch(key, root["_states"] if label != (root.get("title"), root.get("name"), root.get("shop_name"))
                    else ())
        elif kind == "findings":
            for f in op["findings"]:
                key = (f["subject_kind"], f["subject_id"])
                docs.apply_finding(b.root(key, f["site"], f["shop_id"]), f)
                b.touch(key, [docs.finding_id_of(f)])
        elif kind == "resolve":
            marked = 0
            for key in docs.op_roots(op):
                if b.roots.get(key) is not None:
                    ids = docs.apply_resolve(b.roots[key], op["keep"], op["at"], op["sweep_id"])
                    if ids:
                        b.touch(key, ids)
                        marked += len(ids)
            return marked
        elif kind == "mark_seen":
            root = b.roots.get(docs.op_roots(op)[0])
            if root is None or root.get("stub"):
                return False
            b.touch(docs.op_roots(op)[0], docs.apply_mark_seen(root, op["sweep_id"], op["seen_at"]))
            return True
        elif kind == "finding_status":
            n = 0
            for key in docs.op_roots(op):
                if b.roots.get(key) is not None:
                    ids = docs.apply_finding_status(b.roots[key], op["finding_ids"], op["status"], op["only_from"])
                    if ids:
                        b.touch(key, ids)
                        n += len(ids)
            return n
        elif kind == "snapshot":
            b.docs.append({"_op_type": "create", "_index": self.alias("snapshots"),
                           "_id": docs.snapshot_id(op["sha256"], op["url"], op["sweep_id"]),
                           "_source": {**{k: v for k, v in op.items() if k != "op"},
                                       "fetched_at": docs.none_if_empty(op.get("fetched_at"))}})
        elif kind in ("sweep_start", "sweep_finish"):
            sw = b.sweeps.setdefault(op["sweep_id"], {"sweep_id": op["sweep_id"], "site": "", "started_at": "",
                                                      "settings": {}, "stats": {}})
            if kind == "sweep_start":
                sw.update(site=op["site"], started_at=op["started_at"], settings=op["settings"], finished_at=None)
            else:
                sw.update(finished_at=op["finished_at"], stats=op["stats"])
        elif kind == "page_state":
            st = op["state"]
            b.docs.append({"_op_type": "index", "_index": self.alias("pages"), "_id": docs.digest(st["url"], 16),
                           "_source": {**st, "fetched_at": docs.none_if_empty(st.get("fetched_at"))}})
        elif kind == "run":
            r = op["run"]
            b.docs.append({"_op_type": "index", "_index": self.alias("runs"), "_id": r["run_id"],
                           "_source": {**r, "started_at": docs.none_if_empty(r.get("started_at")),
                                       "finished_at": docs.none_if_empty(r.get("finished_at"))}})
        elif kind == "triage_event":
            ev = op["event"]
            b.docs.append({"_op_type": "index", "_index": self.alias("triage"), "_id": str(ev["event_id"]),
                           "_source": ev})
        elif kind == "user":
            u, now = dict(op["user"]), op.get("at") or utc_now()
            old = b.users.get(u["username"]) or {}
            u.update(created_at=old.get("created_at") or u.get("created_at") or now, updated_at=now,
                     session_epoch=max(int(old.get("session_epoch") or 0), int(u.get("session_epoch") or 0)))
            b.users[u["username"]] = u
        elif kind == "record":
            self._apply_record(op["record"], b)
        else:
            raise ValueError(f"unknown store operation {kind!r}")
        return None

    def _apply_record(self, rec: dict[str, Any], b: Batch) -> None:
        """A record of ``transfer.dump``: a whole subject, finding, snapshot or sweep as another store kept it."""
        t = rec["type"]
        if t in docs.ROOT_KINDS:
            key = docs.op_roots({"op": "record", "record": rec})[0]
            root = docs.apply_subject(None, t, rec["item"])
            if b.roots.get(key) is not None:
                root["_states"] = b.roots[key]["_states"]
            root.update(first_seen=rec.get("first_seen") or root["first_seen"],
                        first_sweep_id=rec.get("first_sweep_id", root["first_sweep_id"]),
                        sweeps=sorted(set(rec.get("sweeps") or root["sweeps"])))
            if t == "listing":
                root["versions"] = [{**v, "seq": i + 1} for i, v in enumerate(rec.get("versions") or [])]
            b.roots[key] = root
            b.touch(key, root["_states"])
        elif t == "finding":
            f = rec["finding"]
            key = (f["subject_kind"], f["subject_id"])
            fid = docs.finding_id_of(f)
            b.root(key, f["site"], f["shop_id"])["_states"][fid] = {**f, "finding_id": fid, **rec["state"]}
            b.touch(key, [fid])
        elif t == "snapshot":
            self._apply_op({"op": "snapshot", **{k: v for k, v in rec.items() if k != "type"}}, b)
        elif t == "sweep":
            b.sweeps[rec["sweep_id"]] = {k: v for k, v in rec.items() if k != "type"}
        elif t in ("page_state", "triage_event", "user", "run"):
            key = {"page_state": "state", "triage_event": "event", "user": "user", "run": "run"}[t]
            self._apply_op({"op": t, key: rec[key], "at": (rec.get("user") or {}).get("updated_at")}, b)
        else:
            raise ValueError(f"unknown record type {t!r}")

    def _actions(self, b: Batch) -> list[dict[str, Any]]:
        actions: list[dict[str, Any]] = []
        for key in sorted(b.changed):
            root = b.roots[key]
            assert root is not None
            meta = b.meta.get(key) or {}
            action = {"_index": self.alias(ROOT_ALIAS[key[0]]), "_id": key[1], "_source": docs.finish_root(root)}
            action.update({"_op_type": "index", **meta} if meta else {"_op_type": "create"})
            actions.append(action)
            for fid in sorted(b.findings.get(key, ())):
                actions.append({"_op_type": "index", "_index": self.alias("findings"), "_id": fid,
                                "_source": docs.finding_doc(root, root["_states"][fid])})
            for v in root.get("versions") or []:
                vdoc = docs.version_doc(root, v)
                actions.append({"_op_type": "index", "_index": self.alias("versions"), "_id": vdoc["version_id"],
                                "_source": vdoc})
        actions += b.docs
        for sid, sw in b.sweeps.items():
            src = {**sw, "started_at": docs.none_if_empty(sw.get("started_at")),
                   "finished_at": docs.none_if_empty(sw.get("finished_at"))}
            actions.append({"_op_type": "index", "_index": self.alias("sweeps"), "_id": sid, "_source": src})
        for name, u in b.users.items():
            actions.append({"_op_type": "index", "_index": self.alias("users"), "_id": name, "_source": u})
        return actions

    def _bulk(self, actions: list[dict[str, Any]]) -> None:
        from .flavour import streaming_bulk

        if not actions:
            return
        self._dirty = True
        conflict = False
        sources = {a["_id"]: a["_source"] for a in actions}
        for ok, item in streaming_bulk(self.es, actions, chunk_size=500, max_chunk_bytes=50 * 2**20,
                                               raise_on_error=False, raise_on_exception=True, max_retries=5,
                                               initial_backoff=0.5, max_backoff=30, yield_ok=False):
            if ok:
                continue
            op_type, info = next(iter(item.items()))
            status, index = info.get("status"), info.get("_index", "")
            if status == 409:
                if not index.startswith(self.alias("snapshots")):
                    conflict = True  # a root changed under us: read again, apply again
                continue  # a snapshot record already there: kept as first written
            source = sources.get(info.get("_id"), {})
            reason = f"{op_type} {index}/{info.get('_id')} refused ({status}): {info.get('error')}"
            log.error("%s; url %s; kept in %s", reason, source.get("url", "?"), self.spool.rejected_path)
            self.spool.reject({"op": "document", "index": index, "id": info.get("_id"), "source": source}, reason)
        if conflict:
            raise Conflict()
