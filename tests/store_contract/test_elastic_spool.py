"""Outages: the search engine is stopped in the middle of a sweep; nothing is lost, nothing doubled.

On the real engine (the session's OpenSearch node, stopped and started again on the same data dir
and ports) and on the Elasticsearch stand-in (a process of each test's own); with
NETSWORD_TEST_ES_URL set the stand-in runs are skipped (a shared cluster cannot be stopped).
"""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from standin import REAL_ES_URL, StandIn, StandInUnavailable
from store_builders import finding, listing

from pipelines.store import open_store
from pipelines.store.commands import index
from pipelines.store.pipeline import StorePipeline


@pytest.fixture(params=["opensearch", "elasticsearch-stand-in"])
def server(request, tmp_path):
    """A search engine this test may stop and start: the session's real one, or a stand-in of its own."""
    if request.param == "opensearch":
        engine = request.getfixturevalue("real_engine")
        if not engine.running():
            engine.start()
        yield engine
        if not engine.running():
            engine.start()
        return
    if REAL_ES_URL:
        pytest.skip("stops and restarts its own stand-in server")
    s = StandIn(tmp_path / "es-data")
    try:
        s.start()
    except StandInUnavailable as e:
        pytest.skip(f"Elasticsearch stand-in cannot start here: {e}")
    yield s
    s.stop()


def sweep_items(sweep: str, n: int, start: int = 0) -> list:
    items = []
    for i in range(start, start + n):
        item = listing(str(i), f"高仿运动鞋{i}号", sweep=sweep, at="2026-06-18T02:00:00+00:00")
        item.findings = [finding(item)]
        if i % 3 == 0:
            item.findings.append(finding(item, "price.lowest", category="不正当价格行为", severity="medium"))
        items.append(item)
    return items


def test_engine_stopped_mid_sweep_every_finding_arrives_exactly_once(server, tmp_path):
    spool = tmp_path / "spool.jsonl"
    prefix = f"outage-{uuid.uuid4().hex[:6]}"
    url = f"{server.scheme}://{server.store_host}/{prefix}?spool={spool}&batch_size=20&max_delay=60"
    first = sweep_items("sw1", 90)
    expected = {f.finding_id for item in first for f in item.findings}

    pipe = StorePipeline(url)
    pipe.open_spider()
    for i, item in enumerate(first):
        if i == 45:
            server.stop()  # while the store is being written: batches of 20, the third one fails
        pipe.process_item(item)
    pipe.close_spider()  # the rest goes to the spool too
    assert spool.exists() and pipe.store.spool.pending() > 0

    server.start()  # same data dir, same port: what was acknowledged is there
    # the next sweep's open sends the spool first, then its own pages
    second = sweep_items("sw2", 10, start=1000)
    pipe = StorePipeline(url)
    pipe.open_spider()
    assert not spool.exists()
    for item in second:
        pipe.process_item(item)
    pipe.close_spider()

    store = open_store(url)
    try:
        rows = list(store.iter_findings({"include_resolved": True}))
        ids = [r["finding_id"] for r in rows if r["sweep_id"] == "sw1"]
        assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected  # each exactly once
        assert all(r["status"] == "open" and r["first_sweep_id"] == r["last_sweep_id"] for r in rows)
        c = store.counts()
        assert (c["listings"], c["findings"], c["listing_versions"]) == (100, len(rows), 100)
        assert store.search({"text": "高仿", "limit": 0}).total == 100
        assert store.spool.rejected() == 0
    finally:
        store.close()


def test_replay_command_sends_what_was_spooled_while_the_engine_was_down(server, tmp_path):
    spool = tmp_path / "spool.jsonl"
    prefix = f"replay-{uuid.uuid4().hex[:6]}"
    url = f"{server.scheme}://{server.store_host}/{prefix}?spool={spool}"
    open_store(url).close()  # indices exist
    server.stop()
    store = open_store(url)  # opens while the server is away: writes are spooled
    items = sweep_items("sw1", 12)
    for item in items:
        store.save(item)
    store.close()
    lines = spool.read_text(encoding="utf-8").splitlines()
    waiting = len(lines)
    assert waiting >= 12 and all(json.loads(line)["op"] for line in lines)

    runner = CliRunner()
    down = runner.invoke(index, ["replay", "--store", url])
    assert down.exit_code != 0 and "unreachable" in down.output and spool.exists()
    server.start()
    status = runner.invoke(index, ["status", "--store", url])
    assert status.exit_code == 0, status.output
    assert f"{waiting} operations waiting" in status.output
    done = runner.invoke(index, ["replay", "--store", url])
    assert done.exit_code == 0, done.output
    assert f"{waiting} of {waiting} spooled operations sent" in done.output and not spool.exists()
    store = open_store(url)
    try:
        assert store.counts()["listings"] == 12
        assert {r["subject_id"] for r in store.iter_findings()} == {i.subject_id for i in items}
    finally:
        store.close()
