"""The SQLite search summary (schema v5): the fast path answers exactly as the general path does,
the summary follows every kind of write, and a v4 file is upgraded.

The general path (``SQLiteQueries._search_general``) aggregates the findings of every hit; the
fast path (``sqlite/plan.py``) reads groups, the summary and full-text ranges. Both must give the
same hits, order, totals and facets for any query.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import asdict

import pytest
from store_contract.store_builders import finding, listing, shop

from crawler.items import CATEGORIES, SEVERITIES
from pipelines.store import SearchQuery, open_store
from pipelines.store.sqlite import SCHEMA_VERSION, SQLiteStore
from pipelines.store.sqlite import plan as sqlite_plan

WORDS = ["高仿", "耐克", "运动鞋", "七天无理由", "假一赔十", "全网最低价", "nike", "Air", "仿真花", "国家级", "保健茶"]
RULES = [(f"r{i}", CATEGORIES[i % 5 * 2], SEVERITIES[i % 4]) for i in range(7)]  # categories repeat severities


def _corpus(store: SQLiteStore, n: int = 120, seed: int = 3) -> None:
    rnd = random.Random(seed)
    times = [f"2026-06-{d:02d}T02:00:00+00:00" for d in (1, 2, 2, 3, 5)]  # ties on purpose
    for i in range(n // 10):
        store.upsert_shop(shop(f"s{i}", f"店{rnd.choice(WORDS)}", site=rnd.choice(("demo", "mall")),
                               notices=rnd.choice(WORDS), at=rnd.choice(times)))
    for i in range(n):
        title = "".join(rnd.sample(WORDS, 2))
        item = listing(str(i), title, price=rnd.choice((None, 9.9, 99.0, 500.0, 1200.0)),
                       site=rnd.choice(("demo", "mall")), shop_id=f"s{rnd.randrange(n // 10)}", at=rnd.choice(times),
                       sweep=rnd.choice(("sw1", "sw2")), description=rnd.choice(WORDS))
        store.upsert_listing(item)
        rules = rnd.sample(RULES, rnd.choice((0, 0, 1, 2, 3)))
        store.upsert_findings([finding(item, r, category=c, severity=s, snippet=f"【{rnd.choice(WORDS)}】证据",
                                       matched=[title[:2]]) for r, c, s in rules])
    for i in range(0, n // 10, 3):  # some shops are flagged too
        s = shop(f"s{i}", f"店{i}")
        store.upsert_findings([finding(s, "disclosure.x", category=CATEGORIES[2], severity="medium", snippet="未公示")])
    for i in range(0, n, 4):  # a later sweep: unchanged pages, and pages whose findings changed
        sid = f"demo:{i}" if store.get_listing(f"demo:{i}") else f"mall:{i}"
        if i % 8:
            store.mark_seen("listing", sid, "sw3", "2026-06-09T02:00:00+00:00")
            continue
        item = store.get_listing(sid)
        item.sweep_id, item.fetched_at, item.findings = "sw3", "2026-06-09T02:00:00+00:00", []
        r, cat, sev = RULES[i % len(RULES)]
        item.findings = [finding(item, r, category=cat, severity=sev, snippet="【新证据】", at=item.fetched_at)]
        store.save(item)  # resolves what the page no longer shows
    ids = [r[0] for r in store._w.execute("SELECT finding_id FROM findings ORDER BY rowid")]
    store.set_finding_status(ids[::5], "resolved")
    store.set_finding_status(ids[1::7], "dismissed")
    store.flush()


QUERIES = [
    {}, {"flagged_only": False}, {"text": "高仿"}, {"text": "高仿", "flagged_only": False},
    {"text": "仿", "flagged_only": False}, {"text": "七天无理由"}, {"text": "耐克 高仿"},
    {"text": "运动鞋 -高仿", "flagged_only": False}, {"text": "nike air", "flagged_only": False},
    {"category": CATEGORIES[0]}, {"category": [CATEGORIES[2], CATEGORIES[4]], "site": "mall"},
    {"severity": "critical"}, {"severity": ["low", "high"]}, {"severity": "low", "include_resolved": True},
    {"include_resolved": True}, {"text": "证据", "include_resolved": True, "category": CATEGORIES[6]},
    {"kind": "shop"}, {"kind": "listing", "flagged_only": False}, {"site": ["demo"], "flagged_only": False},
    {"shop_id": "s3", "flagged_only": False}, {"shop_id": "s3"}, {"shop_id": "s2", "text": "高仿"},
    {"price_min": 50, "price_max": 600}, {"price_max": 100, "flagged_only": False},
    {"text": "高仿", "severity": ["high", "critical"], "price_max": 600},
    {"text": "店", "kind": "shop", "flagged_only": False},
    {"sweep_id": "sw2"}, {"sweep_id": "sw1", "severity": "critical"}, {"sweep_id": "sw3", "flagged_only": False},
    {"sweep_id": "sw3"}, {"sweep_id": "sw3", "include_resolved": True, "category": CATEGORIES[4]},
    {"sweep_id": "sw1", "text": "高仿"}, {"sweep_id": "sw3", "text": "证据", "flagged_only": False},
    {"sweep_id": "sw2", "shop_id": "s3", "flagged_only": False}, {"sweep_id": "sw1", "price_max": 100},
    {"sweep_id": "sw1", "text": "高仿", "price_min": 50}, {"sweep_id": "nope"},
    {"sweep_id": "nope", "flagged_only": False},
]


def _result(store: SQLiteStore, q: dict) -> dict:
    r = store.search(SearchQuery(**q))
    return {"hits": [asdict(h) for h in r.hits], "total": r.total, "facets": r.facets}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    store = SQLiteStore(tmp_path_factory.mktemp("summary") / "s.db")
    _corpus(store)
    yield store
    store.close()


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: ",".join(f"{k}={v}" for k, v in q.items()) or "default")
def test_fast_path_answers_like_the_general_path(corpus, monkeypatch, q):
    pages = [{"limit": 500}, {"limit": 7, "offset": 0}, {"limit": 7, "offset": 11}, {"limit": 3, "offset": 40}]
    for p in pages:
        fast = _result(corpus, {**q, **p})
        query = SearchQuery(**{**q, **p})
        general_only = bool(query.sweep_id and not query.needs_finding)  # sweep rows hold flagged subjects only
        assert (sqlite_plan.make_plan(corpus._w, query) is None) == general_only
        with monkeypatch.context() as m:
            m.setattr(sqlite_plan, "make_plan", lambda c, q: None)
            general = _result(corpus, {**q, **p})
        assert fast == general, (q, p)


@pytest.mark.parametrize("q", [{"flagged_only": False}, {"category": CATEGORIES[0]},
                               {"text": "高仿", "flagged_only": False}, {"price_max": 600, "flagged_only": False},
                               {"sweep_id": "sw3"}, {"sweep_id": "sw1", "text": "高仿"}],
                         ids=str)
def test_page_strategies_agree(corpus, monkeypatch, q):
    """Walking an index and sorting a level give the same pages, whichever the costs pick."""
    with monkeypatch.context() as m:
        m.setattr(sqlite_plan, "make_plan", lambda c, q: None)
        want = [_result(corpus, {**q, "limit": 9, "offset": o}) for o in range(0, 140, 9)]
    for walk, sort in ((0.0, 1e9), (1e9, 0.0)):
        for name in ("WALK", "PROBE", "TEST", "STREAM", "PULL"):
            monkeypatch.setattr(sqlite_plan, name, walk)
        for name in ("SORT", "JOIN"):
            monkeypatch.setattr(sqlite_plan, name, sort)
        monkeypatch.setattr(sqlite_plan, "MAX_RANGES", 0 if walk else 64)
        assert [_result(corpus, {**q, "limit": 9, "offset": o}) for o in range(0, 140, 9)] == want


def test_summary_follows_every_write(tmp_path):
    s = SQLiteStore(tmp_path / "n.db")
    item = listing("1", "普通运动鞋", at="2026-06-01T00:00:00+00:00")
    s.upsert_listing(item)
    assert s.search(SearchQuery()).total == 0
    f = finding(item, severity="low", snippet="【高仿】证据")
    s.upsert_findings([f])
    assert [h.max_severity for h in s.search(SearchQuery()).hits] == ["low"]
    assert s.search(SearchQuery(text="高仿")).total == 1  # the evidence is searchable
    s.upsert_findings([finding(item, severity="critical", snippet="【高仿】证据")])  # the rule got stricter
    assert s.search(SearchQuery(severity="critical")).total == 1 and s.search(SearchQuery(severity="low")).total == 0
    s.upsert_listing(listing("1", "耐克鞋", at="2026-06-02T00:00:00+00:00"))  # new text, same group
    assert s.search(SearchQuery(text="耐克")).total == 1 and s.search(SearchQuery(text="运动鞋")).total == 0
    assert s.search(SearchQuery(text="高仿")).total == 1
    assert s.mark_seen("listing", "demo:1", "sw9", "2026-06-09T00:00:00+00:00")
    assert s.search(SearchQuery()).hits[0].last_seen == "2026-06-09T00:00:00+00:00"
    s.resolve_findings("demo:1", [], kind="listing", at="2026-06-10T00:00:00+00:00")
    assert s.search(SearchQuery()).total == 0 and s.search(SearchQuery(include_resolved=True)).total == 1
    assert s.search(SearchQuery(text="高仿", flagged_only=False)).total == 1  # resolved evidence stays searchable
    s.set_finding_status([f.finding_id], "confirmed")
    assert s.search(SearchQuery()).total == 1
    with pytest.raises(RuntimeError), s.transaction():
        s.set_finding_status([f.finding_id], "resolved")
        assert s.search(SearchQuery()).total == 0  # the owner reads its own transaction
        raise RuntimeError("boom")
    assert s.search(SearchQuery()).total == 1  # rolled back with the rest
    s.close()
    con = sqlite3.connect(tmp_path / "n.db")
    groups = dict(con.execute("SELECT gid, n FROM search_groups"))
    per_gid = dict(con.execute("SELECT gid, count(*) FROM search_subjects GROUP BY gid"))
    assert {g: n for g, n in groups.items() if n} == per_gid
    assert all(doc == gid << 39 | o for doc, o, gid in con.execute("SELECT doc, ord, gid FROM search_subjects"))
    assert [r[0] for r in con.execute("SELECT rowid FROM fts")] == [r[0] for r in con.execute(
        "SELECT doc FROM search_subjects ORDER BY doc")]  # one document per subject, in its group's range
    assert con.execute("SELECT count(*) FROM fts").fetchone()[0] == 1  # one document per subject
    con.close()


def test_findings_outside_the_form_take_the_general_path(tmp_path):
    s = SQLiteStore(tmp_path / "n.db")
    item = listing("1", "测试")
    s.upsert_listing(item)
    s.upsert_findings([finding(item, "x.sev", category=CATEGORIES[0], severity="urgent")])
    s.flush()
    q = SearchQuery()
    assert sqlite_plan.make_plan(s._w, q) is None
    assert s.search(q).total == 1 and s.search(q).hits[0].max_severity is None
    assert sqlite_plan.make_plan(s._w, SearchQuery(severity="high")) is not None  # rank 0 cannot pass
    assert s.search(SearchQuery(severity="high")).total == 0
    s.close()


def test_upgrade_from_v4(tmp_path):
    """A v4 file (one document per listing, shop and finding) gets the summary and new documents."""
    path = tmp_path / "old.db"
    s = SQLiteStore(path)
    _corpus(s, n=40)
    q = [SearchQuery(**x) for x in QUERIES[:9]]
    want = [s.search(x) for x in q]
    s.close()
    con = sqlite3.connect(path)
    con.executescript("DROP TABLE search_subjects; DROP TABLE search_groups; DROP TABLE fts; "
                      "CREATE VIRTUAL TABLE fts USING fts5(body, tokenize = 'unicode61', columnsize = 0); "
                      "INSERT INTO fts(rowid, body) VALUES (8, '高仿'); "
                      "DELETE FROM schema_version; INSERT INTO schema_version VALUES (4);")
    con.close()
    s = open_store(path)
    assert [s.search(x) for x in q] == want
    s.close()
    con = sqlite3.connect(path)
    assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION == 6
    con.close()


def _same_as_general(store: SQLiteStore, monkeypatch, queries: list[dict]) -> None:
    fast = [_result(store, q) for q in queries]
    with monkeypatch.context() as m:
        m.setattr(sqlite_plan, "make_plan", lambda c, q: None)
        assert fast == [_result(store, q) for q in queries]


def test_copy_into_a_store_that_has_the_subjects(tmp_path, monkeypatch):
    """``transfer.load`` writes sweep memberships directly: they reach the sweep rows of subjects already stored."""
    from pipelines.store.transfer import dump, load

    src = SQLiteStore(tmp_path / "src.db")
    item = listing("1", "耐克高仿鞋", sweep="sw1")
    src.save(item)
    src.upsert_findings([finding(item)])
    later = listing("1", "耐克高仿鞋", sweep="sw2", at="2026-06-05T02:00:00+00:00")
    src.mark_seen("listing", later.subject_id, "sw2", later.fetched_at)
    dst = SQLiteStore(tmp_path / "dst.db")
    dst.save(item)
    dst.upsert_findings([finding(item)])
    assert dst.search(SearchQuery(sweep_id="sw2")).total == 0
    load(dst, list(dump(src)))
    assert dst.search(SearchQuery(sweep_id="sw2")).total == 1
    _same_as_general(dst, monkeypatch, [{"sweep_id": "sw1"}, {"sweep_id": "sw2"}, {"sweep_id": "sw2", "text": "高仿"}])
    src.close()
    dst.close()


def test_two_stores_on_one_file(tmp_path, monkeypatch):
    """Another process's writes land in the same summary (each recomputes what it touched from the tables)."""
    a, b = SQLiteStore(tmp_path / "n.db"), SQLiteStore(tmp_path / "n.db")
    item = listing("1", "耐克运动鞋")
    a.upsert_listing(item)
    a.flush()
    b.upsert_findings([finding(item, severity="critical", snippet="【高仿】")])
    b.flush()
    a.upsert_listing(listing("1", "耐克运动鞋 新款", at="2026-06-02T00:00:00+00:00"))
    a.flush()
    for s in (a, b):
        assert [h.max_severity for h in s.search(SearchQuery(text="高仿 新款")).hits] == ["critical"]
        _same_as_general(s, monkeypatch, [{}, {"text": "新款"}, {"sweep_id": "sw1"}, {"severity": "critical"}])
    a.close()
    b.close()


