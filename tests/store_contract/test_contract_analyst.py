"""Store contract: what the crawler (page states, unchanged pages, resume) and the analyst side (triage
statuses, the audit trail, console users, shops, time windows) keep."""

from __future__ import annotations

from store_builders import T1, T2, T3, finding, listing, shop

from pipelines.store import SearchQuery
from pipelines.store.base import PageState, TriageEvent, User


def test_page_states_and_sweep_urls(store):
    assert store.page_state("http://demo.test/item/1.html") is None
    state = PageState(url="http://demo.test/item/1.html", sha256="abc", path="html/ab/abc.html.gz", etag='"v1"',
                      fetched_at=T1, sweep_id="sw1", page_type="listing", subject_kind="listing", subject_id="demo:1")
    store.put_page_state(state)
    assert store.page_state(state.url) == state
    home = PageState(url="http://demo.test/", sha256="def", path="html/de/def.html.gz", fetched_at=T1,
                     sweep_id="sw1", page_type="home")
    store.put_page_state(home)
    assert store.sweep_urls("sw1") == {state.url, home.url}
    state.etag, state.sweep_id, state.fetched_at = '"v2"', "sw2", T2
    store.put_page_state(state)  # the page was stored again in sw2: its state moves there
    assert store.page_state(state.url).etag == '"v2"'
    assert store.sweep_urls("sw1") == {home.url}
    assert store.sweep_urls("sw2") == {state.url} and store.sweep_urls("nope") == set()


def test_mark_seen_extends_without_a_new_version(store):
    assert store.mark_seen("listing", "demo:1", "sw2", T2) is False
    item = listing("1", "高仿鞋", sweep="sw1", at=T1)
    item.findings = [finding(item)]
    store.save(item)
    assert store.mark_seen("listing", "demo:1", "sw2", T2) is True
    (version,) = store.listing_history("demo:1")
    assert (version.last_seen_at, version.last_sweep_id) == (T2, "sw2")
    (sf,) = store.findings_for("demo:1")
    assert (sf.status, sf.last_seen, sf.sweeps) == ("open", T2, ["sw1", "sw2"])
    assert store.get_listing("demo:1").fetched_at == T2
    c = store.counts(sweep_id="sw2")
    assert (c["listings"], c["findings"], c["listing_versions"]) == (1, 1, 0)
    assert [h.subject_id for h in store.search(SearchQuery(sweep_id="sw2")).hits] == ["demo:1"]


def test_triage_status_survives_rescans(store):
    item = listing("1", "高仿鞋")
    f1, f2 = finding(item), finding(item, "price.lowest", category="不正当价格行为", severity="medium")
    store.upsert_listing(item)
    store.upsert_findings([f1, f2])
    assert store.set_finding_status([f1.finding_id, f2.finding_id], "confirmed", only_from=["open"]) == 2
    assert store.set_finding_status([f1.finding_id], "dismissed", only_from=["open"]) == 0
    assert store.set_finding_status([f1.finding_id, "no-such-id"], "dismissed") == 1
    assert store.set_finding_status([], "dismissed") == 0
    store.resolve_findings(item.subject_id, [], at=T2, sweep_id="sw2")  # the rescan no longer shows them
    status = {sf.finding_id: sf.status for sf in store.findings_for(item.subject_id)}
    assert status == {f1.finding_id: "dismissed", f2.finding_id: "confirmed"}
    rows = {r["finding_id"]: r["status"] for r in store.iter_findings({"include_resolved": True})}
    assert rows == status
    assert store.search(SearchQuery(status="dismissed")).total == 1


def test_audit_trail_is_append_only_and_ordered(store):
    made = [store.add_triage_event(TriageEvent("demo:s1", "status", v, "alice", previous=p))
            for p, v in (("new", "confirmed"), ("confirmed", "referred"))]
    made.append(store.add_triage_event(TriageEvent("demo:s2", "note", "店铺已关闭", "bob", at=T3)))
    assert all(e.event_id is not None and e.at for e in made)
    assert made[0].event_id < made[1].event_id < made[2].event_id and made[2].at == T3
    assert [e.value for e in store.triage_events("demo:s1")] == ["confirmed", "referred"]
    assert [e.lead_id for e in store.triage_events()] == ["demo:s1", "demo:s1", "demo:s2"]
    assert store.triage_events("demo:s1")[1] == made[1]


