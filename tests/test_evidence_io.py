"""Evidence written off the reactor: the evidence thread keeps the order writes were asked in, an
item goes on only once its files and manifest line are on disk, WARC records stay valid at the
chosen gzip level (screenshots stored, not deflated again)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import logging
import os
import signal

import pytest
from scrapy.http import HtmlResponse, Request
from warcio.archiveiterator import ArchiveIterator

from crawler.items import Finding, ListingItem
from pipelines.evidence import EvidencePipeline, manifest_path, read_manifest
from pipelines.evidence.warc import WarcWriter
from pipelines.evidence.worker import EvidenceIO
from pipelines.evidence.writer import WireRequest, WireResponse, WriterConfig, wire


def _responses(n: int) -> list[tuple[WireRequest, WireResponse]]:
    out = []
    for k in range(n):
        request = Request(f"http://shop.test/item/{k}.html")
        response = HtmlResponse(request.url, body=f"<html><body>商品 {k}</body></html>".encode(), request=request)
        out.append(wire(request, response))
    return out


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_evidence_writer_runs_writes_in_the_order_asked(tmp_path, mode):
    """The writer (its own process by default, or a thread) writes in the order asked; a waited-for write
    comes after every write asked before it."""

    async def main() -> tuple[str, bool, str]:
        io_ = EvidenceIO(WriterConfig(str(tmp_path), "s1"), mode)
        for request, response in _responses(50):
            io_.submit("write_exchange", request, response, "2026-11-23T19:11:00+00:00", "127.0.0.1", "")
        closed = await io_.run("close")
        in_process = io_.in_process
        io_.shutdown()
        return io_.segment, in_process, closed.path

    segment, in_process, manifest = asyncio.run(main())
    assert in_process == (mode == "process")
    with open(tmp_path / "warc" / segment, "rb") as fh:
        urls = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh) if r.rec_type == "response"]
    assert urls == [f"http://shop.test/item/{k}.html" for k in range(50)]
    assert manifest == str(manifest_path(tmp_path, "s1"))


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_evidence_writer_reports_failures(tmp_path, caplog, mode):
    """A failed write that somebody waits for is raised to them; one nobody waits for is logged, and so is what
    the writer logs itself, in the crawl's log (also from the writer process)."""
    request, response = _responses(1)[0]
    broken = WireResponse(response.url, 200, {}, None, ())  # type: ignore[arg-type] - a body that is not bytes

    async def main() -> None:
        io_ = EvidenceIO(WriterConfig(str(tmp_path), "s1"), mode)
        io_.submit("no_such_operation")  # not waited for: logged
        io_.submit("write_exchange", request, broken, "2026-11-23T19:11:00+00:00")  # the writer logs it
        with pytest.raises(FileNotFoundError):  # waited for: raised to the caller
            await io_.run("read_html", "html/00/missing.html.gz")
        await io_.run("close")
        io_.shutdown()

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    assert "no_such_operation" in caplog.text
    assert "WARC record failed for http://shop.test/item/0.html" in caplog.text


def test_a_killed_writer_process_is_taken_over_and_no_write_is_lost(tmp_path, caplog):
    """SIGKILL of the writer process mid-sweep: the error is logged, a writer on a thread does the unanswered
    writes again and every later one; each page's HTML and manifest line are on disk and the manifest's hash
    chain holds."""
    from pipelines.evidence.chain import check_chain

    pipe = EvidencePipeline(tmp_path, finding_screenshots=False)
    pipe.open_spider(type("Spider", (), {"sweep_id": "s1"})())

    async def page(k: int) -> ListingItem:
        url = f"http://shop.test/item/{k}.html"
        html = f"<html><body>高仿耐克 {k}</body></html>".encode()
        request = Request(url)
        pipe.response_downloaded(HtmlResponse(url, body=html, request=request), request)
        item = ListingItem(url=url, site="shop", listing_id=str(k), status=200, html=html, sweep_id="s1",
                           fetched_at="2026-11-23T19:11:00+00:00")
        return await pipe.process_item(item)

    async def main() -> list[ListingItem]:
        assert pipe.io is not None and pipe.io.in_process
        items = [await page(k) for k in range(5)]
        os.kill(pipe.io.pid, signal.SIGKILL)  # the child, as an OOM kill would
        items += await asyncio.gather(*(page(k) for k in range(5, 30)))
        assert not pipe.io.in_process
        await pipe.close_spider()
        return items

    with caplog.at_level(logging.ERROR):
        items = asyncio.run(main())
    assert "evidence writer process stopped" in caplog.text
    for item in items:
        assert (tmp_path / item.html_path).is_file()
    lines = read_manifest(manifest_path(tmp_path, "s1"))
    assert {e["url"] for e in lines} == {item.url for item in items}
    assert check_chain(manifest_path(tmp_path, "s1").read_bytes(), "s1.jsonl").ok
    assert len(list((tmp_path / "warc" / "s1").glob("s1-*.warc.gz"))) == 2  # the killed segment is kept