def test_a_failing_save_stores_nothing(tmp_path, monkeypatch):
    s = SQLiteStore(tmp_path / "n.db")
    item = listing("1", "高仿鞋")
    item.findings = [finding(item), finding(item, "broken.rule")]
    original = SQLiteStore._upsert_finding

    def flaky(self, c, f, found):
        if f.rule_id == "broken.rule":
            raise RuntimeError("boom")
        return original(self, c, f, found)

    monkeypatch.setattr(SQLiteStore, "_upsert_finding", flaky)
    with pytest.raises(RuntimeError):
        s.save(item)
    assert s.counts()["listings"] == 0 and s.counts()["findings"] == 0 and s.counts()["snapshots"] == 0
    assert s.search(SearchQuery(text="高仿", flagged_only=False)).total == 0
    monkeypatch.undo()
    s.save(item)
    assert s.search(SearchQuery(text="高仿")).total == 1 and s.search(SearchQuery(sweep_id="sw1")).total == 1
    s.close()


def test_single_character_terms_use_the_character_column_only(tmp_path):
    s = SQLiteStore(tmp_path / "n.db")
    s.upsert_listing(listing("1", "真仿"))  # its characters, sorted, read 仿 真: not the phrase 仿 真…
    s.upsert_listing(listing("2", "仿 真品"))
    assert sorted(h.subject_id for h in s.search(SearchQuery(text="仿-真", flagged_only=False)).hits) == ["demo:2"]
    assert s.search(SearchQuery(text="仿", flagged_only=False)).total == 2
    assert s.search(SearchQuery(text="真仿 -品", flagged_only=False)).total == 1
    s.close()