def test_users(store):
    assert store.get_user("alice") is None and store.users() == []
    store.put_user(User("bob", "$argon2id$x", role="admin"))
    store.put_user(User("alice", "$argon2id$a"))
    first = store.get_user("alice")
    store.put_user(User("alice", "$argon2id$b", disabled=True))
    again = store.get_user("alice")
    assert (again.password_hash, again.disabled, again.role) == ("$argon2id$b", True, "analyst")
    assert again.created_at == first.created_at and again.updated_at >= first.updated_at
    assert [u.username for u in store.users()] == ["alice", "bob"]


def test_user_session_epoch_is_kept_and_never_goes_down(store):
    from dataclasses import replace

    store.put_user(User("carol", "$argon2id$c"))
    assert store.get_user("carol").session_epoch == 0
    stale = store.get_user("carol")
    store.put_user(replace(stale, session_epoch=3))  # sessions ended three times
    assert store.get_user("carol").session_epoch == 3
    store.put_user(replace(stale, password_hash="$argon2id$rehashed"))  # a write from a stale read (epoch 0)
    again = store.get_user("carol")
    assert (again.password_hash, again.session_epoch) == ("$argon2id$rehashed", 3)
    assert [u.session_epoch for u in store.users()] == [3]


def test_user_session_epoch_survives_a_copy(store, tmp_path):
    from pipelines.store import open_store

    store.put_user(User("carol", "$argon2id$c", session_epoch=3))
    store.flush()
    other = open_store(f"sqlite:///{tmp_path}/copy.db")
    try:
        other.load(store.dump())
        assert other.get_user("carol").session_epoch == 3
        other.put_user(User("dave", "$argon2id$d", session_epoch=5))
        other.flush()
        store.load(other.dump())
        store.flush()
        assert (store.get_user("carol").session_epoch, store.get_user("dave").session_epoch) == (3, 5)
    finally:
        other.close()


def test_iter_shops_by_site_and_id(store):
    for site, sid in (("mall", "m2"), ("demo", "s2"), ("demo", "s1"), ("mall", "m1")):
        store.upsert_shop(shop(sid, f"店{sid}", site=site, operator=f"{sid}公司"))
    store.upsert_findings([finding(listing("1", "高仿鞋", shop_id="s9"))])  # no shop page: not a shop
    assert [s.subject_id for s in store.iter_shops()] == ["demo:s1", "demo:s2", "mall:m1", "mall:m2"]
    assert [s.operator for s in store.iter_shops("mall")] == ["m1公司", "m2公司"]
    assert all(s.findings == [] for s in store.iter_shops())


def test_seen_window(store):
    a, b = listing("1", "高仿鞋", at=T1), listing("2", "高仿包", at=T3)
    for item in (a, b):
        store.upsert_listing(item)
        store.upsert_findings([finding(item)])

    def hits(**kw) -> list[str]:
        return sorted(h.subject_id for h in store.search(SearchQuery(**kw)).hits)

    assert hits(seen_from=T2) == ["demo:2"]
    assert hits(seen_before=T2) == ["demo:1"]
    assert hits(seen_from=T1, seen_before=T3) == ["demo:1"]
    assert [r["subject_id"] for r in store.iter_findings({"seen_from": T2})] == ["demo:2"]


def test_sweep_run_records(store):
    from pipelines.store.base import SweepRun

    store.put_run(SweepRun("r1", "demo", kind="baseline", campaign="2026", started_at=T1))
    store.put_run(SweepRun("r2", "mall", kind="daily", started_at=T2, status="failed", message="DNS 失败"))
    store.put_run(SweepRun("r1", "demo", kind="baseline", campaign="2026", started_at=T1, finished_at=T2, status="ok",
                           pages=120, findings=7, new_findings=3))  # replaced as the run goes on
    assert [r.run_id for r in store.runs()] == ["r2", "r1"]
    (r1,) = store.runs(site="demo")
    assert (r1.status, r1.pages, r1.finished_at, r1.campaign, r1.exit_code) == ("ok", 120, T2, "2026", None)
    assert [r.run_id for r in store.runs(status=["failed"])] == ["r2"]
    assert store.runs(status="failed")[0].message == "DNS 失败"
    assert [r.run_id for r in store.runs(limit=1)] == ["r2"] and store.runs(run_id="r9") == []
