"""Reads of the Elasticsearch engine: by id, searches, counts, the export stream, the copy dump.

Mixed into ``ElasticStore``, which provides the client, the aliases, ``_reading()`` (pending
writes out, indices refreshed before a search), ``_call()`` (unreachable server ->
``StoreUnavailable``) and ``_get_roots()``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, fields
from typing import Any

from crawler.items import CATEGORIES, SEVERITIES, ListingItem, ShopItem

from ..base import (
    RESOLVED,
    FilterValue,
    Hit,
    HitFinding,
    ListingVersion,
    PageState,
    SearchQuery,
    SearchResult,
    Snapshot,
    StoredFinding,
    Sweep,
    SweepRun,
    TriageEvent,
    User,
    as_query,
    as_tuple,
    highlight,
)
from ..sqlite.search import LISTING_TEXT, SHOP_TEXT
from . import docs
from . import query as eq

log = logging.getLogger(__name__)

ROOT_ALIAS = {"listing": "listings", "shop": "shops"}
_HIT_EXCLUDES = ["search_text", "tokens", "versions", "findings.text"]


class ElasticReads:
    """Read-side methods of ``ElasticStore``."""

    es: Any
    config: Any
    _get_roots: Any  # ElasticApply._get_roots

    def alias(self, kind: str) -> str:
        raise NotImplementedError

    def _reading(self, search: bool = False) -> None:
        raise NotImplementedError

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    # ----------------------------------------------------------------- reads by id

    def _root(self, kind: str, subject_id: str) -> dict[str, Any] | None:
        self._reading()
        root, _ = self._call(self._get_roots, [(kind, subject_id)])[(kind, subject_id)]
        return root

    def get_listing(self, subject_id: str) -> ListingItem | None:
        root = self._root("listing", subject_id)
        return None if root is None or root.get("stub") else docs.to_item(root)  # type: ignore[return-value]

    def get_shop(self, subject_id: str) -> ShopItem | None:
        root = self._root("shop", subject_id)
        return None if root is None or root.get("stub") else docs.to_item(root)  # type: ignore[return-value]

    def listing_history(self, subject_id: str) -> list[ListingVersion]:
        root = self._root("listing", subject_id)
        return [] if root is None else docs.to_versions(root)

    def findings_for(self, subject_id: str, *, kind: str | None = None,
                     include_resolved: bool = True) -> list[StoredFinding]:
        self._reading()
        kinds = (kind,) if kind else docs.ROOT_KINDS
        got = self._call(self._get_roots, [(k, subject_id) for k in kinds])
        states = [s for root, _ in got.values() if root for s in root["_states"].values()
                  if include_resolved or s["status"] != RESOLVED]
        return [docs.to_stored(s) for s in docs.sorted_states(states)]

    def snapshots(self, sha256: str) -> list[Snapshot]:
        self._reading(search=True)
        hits = self._scan(self.alias("snapshots"), {"term": {"sha256": sha256}}, [{"fetched_at": "asc"},
                                                                                   {"url": "asc"}])
        return [Snapshot(s["sha256"], s["url"], s["path"], s.get("fetched_at") or "", s["status"], s["sweep_id"],
                         bool(s["rendered"])) for s in (h["_source"] for h in hits)]

    def sweeps(self) -> list[Sweep]:
        self._reading(search=True)
        hits = self._scan(self.alias("sweeps"), {"match_all": {}}, [{"started_at": {"order": "desc",
                                                                                    "missing": "_last"}},
                                                                    {"sweep_id": "desc"}])
        return [Sweep(s["sweep_id"], s.get("site") or "", s.get("started_at") or "", s.get("finished_at"),
                      s.get("settings") or {}, s.get("stats") or {}) for s in (h["_source"] for h in hits)]

    def _scan(self, index: str, query: dict[str, Any], sort: list[Any], *, size: int = 1000,
              source: Any = True) -> Iterator[dict[str, Any]]:
        """Every hit of ``query`` in ``sort`` order (point in time + search_after)."""
        pit = self._call(self.es.open_point_in_time, index=index, keep_alive="2m")["id"]
        try:
            after = None
            while True:
                res = self._call(self.es.search, pit={"id": pit, "keep_alive": "2m"}, query=query, sort=sort,
                                 size=size, search_after=after, source=source, track_total_hits=False)
                hits = res["hits"]["hits"]
                yield from hits
                if len(hits) < size:
                    return
                after = hits[-1]["sort"]
                pit = res.get("pit_id", pit)
        finally:
            try:
                self.es.close_point_in_time(id=pit)
            except Exception as e:  # an expired or already closed point in time is no reason to fail a read
                log.debug("closing point in time: %s", e)

    # ----------------------------------------------------------------- questions

    def counts(self, sweep_id: str | None = None) -> dict[str, Any]:
        self._reading(search=True)
        sweep = [{"term": {"sweeps": sweep_id}}] if sweep_id else []
        by_sweep = [{"term": {"sweep_id": sweep_id}}] if sweep_id else []
        subject = {"bool": {"filter": sweep, "must_not": [{"term": {"stub": True}}]}}

        def count(kind: str, query: dict[str, Any]) -> int:
            return int(self._call(self.es.count, index=self.alias(kind), query=query)["count"])

        out: dict[str, Any] = {"listings": count("listings", subject), "shops": count("shops", subject),
                               "snapshots": count("snapshots", {"bool": {"filter": by_sweep}}),
                               "sweeps": count("sweeps", {"bool": {"filter": by_sweep}}),
                               "listing_versions": count("versions", {"bool": {"filter": by_sweep}})}
        res = self._call(self.es.search, index=self.alias("findings"), size=0, query={"bool": {"filter": sweep}},
                         aggs={"resolved": {"filter": {"term": {"status": RESOLVED}}},
                               "open": {"filter": {"bool": {"must_not": [{"term": {"status": RESOLVED}}]}},
                                        "aggs": {"category": {"terms": {"field": "category", "size": 1000}},
                                                 "severity": {"terms": {"field": "severity", "size": 100}}}}},
                         track_total_hits=True)
        aggs = res["aggregations"]
        out["findings"] = aggs["open"]["doc_count"]
        out["resolved"] = aggs["resolved"]["doc_count"]
        for key, name, order in (("by_category", "category", CATEGORIES), ("by_severity", "severity", SEVERITIES)):
            got = {b["key"]: b["doc_count"] for b in aggs["open"][name]["buckets"]}
            out[key] = {k: got.pop(k, 0) for k in order} | got
        return out

    def search(self, q: SearchQuery | Mapping[str, Any]) -> SearchResult:
        q = as_query(q)
        self._reading(search=True)
        kinds = eq.kinds_for(q)
        if not kinds:
            return SearchResult([], 0, {"category": {}, "severity": {}, "site": {}}, q)
        index = ",".join(self.alias(ROOT_ALIAS[k]) for k in kinds)
        query = eq.subject_query(q)
        limit, offset = max(q.limit, 0), max(q.offset, 0)
        in_window = offset + limit <= self.config.max_window
        res = self._call(self.es.search, index=index, query=query, sort=eq.SORT, size=limit if in_window else 0,
                         from_=offset if in_window else 0, aggs=eq.facet_aggs(q), track_total_hits=True,
                         source_excludes=_HIT_EXCLUDES)
        total = int(res["hits"]["total"]["value"])
        facets, more_cats = eq.facet_counts(res.get("aggregations") or {})
        if more_cats:  # categories outside the form's list: one more request counts them
            extra = self._call(self.es.search, index=index, query=query, size=0, aggs=eq.facet_aggs(q, more_cats))
            facets["category"].update(eq.facet_counts(extra.get("aggregations") or {})[0]["category"])
        page = res["hits"]["hits"] if in_window else self._deep_page(index, query, offset, limit)
        return SearchResult(self._hits(q, page), total, eq.order_facets(facets), q)

    def _deep_page(self, index: str, query: dict[str, Any], offset: int, limit: int) -> list[dict[str, Any]]:
        """Hits [offset, offset + limit) beyond the result window: walk there with search_after."""
        if limit == 0:
            return []
        step = min(self.config.max_window, 1000)
        pit = self._call(self.es.open_point_in_time, index=index, keep_alive="2m")["id"]
        try:
            after, skipped = None, 0
            while skipped + step <= offset:  # whole pages before the wanted one: sort values only
                res = self._call(self.es.search, pit={"id": pit, "keep_alive": "2m"}, query=query, sort=eq.SORT,
                                 size=step, search_after=after, source=False, track_total_hits=False)
                hits = res["hits"]["hits"]
                if not hits:
                    return []
                after, skipped = hits[-1]["sort"], skipped + len(hits)
                if len(hits) < step:
                    return []
            out: list[dict[str, Any]] = []
            want_from = offset - skipped
            while len(out) < want_from + limit:
                size = min(self.config.max_window, want_from + limit - len(out))
                res = self._call(self.es.search, pit={"id": pit, "keep_alive": "2m"}, query=query, sort=eq.SORT,
                                 size=size, search_after=after, source_excludes=_HIT_EXCLUDES,
                                 track_total_hits=False)
                hits = res["hits"]["hits"]
                out.extend(hits)
                if len(hits) < size:
                    break
                after = hits[-1]["sort"]
            return out[want_from:want_from + limit]
        finally:
            try:
                self.es.close_point_in_time(id=pit)
            except Exception as e:
                log.debug("closing point in time: %s", e)

    def _hits(self, q: SearchQuery, page: list[dict[str, Any]]) -> list[Hit]:
        sources = [h["_source"] for h in page]
        missing = {f"{s['site']}:{s.get('shop_id', '')}" for s in sources
                   if s["kind"] == "listing" and not s.get("shop_name")}
        shop_names = {}
        if missing:
            for key, (root, _) in self._call(self._get_roots, [("shop", sid) for sid in missing]).items():
                if root is not None and not root.get("stub"):
                    shop_names[key[1]] = root.get("name") or ""
        terms = q.terms()[0]
        hits = []
        for s in sources:
            kind = s["kind"]
            states = docs.sorted_states(e["state"] for e in s.get("findings") or [] if eq.finding_passes(e["state"], q))
            ranks = [SEVERITIES.index(st["severity"]) + 1 for st in states if st["severity"] in SEVERITIES]
            shop_name = (s.get("shop_name") or shop_names.get(f"{s['site']}:{s.get('shop_id', '')}", "")
                         if kind == "listing" else s.get("name") or "")
            hit = Hit(kind, s["subject_id"], s["site"], (s.get("title") if kind == "listing" else s.get("name")) or "",
                      s.get("url") or "", s.get("shop_id") or "", shop_name,
                      s.get("price") if kind == "listing" else None,
                      SEVERITIES[max(ranks) - 1] if ranks else None, s.get("fetched_at") or "",
                      [HitFinding(st["finding_id"], st["rule_id"], st["title"], st["category"], st["severity"],
                                  st["status"], st["field"], st["snippet"]) for st in states])
            if terms:
                values = {**(s.get("item") or {}), "shop_name": shop_name}
                texts = [(n, str(values.get(n) or "")) for n in (LISTING_TEXT if kind == "listing" else SHOP_TEXT)]
                texts += [(f"norm.{k}", v) for k, v in ((s.get("item") or {}).get("norm") or {}).items()]
                texts += [(f"finding:{f.rule_id}", f.snippet) for f in hit.findings]
                hit.highlight_field, hit.highlight = highlight(texts, terms)
            hits.append(hit)
        return hits

    # ----------------------------------------------------------------- export stream

    def iter_findings(self, q: SearchQuery | Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        q = as_query(q)
        self._reading(search=True)
        query = eq.findings_index_query(q)
        keys: set[str] | None = None
        pos, neg = q.terms()
        if pos or neg or q.price_min is not None or q.price_max is not None:
            sub = SearchQuery(text=q.text, price_min=q.price_min, price_max=q.price_max, flagged_only=False)
            kinds = eq.kinds_for(sub)
            index = ",".join(self.alias(ROOT_ALIAS[k]) for k in kinds)
            keys = {f"{h['_source']['kind']}|{h['_source']['subject_id']}"
                    for h in self._scan(index, eq.subject_query(sub, rank=False), [{"kind": "asc"}, {"key": "asc"}],
                                        source=["kind", "subject_id"])}
            if not keys:
                return
            if len(keys) <= 60_000:
                query["bool"]["filter"].append({"terms": {"subject_key": sorted(keys)}})
                keys = None
        batch: list[dict[str, Any]] = []
        for h in self._scan(self.alias("findings"), query, eq.FINDINGS_SORT):
            if keys is not None and h["_source"]["subject_key"] not in keys:
                continue
            batch.append(h["_source"])
            if len(batch) >= 1000:
                yield from self._export_rows(batch)
                batch = []
        if batch:
            yield from self._export_rows(batch)

    def _export_rows(self, batch: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        wanted = [("listing", f["subject_id"]) for f in batch if f["subject_kind"] == "listing"]
        wanted += [("shop", f"{f['site']}:{f['shop_id']}") for f in batch]
        roots = {k: r for k, (r, _) in self._call(self._get_roots, wanted).items() if r and not r.get("stub")}
        shas = sorted({f["snapshot_sha256"] for f in batch if f.get("snapshot_sha256")})
        snap_at: dict[str, str] = {}
        if shas:
            for h in self._scan(self.alias("snapshots"), {"terms": {"sha256": shas}}, [{"sha256": "asc"}],
                                source=["sha256", "fetched_at"]):
                s = h["_source"]
                if s.get("fetched_at") and s["fetched_at"] > snap_at.get(s["sha256"], ""):
                    snap_at[s["sha256"]] = s["fetched_at"]
        for f in batch:
            listing = roots.get(("listing", f["subject_id"])) if f["subject_kind"] == "listing" else None
            shop = roots.get(("shop", f"{f['site']}:{f['shop_id']}"))
            subject = listing if f["subject_kind"] == "listing" else roots.get(("shop", f["subject_id"]))
            row = {k: f.get(k) for k in ("rule_id", "rule_version", "pack", "title", "category", "severity", "basis",
                                         "subject_kind", "subject_id", "site", "shop_id", "url", "field", "snippet",
                                         "snapshot_sha256", "sweep_id", "found_at", "finding_id", "status",
                                         "first_seen", "last_seen", "first_sweep_id", "last_sweep_id",
                                         "resolved_at")}
            row.update(subject_title=(listing or {}).get("title") or "", price=(listing or {}).get("price"),
                       currency=(listing or {}).get("currency"),
                       shop_name=(listing or {}).get("shop_name") or (shop or {}).get("name") or "",
                       operator=(shop or {}).get("operator") or "",
                       license_number=(shop or {}).get("license_number") or "",
                       fetched_at=snap_at.get(f.get("snapshot_sha256") or "") or f.get("last_seen")
                       or (subject or {}).get("fetched_at"),
                       matched=list(f.get("matched") or []), deobfuscated=list(f.get("deobfuscated") or []),
                       start=f.get("start"), end=f.get("end"))
            yield row

    # ----------------------------------------------------------------- crawler and analyst side

    def page_state(self, url: str) -> PageState | None:
        self._reading()
        d = self._call(self.es.options(ignore_status=404).get, index=self.alias("pages"), id=docs.digest(url, 16))
        if not d.get("found"):
            return None
        names = {f.name for f in fields(PageState)}
        src = d["_source"]
        return PageState(**{k: (src.get(k) or "") if k != "url" else src["url"] for k in names})

    def sweep_urls(self, sweep_id: str) -> set[str]:
        self._reading(search=True)
        return {h["_source"]["url"] for h in self._scan(self.alias("pages"), {"term": {"sweep_id": sweep_id}},
                                                         [{"url": "asc"}], source=["url"])}

    def iter_subject_ids(self, kind: str, site: FilterValue = None) -> Iterator[str]:
        self._reading(search=True)
        query: dict[str, Any] = {"bool": {"filter": eq._terms("site", as_tuple(site)),
                                          "must_not": [{"term": {"stub": True}}]}}
        for h in self._scan(self.alias(ROOT_ALIAS[kind]), query, [{"key": "asc"}], source=["key"]):
            yield h["_source"]["key"]

    def iter_shops(self, site: FilterValue = None) -> Iterator[ShopItem]:
        self._reading(search=True)
        query: dict[str, Any] = {"bool": {"filter": eq._terms("site", as_tuple(site)),
                                          "must_not": [{"term": {"stub": True}}]}}
        names = {f.name for f in fields(ShopItem) if f.init}
        for h in self._scan(self.alias("shops"), query, [{"site": "asc"}, {"shop_id": "asc"}], source=["item"]):
            yield ShopItem(**{k: v for k, v in (h["_source"].get("item") or {}).items() if k in names})

    def triage_events(self, lead_id: str | None = None) -> list[TriageEvent]:
        self._reading(search=True)
        query = {"term": {"lead_id": lead_id}} if lead_id is not None else {"match_all": {}}
        return [TriageEvent(**{k: v for k, v in h["_source"].items() if k in _EVENT_FIELDS})
                for h in self._scan(self.alias("triage"), query, [{"event_id": "asc"}])]

    def get_user(self, username: str) -> User | None:
        self._reading()
        d = self._call(self.es.options(ignore_status=404).get, index=self.alias("users"), id=username)
        return _user(d["_source"]) if d.get("found") else None

    def users(self) -> list[User]:
        self._reading(search=True)
        return [_user(h["_source"]) for h in self._scan(self.alias("users"), {"match_all": {}},
                                                         [{"username": "asc"}])]

    def runs(self, *, site: FilterValue = None, kind: FilterValue = None, status: FilterValue = None,
             campaign: str | None = None, festival: str | None = None, job_id: str | None = None,
             run_id: str | None = None, limit: int | None = 100) -> list[SweepRun]:
        self._reading(search=True)
        filt = eq._terms("site", as_tuple(site)) + eq._terms("kind", as_tuple(kind)) + \
            eq._terms("status", as_tuple(status))
        filt += [{"term": {k: v}} for k, v in (("campaign", campaign), ("festival", festival), ("job_id", job_id),
                                               ("run_id", run_id)) if v is not None]
        sort = [{"started_at": {"order": "desc", "missing": "_last"}}, {"run_id": "desc"}]
        hits = self._scan(self.alias("runs"), {"bool": {"filter": filt}}, sort, size=min(limit or 1000, 1000))
        out = []
        for h in hits:
            src = h["_source"]
            out.append(SweepRun(**{k: src.get(k) for k in _RUN_FIELDS if k in src}))
            if limit is not None and len(out) >= limit:
                break
        return out

    # ----------------------------------------------------------------- copy

    def dump(self) -> Iterator[dict[str, Any]]:
        """Everything this store keeps, as engine-neutral records (see ``transfer``)."""
        self._reading(search=True)
        for h in self._scan(self.alias("sweeps"), {"match_all": {}}, [{"sweep_id": "asc"}]):
            s = h["_source"]
            yield {"type": "sweep", "sweep_id": s["sweep_id"], "site": s.get("site") or "",
                   "started_at": s.get("started_at") or "", "finished_at": s.get("finished_at"),
                   "settings": s.get("settings") or {}, "stats": s.get("stats") or {}}
        for kind in docs.ROOT_KINDS:
            for h in self._scan(self.alias(ROOT_ALIAS[kind]), {"match_all": {}}, [{"key": "asc"}]):
                root = docs.load_root(h["_source"])
                if not root.get("stub"):
                    rec = {"type": kind, "item": root.get("item") or {}, "first_seen": root.get("first_seen"),
                           "first_sweep_id": root.get("first_sweep_id") or "", "sweeps": root.get("sweeps") or []}
                    if kind == "listing":
                        rec["versions"] = [{k: v for k, v in ver.items() if k != "seq"}
                                           for ver in sorted(root.get("versions") or [],
                                                             key=lambda v: (v["fetched_at"], v["seq"]))]
                    yield rec
                for st in root["_states"].values():
                    yield {"type": "finding", "finding": asdict(docs.to_finding(st)),
                           "state": {k: st.get(k) for k in docs._STATE_KEYS}}
        for h in self._scan(self.alias("snapshots"), {"match_all": {}}, [{"sha256": "asc"}, {"url": "asc"}]):
            yield {"type": "snapshot", **h["_source"], "fetched_at": h["_source"].get("fetched_at") or ""}
        for h in self._scan(self.alias("pages"), {"match_all": {}}, [{"url": "asc"}]):
            yield {"type": "page_state", "state": {f.name: h["_source"].get(f.name) or "" for f in fields(PageState)}}
        for h in self._scan(self.alias("triage"), {"match_all": {}}, [{"event_id": "asc"}]):
            yield {"type": "triage_event", "event": {k: v for k, v in h["_source"].items() if k in _EVENT_FIELDS}}
        for h in self._scan(self.alias("users"), {"match_all": {}}, [{"username": "asc"}]):
            yield {"type": "user", "user": asdict(_user(h["_source"]))}
        for h in self._scan(self.alias("runs"), {"match_all": {}}, [{"run_id": "asc"}]):
            yield {"type": "run", "run": {k: h["_source"].get(k) for k in _RUN_FIELDS}}


_EVENT_FIELDS = frozenset(f.name for f in fields(TriageEvent))
_RUN_FIELDS = tuple(f.name for f in fields(SweepRun))


def _user(src: dict[str, Any]) -> User:
    return User(src["username"], src["password_hash"], src.get("role") or "analyst", bool(src.get("disabled")),
                src.get("created_at") or "", src.get("updated_at") or "", int(src.get("session_epoch") or 0))