def test_findings_seen_in_a_sweep_before_their_subject(tmp_path, monkeypatch):
    """A finding recorded in sweep sw2 before its listing is fetched in sw2 (another flush in between) still
    counts there once the listing is (the marker row tells the queue is not the whole story)."""
    s = SQLiteStore(tmp_path / "n.db")
    item = listing("1", "高仿鞋", sweep="sw1")
    s.save(item)
    s.upsert_findings([finding(item, "r.early", severity="critical", sweep="sw2")])
    s.flush()
    assert s.search(SearchQuery(sweep_id="sw2")).total == 0  # the listing was not fetched in sw2 yet
    s.mark_seen("listing", item.subject_id, "sw2", "2026-06-02T00:00:00+00:00")
    s.flush()
    assert [h.max_severity for h in s.search(SearchQuery(sweep_id="sw2", severity="critical")).hits] == ["critical"]
    _same_as_general(s, monkeypatch, [{"sweep_id": "sw2"}, {"sweep_id": "sw1"}, {"sweep_id": "sw2", "text": "高仿"}])
    s.close()


def test_a_listing_that_moved_shops(tmp_path, monkeypatch):
    """Its old finding names the former shop: a shop filter then needs the general path's per-finding check."""
    s = SQLiteStore(tmp_path / "n.db")
    old = listing("1", "高仿鞋", shop_id="s1")
    old.findings = [finding(old, "r.old")]
    s.save(old)
    moved = listing("1", "高仿鞋", shop_id="s2", at="2026-06-02T00:00:00+00:00")
    moved.findings = [finding(moved, "r.new", severity="low")]
    s.save(moved)  # resolves r.old, which keeps shop s1
    s.flush()
    assert sqlite_plan.make_plan(s._w, SearchQuery(shop_id="s2")) is None
    assert sqlite_plan.make_plan(s._w, SearchQuery(shop_id="s1")) is not None
    _same_as_general(s, monkeypatch, [{"shop_id": "s2", "include_resolved": True}, {"shop_id": "s2"},
                                      {"shop_id": "s1", "include_resolved": True}])
    assert s.search(SearchQuery(shop_id="s2", include_resolved=True)).hits[0].max_severity == "low"
    s.close()
