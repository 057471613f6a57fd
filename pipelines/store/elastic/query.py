"""SearchQuery -> Elasticsearch query DSL, with the same meaning as the SQLite engine.

Text: every subject document carries ``search_text``, its texts as the very tokens the SQLite
engine indexes (CJK runs as overlapping bigrams plus the run's last character, latin words
and numbers whole, NFKC + case folded; ``sqlite_search.index_tokens``), analysed by whitespace.
A query term becomes a ``match_phrase`` over the same tokens (a single CJK character a
``prefix`` query), so 高仿 finds 耐克高仿运动鞋 but neither 仿真花 nor 高 仿, in both engines.
A term also matches when it occurs in the evidence of one of the subject's findings
(``findings.text``). The human-facing fields (title, description, ...) are analysed with the
built-in ``cjk`` analyzer and jieba's tokens sit in ``tokens``, for Kibana and ad-hoc queries.

Ranking: hits come worst finding first. The nested ``findings`` query scores each subject by
the highest severity rank among its findings that pass the finding filters (function_score,
score_mode max), then newest observation first.
"""

from __future__ import annotations

from typing import Any

from crawler.items import CATEGORIES, SEVERITIES

from ..base import RESOLVED, SearchQuery, as_tuple, query_term_tokens


def phrase(field: str, term: str) -> dict[str, Any] | None:
    toks, prefix = query_term_tokens(term)
    if not toks:
        return None
    if prefix and len(toks) == 1:
        return {"prefix": {field: toks[0]}}
    if prefix:
        return {"match_phrase_prefix": {field: {"query": " ".join(toks), "max_expansions": 1000}}}
    return {"match_phrase": {field: {"query": " ".join(toks)}}}


def text_clause(term: str) -> dict[str, Any] | None:
    """The subject's own text, or the evidence of any of its findings, contains ``term``."""
    own = phrase("search_text", term)
    if own is None:
        return None
    evidence = {"nested": {"path": "findings", "query": phrase("findings.text", term)}}
    return {"bool": {"should": [own, evidence], "minimum_should_match": 1}}


def _terms(field: str, values: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"terms": {field: list(values)}}] if values else []