def test_warc_records_deflated_at_the_level_asked_and_png_stored(tmp_path):
    html = ("<html><body>" + "高仿耐克运动鞋 " * 400 + "</body></html>").encode()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    warc = WarcWriter(tmp_path / "warc" / "s1", "s1", gzip_level=6)
    request = Request("http://shop.test/item/1.html")
    response = HtmlResponse(request.url, body=html, headers={"Content-Type": "text/html"}, request=request)
    rid = warc.write_exchange(request, response, "2026-11-23T19:11:00+00:00")
    warc.write_resource("urn:netsword:screenshot:http://shop.test/item/1.html", png, "image/png",
                        "2026-11-23T19:11:00+00:00", concurrent_to=rid)
    warc.close()
    data = warc.path.read_bytes()
    assert len(data) < len(html) // 4 + len(png) + 2_000  # HTML deflated, the PNG as it is (plus framing)
    records = {}
    with open(warc.path, "rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            records[record.rec_type] = (record.rec_headers, record.content_stream().read())
    assert records["response"][1] == html
    assert records["resource"][1] == png
    assert records["resource"][0].get_header("WARC-Concurrent-To") == rid
    # every record is its own gzip member: a reader may start at any record
    assert gzip.GzipFile(fileobj=io.BytesIO(data)).read().count(b"WARC/1.") == 4


def test_item_goes_on_only_once_its_evidence_is_on_disk(tmp_path):
    """What the store gets has its HTML, its WARC records and its manifest line written already
    (also to the OS: a SIGKILL right after loses none of it)."""
    html = "<html><body><h1>高仿耐克</h1></body></html>".encode()
    url = "http://shop.test/item/1.html"

    async def main() -> ListingItem:
        pipe = EvidencePipeline(tmp_path, finding_screenshots=False)
        pipe.open_spider(type("Spider", (), {"sweep_id": "s1"})())
        request = Request(url)
        pipe.response_downloaded(HtmlResponse(url, body=html, request=request), request)
        item = ListingItem(url=url, site="shop", listing_id="1", status=200, html=html, sweep_id="s1",
                           fetched_at="2026-11-23T19:11:00+00:00",
                           findings=[Finding(rule_id="r1", rule_version="1", pack="test", title="高仿",
                                             category="counterfeit", severity="high", basis="test",
                                             subject_kind="listing", subject_id="shop:1", site="shop",
                                             shop_id="", url=url, field="title", matched=["高仿"])])
        item = await pipe.process_item(item)
        # still open: what is on disk now is what a kill would leave
        assert (tmp_path / item.html_path).is_file()
        lines = read_manifest(manifest_path(tmp_path, "s1"))
        assert [(e["url"], e["html_sha256"]) for e in lines] == [(url, item.html_sha256)]
        with open(tmp_path / "warc" / pipe.io.segment, "rb") as fh:
            kinds = [r.rec_type for r in ArchiveIterator(fh)]
        assert kinds == ["warcinfo", "request", "response"]
        await pipe.close_spider()
        return item

    item = asyncio.run(main())
    # the item came without a hash (not from the spider): evidence names the snapshot, and leaves
    # the findings as the matcher made them (the spider hashes the body before they are made)
    assert item.html == b"" and item.html_sha256 == hashlib.sha256(html).hexdigest()
    assert item.findings[0].snapshot_sha256 == ""
    assert gzip.decompress((tmp_path / item.html_path).read_bytes()) == html
    side = manifest_path(tmp_path, "s1").with_suffix(".jsonl.sha256")
    assert side.is_file() and json.loads(manifest_path(tmp_path, "s1").read_text().splitlines()[0])["warc"]
