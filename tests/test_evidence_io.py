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
import threading

import pytest
from scrapy.http import HtmlResponse, Request
from warcio.archiveiterator import ArchiveIterator

from crawler.items import Finding, ListingItem
from pipelines.evidence import EvidencePipeline, manifest_path, read_manifest
from pipelines.evidence.warc import WarcWriter
from pipelines.evidence.worker import EvidenceIO


def test_evidence_thread_runs_writes_in_the_order_asked():
    async def main() -> tuple[list[int], int, str]:
        io_ = EvidenceIO()
        seen: list[int] = []
        for n in range(50):
            io_.submit(seen.append, n)
        result = await io_.run(lambda: len(seen))  # comes after every submit before it
        name = await io_.run(lambda: threading.current_thread().name)
        io_.shutdown()
        return seen, result, name

    seen, result, name = asyncio.run(main())
    assert seen == list(range(50)) and result == 50
    assert name.startswith("netsword-evidence")


def test_evidence_thread_reports_failures(caplog):
    def boom() -> None:
        raise OSError("disk full")

    async def main() -> None:
        io_ = EvidenceIO()
        io_.submit(boom)  # not waited for: logged
        with pytest.raises(OSError, match="disk full"):  # waited for: raised to the caller
            await io_.run(boom)
        io_.shutdown()

    with caplog.at_level(logging.ERROR, logger="pipelines.evidence.worker"):
        asyncio.run(main())
    assert "disk full" in caplog.text


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
        with open(pipe.warc.path, "rb") as fh:
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
