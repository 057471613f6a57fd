"""The store stage's writes off the reactor (STORE_WRITER): in a process of their own they store exactly what the
stage stores on the reactor; a killed writer process is taken over and nothing is lost or stored twice."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from types import SimpleNamespace
from typing import Any

import pytest
from store_contract.store_builders import finding, listing, shop

from crawler.items import PageItem, UnchangedPage
from pipelines.store import open_store
from pipelines.store.pipeline import OffReactorStorePipeline, StorePipeline, writer_mode

SPIDER = SimpleNamespace(sweep_id="sw1", site="demo", search_terms=None)


def _items(n: int, start: int = 0) -> list[Any]:
    items: list[Any] = []
    for k in range(start, start + n):
        item = listing(f"L{k}", f"高仿运动鞋 {k}" if k % 3 == 0 else f"运动鞋 {k}", sha=f"sha-{k}")
        if k % 3 == 0:
            item.findings = [finding(item)]
        items.append(item)
    items.append(shop(f"s{start}", "测试小店"))
    items.append(PageItem(url=f"http://demo.test/list/{start}.html", site="demo", sweep_id="sw1", status=200,
                          fetched_at=items[0].fetched_at, html_sha256=f"sha-list-{start}", html_path="html/x.gz"))
    return items


def _contents(url: str) -> dict[str, Any]:
    store = open_store(url)
    try:
        return {"counts": store.counts(), "records": sorted(str(r) for r in store.dump())}
    finally:
        store.close()


def test_auto_runs_sqlite_writes_in_a_process_and_engine_writes_inline():
    assert writer_mode("auto", "/data/netsword.db") == "process"
    assert writer_mode("auto", "sqlite:///data/netsword.db") == "process"
    assert writer_mode("auto", "elasticsearch://127.0.0.1:9200/ns") == "inline"
    assert writer_mode("thread", "elasticsearch://127.0.0.1:9200/ns") == "thread"


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_store_writes_off_the_reactor_store_what_the_inline_stage_stores(tmp_path, mode):
    inline_url, off_url = f"sqlite:///{tmp_path / 'inline.db'}", f"sqlite:///{tmp_path / 'off.db'}"
    inline = StorePipeline(inline_url)
    inline.open_spider(SPIDER)
    for item in _items(30):
        inline.process_item(item)
    inline.process_item(UnchangedPage(url="http://demo.test/item/L1.html", site="demo", sweep_id="sw1", status=304,
                                      subject_kind="listing", subject_id="demo:L1", page_type="listing",
                                      html_sha256="sha-1", html_path="html/L1.html.gz"))
    inline.close_spider(SPIDER)

    async def off() -> int | None:
        stage = OffReactorStorePipeline(off_url, writer=mode)
        stage.open_spider(SPIDER)
        assert stage.io is not None
        pid = stage.io.pid
        await asyncio.gather(*(stage.process_item(item) for item in _items(30)))
        await stage.process_item(UnchangedPage(url="http://demo.test/item/L1.html", site="demo", sweep_id="sw1",
                                               status=304, subject_kind="listing", subject_id="demo:L1",
                                               page_type="listing", html_sha256="sha-1", html_path="html/L1.html.gz"))
        await stage.close_spider(SPIDER)
        return pid

    pid = asyncio.run(off())
    assert (pid is not None and pid != os.getpid()) == (mode == "process")
    got, want = _contents(off_url), _contents(inline_url)
    assert got["counts"] == want["counts"] and got["counts"]["listings"] == 30
    assert len(got["records"]) == len(want["records"])


def test_a_killed_store_writer_process_is_taken_over_and_every_item_is_stored_once(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'netsword.db'}"
    stats = SimpleNamespace(values={}, inc_value=lambda k, n=1: stats.values.__setitem__(k, stats.values.get(k, 0) + n),
                            get_stats=lambda: dict(stats.values))

    async def main() -> None:
        stage = OffReactorStorePipeline(url, stats=stats, writer="process")
        stage.open_spider(SPIDER)
        assert stage.io is not None and stage.io.in_process
        for item in _items(10):
            await stage.process_item(item)
        os.kill(stage.io.pid, signal.SIGKILL)  # as an OOM kill would
        await asyncio.gather(*(stage.process_item(item) for item in _items(20, start=10)))
        assert not stage.io.in_process
        await stage.close_spider(SPIDER)

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert "store writer process stopped" in caplog.text
    counts = _contents(url)["counts"]
    assert counts["listings"] == 30 and counts["listing_versions"] == 30  # each stored once
    assert stats.values["netsword/listings"] == 30


def test_a_worker_keeps_its_writes_in_its_own_process_unless_told_otherwise():
    """`netsword worker` is one core's worth of crawling: its store and evidence writes run on threads of its own
    (sidecar processes would make workers on the same cores compete); a command line that asks for them still
    gets them."""
    from scrapy.settings import Settings

    from crawler import settings as project
    from crawler.distributed.worker import worker_settings

    base = Settings()
    base.setmodule(project)
    settings = worker_settings(base, "sw1", "redis://127.0.0.1:1/0")
    assert (settings.get("STORE_WRITER"), settings.get("EVIDENCE_WRITER")) == ("thread", "thread")
    base.set("STORE_WRITER", "process", priority="cmdline")
    assert worker_settings(base, "sw1", "redis://127.0.0.1:1/0").get("STORE_WRITER") == "process"
    # a search engine's writes stay inline, in its own bulk batches, as in the embedded crawl
    engine = Settings()
    engine.setmodule(project)
    engine.set("STORE_URL", "elasticsearch://127.0.0.1:9200/ns", priority="cmdline")
    settings = worker_settings(engine, "sw1", "redis://127.0.0.1:1/0")
    assert (settings.get("STORE_WRITER"), settings.getbool("STORE_COMMIT_EACH_BATCH")) == ("inline", False)
