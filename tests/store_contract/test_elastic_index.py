"""`netsword index ...` on the real search engine (OpenSearch) and the Elasticsearch stand-in: templates, aliases,
migrations, copies between engines."""

from __future__ import annotations

import uuid

from click.testing import CliRunner
from standin import drop_prefix, es_store_url, store_url
from store_builders import fill_corpus, ids

from leads.commands import index  # the `index` group, with `index leads` from the analysts' room
from leads.search import search
from pipelines.store import open_store
from pipelines.store.elastic.admin import KINDS, alias_name, index_template, status


def test_templates_are_composable_with_cjk_text_jieba_tokens_and_keyword_facets(es_factory):
    store = es_factory()
    es = store.es
    _, body = index_template("listings", store.prefix)
    assert body["composed_of"] == [f"{store.prefix}-settings"]
    assert body["index_patterns"] == [f"{store.prefix}-listings-*"]
    props = es.indices.get_mapping(index=store.alias("listings")).body
    props = next(iter(props.values()))["mappings"]["properties"]
    assert props["title"]["analyzer"] == "cjk" and props["title"]["fields"]["keyword"]["type"] == "keyword"
    assert props["tokens"]["analyzer"] == "netsword_whitespace" and props["findings"]["type"] == "nested"
    tokens = es.indices.analyze(index=store.alias("listings"), field="title", text="耐克高仿运动鞋")["tokens"]
    assert "高仿" in [t["token"] for t in tokens]
    for kind in KINDS:  # every alias points at exactly one versioned index
        (target,) = es.indices.get_alias(name=alias_name(kind, store.prefix)).body
        assert target == f"{store.prefix}-{kind}-000001"


def test_migrate_moves_every_alias_to_a_new_index_without_losing_documents(es_factory):
    store = fill_corpus(es_factory())
    store.flush()
    before = store.counts()
    url = es_store_url(store.config.hosts[0], store.prefix, store.spool.path, store.config.flavour)
    runner = CliRunner()
    out = runner.invoke(index, ["migrate", "--store", url])
    assert out.exit_code == 0 and "current mapping" in out.output, out.output
    out = runner.invoke(index, ["migrate", "--store", url, "--force", "--delete-old"])
    assert out.exit_code == 0, out.output
    assert f"{store.prefix}-findings-000001 -> {store.prefix}-findings-000002, 7 documents" in out.output
    rows = {r.kind: r for r in status(store.es, store.prefix)}
    assert rows["listings"].index == f"{store.prefix}-listings-000002" and rows["listings"].other_indices == []
    assert store.counts() == before
    assert sorted(ids(search(store, "高仿"))) == ["demo:1", "demo:2", "mall:4", "mall:m1"]
    out = runner.invoke(index, ["status", "--store", url])
    assert out.exit_code == 0 and f"{store.prefix}-shops-000002" in out.output and "0 operations waiting" in out.output


def test_copy_a_demo_sweep_to_the_search_engine_and_back(demo_sweep, search_server, tmp_path):
    sqlite_url = f"sqlite:///{demo_sweep['db']}"
    prefix = f"copy-{uuid.uuid4().hex[:6]}"
    es_url_ = store_url(search_server, prefix, tmp_path / "spool.jsonl")
    back_url = f"sqlite:///{tmp_path}/back.db"
    runner = CliRunner()
    out = runner.invoke(index, ["copy", "--from", sqlite_url, "--to", es_url_])
    assert out.exit_code == 0, out.output
    out = runner.invoke(index, ["copy", "--from", es_url_, "--to", back_url])
    assert out.exit_code == 0, out.output
    stores = [open_store(u) for u in (sqlite_url, es_url_, back_url)]
    try:
        counts = [s.counts() for s in stores]
        assert counts[0]["findings"] > 0 and counts[0]["listings"] > 400
        assert counts[0] == counts[1] == counts[2]
        for q in ({"text": "高仿", "limit": 100}, {"category": "虚假违法互联网广告", "limit": 100},
                  {"severity": "high", "limit": 100}, {"flagged_only": False, "limit": 5, "offset": 30}):
            results = [search(s, **q) for s in stores]
            assert results[0].total == results[1].total == results[2].total > 0, q
            assert results[0].facets == results[1].facets == results[2].facets, q
            # the same order (ties, same severity and time, may come in another order)
            order = [[(h.max_severity, h.last_seen) for h in r.hits] for r in results]
            assert order[0] == order[1] == order[2], q
            if q["limit"] >= results[0].total:
                assert sorted(ids(results[0])) == sorted(ids(results[1])) == sorted(ids(results[2])), q
        exports = [sorted((r["finding_id"], r["status"], r["first_seen"], r["last_seen"], r["snippet"], r["shop_name"],
                           r["fetched_at"]) for r in s.iter_findings({"include_resolved": True})) for s in stores]
        assert exports[0] == exports[1] == exports[2]
        subject = next(iter(search(stores[0], limit=1).hits)).subject_id
        assert stores[0].listing_history(subject) == stores[1].listing_history(subject) == \
            stores[2].listing_history(subject)
        assert [s.sweep_id for s in stores[0].sweeps()] == [s.sweep_id for s in stores[1].sweeps()]
    finally:
        for s in stores:
            s.close()
        drop_prefix(stores[1], prefix)


def test_leads_index_for_kibana(es_factory):
    from leads.leads import build_leads

    store = fill_corpus(es_factory())
    store.flush()  # visible to the command's own connection
    url = es_store_url(store.config.hosts[0], store.prefix, store.spool.path, store.config.flavour)
    out = CliRunner().invoke(index, ["leads", "--store", url])
    assert out.exit_code == 0, out.output
    expected = {lead.lead_id: lead for lead in build_leads(store, {"include_resolved": True})}
    assert f"{len(expected)} leads written" in out.output
    store.es.indices.refresh(index=store.alias("leads"))
    docs = {h["_id"]: h["_source"] for h in store.es.search(index=store.alias("leads"), size=100)["hits"]["hits"]}
    assert set(docs) == set(expected) and "mall:m1" in docs
    assert docs["mall:m1"]["main_category"] == expected["mall:m1"].main_category
    assert docs["mall:m1"]["status"] == "new" and docs["mall:m1"]["finding_count"] == 3


def test_a_bulk_load_refreshes_once_at_the_end_and_gives_each_index_its_settings_back(es_factory):
    store = es_factory()
    es, aliases = store.es, ",".join(store.alias(k) for k in KINDS)

    def intervals() -> set[tuple[str, str | None]]:
        got = es.indices.get_settings(index=aliases, name="index.refresh_interval,index.translog.durability").body
        return {(b["settings"]["index"]["refresh_interval"],
                 b["settings"]["index"].get("translog", {}).get("durability")) for b in got.values()}

    assert intervals() == {("1s", None)}  # the component template's; the engine's default durability
    with store.bulk_load():
        # no periodic refresh while the load runs, the translog written to disk in the background
        assert intervals() == {("-1", "async")}
        fill_corpus(store)
    assert intervals() == {("1s", None)}
    other = open_store(es_store_url(store.config.hosts[0], store.prefix, store.spool.path, store.config.flavour))
    try:  # another reader (which wrote nothing, so does not refresh) finds everything at once
        assert sorted(ids(search(other, "高仿"))) == ["demo:1", "demo:2", "mall:4", "mall:m1"]
    finally:
        other.close()