def finding_filters(q: SearchQuery, p: str = "findings.") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(filter, must_not) clauses selecting the findings that count (``p``: field prefix)."""
    filt = (_terms(p + "category", as_tuple(q.category)) + _terms(p + "severity", as_tuple(q.severity))
            + _terms(p + "site", as_tuple(q.site)))
    must_not: list[dict[str, Any]] = []
    if as_tuple(q.status):
        filt += _terms(p + "status", as_tuple(q.status))
    elif not q.include_resolved:
        must_not.append({"term": {p + "status": RESOLVED}})
    for name, value in (("shop_id", q.shop_id), ("subject_kind", q.kind), ("sweeps", q.sweep_id)):
        if value:
            filt.append({"term": {p + name: value}})
    if q.seen_from:
        filt.append({"range": {p + "last_seen": {"gte": q.seen_from}}})
    if q.seen_before:
        filt.append({"range": {p + "first_seen": {"lt": q.seen_before}}})
    return filt, must_not


def finding_passes(st: dict[str, Any], q: SearchQuery) -> bool:
    """The same selection as ``finding_filters``, on a finding state in Python."""
    for name, values in (("category", as_tuple(q.category)), ("severity", as_tuple(q.severity)),
                         ("site", as_tuple(q.site)), ("status", as_tuple(q.status))):
        if values and st.get(name) not in values:
            return False
    if not as_tuple(q.status) and not q.include_resolved and st.get("status") == RESOLVED:
        return False
    if (q.shop_id and st.get("shop_id") != q.shop_id) or (q.kind and st.get("subject_kind") != q.kind):
        return False
    if q.sweep_id and q.sweep_id not in (st.get("sweeps") or []):
        return False
    if q.seen_from and not (st.get("last_seen") or "") >= q.seen_from:
        return False
    return not (q.seen_before and not (st.get("first_seen") or "") < q.seen_before)


def _nested_findings(q: SearchQuery, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    filt, must_not = finding_filters(q)
    return {"nested": {"path": "findings", "query": {"bool": {"filter": filt + (extra or []), "must_not": must_not}}}}


def kinds_for(q: SearchQuery) -> list[str]:
    """Which subject kinds the query can return."""
    kinds = [q.kind] if q.kind in ("listing", "shop") else ["listing", "shop"]
    if q.price_min is not None or q.price_max is not None:
        kinds = [k for k in kinds if k == "listing"]
    return kinds


def subject_query(q: SearchQuery, *, rank: bool = True) -> dict[str, Any]:
    """The query over root documents: subject filters, text, and the finding condition."""
    filt: list[dict[str, Any]] = [{"terms": {"kind": kinds_for(q)}}]
    must_not: list[dict[str, Any]] = [{"term": {"stub": True}}]
    filt += _terms("site", as_tuple(q.site))
    if q.shop_id:
        filt.append({"term": {"shop_id": q.shop_id}})
    price = {op: v for op, v in (("gte", q.price_min), ("lte", q.price_max)) if v is not None}
    if price:
        filt.append({"range": {"price": price}})
    if q.sweep_id:
        filt.append({"term": {"sweeps": q.sweep_id}})
    groups, neg = q.term_groups()
    for group in groups:  # every group required; one of its alternatives is enough
        clauses = [c for c in map(text_clause, group) if c]
        if len(clauses) == 1:
            filt.append(clauses[0])
        elif clauses:
            filt.append({"bool": {"should": clauses, "minimum_should_match": 1}})
    must_not += [c for c in map(text_clause, neg) if c]
    body: dict[str, Any] = {"filter": filt, "must_not": must_not}
    if rank:
        nf, nm = finding_filters(q)
        scored = {"nested": {"path": "findings", "score_mode": "max", "query": {"function_score": {
            "query": {"bool": {"filter": nf, "must_not": nm}},
            "field_value_factor": {"field": "findings.rank", "missing": 0}, "boost_mode": "replace"}}}}
        body["must" if q.needs_finding else "should"] = [scored]
    elif q.needs_finding:
        body["filter"] = [*filt, _nested_findings(q)]
    return {"bool": body}


#: Hits: worst matching finding first, then newest observation; ties by kind and subject id.
SORT: list[Any] = [{"_score": "desc"}, {"fetched_at": {"order": "desc", "missing": "_last"}}, {"kind": "asc"},
                   {"key": "asc"}]


def facet_aggs(q: SearchQuery, categories: list[str] | None = None) -> dict[str, Any]:
    """Subjects per category / severity (the four known ones) of their matching findings, per site;
    plus discovery of categories outside the form's list (counted by a second request)."""
    cats = list(CATEGORIES) if categories is None else categories
    sevs = list(SEVERITIES) if categories is None else []
    aggs: dict[str, Any] = {
        "category": {"filters": {"filters": {c: _nested_findings(q, [{"term": {"findings.category": c}}])
                                             for c in cats}}},
        "severity": {"filters": {"filters": {s: _nested_findings(q, [{"term": {"findings.severity": s}}])
                                             for s in sevs}}},
    }
    if categories is None:
        filt, must_not = finding_filters(q)
        aggs["site"] = {"terms": {"field": "site", "size": 10_000}}
        aggs["seen"] = {"nested": {"path": "findings"}, "aggs": {"f": {
            "filter": {"bool": {"filter": filt, "must_not": must_not}},
            "aggs": {"category": {"terms": {"field": "findings.category", "size": 1000}}}}}}
    for name in ("category", "severity"):
        if not aggs[name]["filters"]["filters"]:
            del aggs[name]
    return aggs


def facet_counts(aggs: dict[str, Any]) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Facets from a facet_aggs response, and the categories still to count."""
    facets: dict[str, dict[str, int]] = {"category": {}, "severity": {}, "site": {}}
    for name in ("category", "severity"):
        for value, bucket in ((aggs.get(name) or {}).get("buckets") or {}).items():
            if bucket["doc_count"]:
                facets[name][value] = bucket["doc_count"]
    for b in (aggs.get("site") or {}).get("buckets") or []:
        facets["site"][b["key"]] = b["doc_count"]
    seen = ((aggs.get("seen") or {}).get("f")) or {}
    more_cats = [b["key"] for b in (seen.get("category") or {}).get("buckets", []) if b["key"] not in CATEGORIES]
    return facets, more_cats


def order_facets(facets: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The SQLite engine's order: counts descending then value; severities worst first."""
    by_count = {name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
                for name, values in facets.items() if name != "severity"}
    rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    sev = dict(sorted(facets.get("severity", {}).items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
    return {"category": by_count.get("category", {}), "severity": sev, "site": by_count.get("site", {})}


def findings_index_query(q: SearchQuery) -> dict[str, Any]:
    """Filters over the findings index (top-level fields) for ``iter_findings``."""
    filt, must_not = finding_filters(q, p="")
    return {"bool": {"filter": filt, "must_not": must_not}}


#: Export order: worst first, then site, shop, subject, rule.
FINDINGS_SORT: list[Any] = [{"severity_rank": "desc"}, {"site": "asc"}, {"shop_id": "asc"}, {"subject_id": "asc"},
                            {"rule_id": "asc"}, {"finding_id": "asc"}]
