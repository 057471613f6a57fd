"""Chinese on the real search engine: the ``cjk`` bigram analyzer finds two-character words such as 高仿 as
phrases, and the 20 analyst queries of the search benchmark (``bench/bench_index.py``) select the same
subjects on SQLite and on the search engines (ranking may differ; the set may not)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from standin import store_url

from bench.bench_index import QUERIES, fill_search_corpus
from pipelines.store import open_store

N_LISTINGS = 800


def test_cjk_analyzer_finds_two_character_words_as_phrases(es_factory):
    store = es_factory()
    es = store.es
    tokens = [t["token"] for t in es.indices.analyze(index=store.alias("listings"), field="title",
                                                     text="耐克高仿运动鞋")["tokens"]]
    assert tokens == ["耐克", "克高", "高仿", "仿运", "运动", "动鞋"]
    index = store.alias("listings")
    for i, title in enumerate(["耐克高仿运动鞋", "仿真花 高级", "高 仿 分开写", "高仿名牌包"]):
        es.index(index=index, id=f"t{i}", document={"title": title, "kind": "listing", "subject_id": f"t{i}"},
                 refresh=True)
    res = es.search(index=index, query={"match_phrase": {"title": "高仿"}}, size=10)
    assert sorted(h["_id"] for h in res["hits"]["hits"]) == ["t0", "t3"]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """The benchmark's corpus (800 listings) in SQLite, built once; search-engine copies are made per engine."""
    path = tmp_path_factory.mktemp("zh") / "search.db"
    store = open_store(path)
    fill_search_corpus(store, N_LISTINGS)
    yield store
    store.close()


def _subjects(store, q) -> set[str]:
    res = store.search(dataclasses.replace(q, limit=10_000, offset=0))
    assert res.total == len(res.hits)
    return {f"{h.kind}:{h.subject_id}" for h in res.hits}


def test_the_20_analyst_queries_select_the_same_subjects_on_both_engines(corpora, search_server, tmp_path):
    prefix = f"zh-{uuid.uuid4().hex[:6]}"
    engine = open_store(store_url(search_server, prefix, tmp_path / "spool.jsonl"), batch_size=2000)
    try:
        fill_search_corpus(engine, N_LISTINGS)
        nonempty = 0
        for label, q in QUERIES:
            want, got = _subjects(corpora, q), _subjects(engine, q)
            name = search_server.name
            assert got == want, f"{label}: {len(want)} on SQLite, {len(got)} on {name}; only SQLite " \
                                f"{sorted(want - got)[:5]}, only {name} {sorted(got - want)[:5]}"
            nonempty += bool(want)
        assert nonempty >= 15  # the queries do select something in this corpus
    finally:
        engine.close()
        from standin import drop_prefix

        drop_prefix(engine, prefix)
