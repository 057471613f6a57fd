"""The job folder's request queue (crawler.diskqueue): what Scrapy's own queue writes, found faster."""

from __future__ import annotations

from scrapy import Request
from scrapy.http import FormRequest
from scrapy.squeues import PickleLifoDiskQueue as ScrapyQueue
from scrapy.utils.test import get_crawler

from crawler.diskqueue import PickleLifoDiskQueue, request_dict
from crawler.spiders.listing import ListingSpider


def _spider() -> ListingSpider:
    crawler = get_crawler(ListingSpider)
    crawler.spider = ListingSpider.__new__(ListingSpider)
    return crawler


def test_requests_are_written_as_scrapy_writes_them_and_read_back_by_either(tmp_path):
    crawler = _spider()
    spider = crawler.spider
    requests = [Request("http://shop.test/item/1.html", callback=spider.parse, errback=spider.on_error,
                        meta={"netsword_page_no": 2}, priority=5),
                Request("http://shop.test/"),
                FormRequest("http://shop.test/search", formdata={"q": "高仿"}, callback=spider.parse)]
    for request in requests:
        assert request_dict(request, spider) == request.to_dict(spider=spider)
    ours = PickleLifoDiskQueue(crawler, str(tmp_path / "q"))
    for request in requests:
        ours.push(request)
    ours.close()
    theirs = ScrapyQueue(crawler, str(tmp_path / "q"))  # a job folder written by ours, read by Scrapy's
    back = [theirs.pop() for _ in requests][::-1]
    theirs.close()
    assert [(r.url, r.callback, r.errback, r.meta, r.priority, type(r)) for r in back] == \
        [(r.url, r.callback, r.errback, r.meta, r.priority, type(r)) for r in requests]


def test_a_callback_the_spider_does_not_own_goes_through_scrapys_own_lookup():
    crawler = _spider()
    other = ListingSpider.__new__(ListingSpider)
    request = Request("http://shop.test/", callback=other.parse)  # another spider's method: found by name
    assert request_dict(request, crawler.spider) == request.to_dict(spider=crawler.spider)
