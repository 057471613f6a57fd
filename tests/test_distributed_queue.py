"""The sweep's frontier in a real Redis (tests/redis_server.py): what a worker relies on when it is killed.

* a link is marked seen and queued in one step, so no URL is ever marked seen without being queued;
* a page that failed in the pipeline comes back for another worker, and is given up after three tries;
* what a worker holds back to save round trips (requests leased ahead, new links, download places given
  back) reaches Redis before it matters: before the page's lease goes back, or when the worker closes.
"""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawler.distributed.dupefilter import BloomDupeFilter, marks
from crawler.distributed.keys import SweepKeys
from crawler.distributed.queue import LEASE, LeasedPriorityQueue


@pytest.fixture
def frontier(redis_url):
    import redis
    from scrapy import Spider

    server = redis.Redis.from_url(redis_url)
    spider = Spider.from_crawler(get_crawler(Spider, {"NETSWORD_REDIS_LEASE_SECONDS": 60}), name="t")
    keys = SweepKeys("q")
    yield server, LeasedPriorityQueue(server, spider, keys.queue), keys
    server.flushdb()


@pytest.mark.parametrize("kind", ["bloom", "set"])
def test_a_new_link_is_queued_and_marked_seen_together_and_a_seen_one_is_not_queued(frontier, kind):
    from scrapy_redis.dupefilter import RFPDupeFilter

    server, queue, keys = frontier
    dupes = BloomDupeFilter(server, keys.seen, capacity=1000) if kind == "bloom" else RFPDupeFilter(server, keys.seen)
    first = Request("http://127.0.0.1:1/item/L1.html")
    assert queue.admit(first, keys.seen, *marks(dupes, first))
    assert len(queue) == 1 and server.exists(keys.seen)
    again = Request("http://127.0.0.1:1/item/L1.html")
    assert not queue.admit(again, keys.seen, *marks(dupes, again))
    assert len(queue) == 1
    other = Request("http://127.0.0.1:1/item/L2.html", priority=5)
    assert queue.admit(other, keys.seen, *marks(dupes, other))
    assert queue.pop().url == other.url  # the higher priority first, as scrapy-redis orders them


def test_a_duplicate_with_a_lease_gives_its_lease_back(frontier):
    server, queue, keys = frontier
    dupes = BloomDupeFilter(server, keys.seen, capacity=1000)
    page = Request("http://127.0.0.1:1/a")
    queue.admit(page, keys.seen, *marks(dupes, page))
    taken = queue.pop()
    assert queue.leased() == 1
    redirect = Request("http://127.0.0.1:1/a", meta={LEASE: taken.meta[LEASE]})  # e.g. redirected to itself
    assert not queue.admit(redirect, keys.seen, *marks(dupes, redirect))
    assert queue.leased() == 0 and len(queue) == 0


def test_a_page_that_failed_in_the_pipeline_comes_back_and_is_given_up_at_the_third_failure(frontier):
    server, queue, keys = frontier
    queue.push(Request("http://127.0.0.1:1/item/L9.html"))
    for attempt in (1, 2):
        taken = queue.pop()
        assert taken is not None, f"attempt {attempt}: the page did not come back"
        assert queue.fail(taken.meta[LEASE]) is True
        assert queue.reclaim() == 1 and len(queue) == 1 and queue.leased() == 0
    taken = queue.pop()
    assert queue.fail(taken.meta[LEASE]) is False
    assert queue.reclaim() == 0 and len(queue) == 0 and queue.leased() == 0
    assert not server.exists(keys.failures)


def test_a_worker_checks_a_link_in_redis_once_and_remembers_it(redis_url):
    """A link every page repeats (a shop, a category) costs a worker one round trip to Redis, not one per page
    that links to it; another worker still learns from Redis that it was seen, and a redirect that carries a
    lease still goes to Redis (its lease is given back there)."""
    import redis
    from scrapy import Spider

    from crawler.distributed.scheduler import LeaseScheduler

    server = redis.Redis.from_url(redis_url)
    keys = SweepKeys("known")
    settings = {"REDIS_URL": redis_url, "SCHEDULER_QUEUE_CLASS": "crawler.distributed.queue.LeasedPriorityQueue",
                "SCHEDULER_QUEUE_KEY": keys.queue, "SCHEDULER_DUPEFILTER_KEY": keys.seen, "SCHEDULER_PERSIST": True,
                "DUPEFILTER_CLASS": "crawler.distributed.dupefilter.BloomDupeFilter",
                "NETSWORD_REDIS_BLOOM_CAPACITY": 1000}

    def worker() -> tuple[LeaseScheduler, Any]:
        crawler = get_crawler(Spider, settings)
        spider = Spider.from_crawler(crawler, name="t")
        crawler.spider = spider
        scheduler = LeaseScheduler.from_crawler(crawler)
        scheduler.open(spider)
        return scheduler, crawler

    def scripts_run() -> int:
        return int(server.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))

    try:
        one, crawler = worker()
        before = scripts_run()
        assert one.enqueue_request(Request("http://127.0.0.1:1/shop/s1.html"))
        for _ in range(5):  # five more pages link to the same shop
            assert not one.enqueue_request(Request("http://127.0.0.1:1/shop/s1.html"))
        assert crawler.stats.get_value("netsword/frontier/known") == 5
        assert len(one.queue) == 1  # counting the queue sends the waiting link first
        assert scripts_run() == before + 1  # one round trip for the six links

        two, _ = worker()  # another worker: nothing remembered, Redis says it was seen
        assert two.enqueue_request(Request("http://127.0.0.1:1/shop/s1.html"))  # waits in the worker
        assert [ok for _, ok in two.queue.flush_admits()] == [False]
        assert scripts_run() == before + 2

        taken = two.queue.pop()
        assert two.queue.leased() == 1
        redirect = Request("http://127.0.0.1:1/shop/s1.html", meta={LEASE: taken.meta[LEASE]})
        assert not one.enqueue_request(redirect)  # remembered, but its lease must go back in Redis
        assert two.queue.leased() == 0
    finally:
        server.flushdb()


def test_new_links_wait_in_the_worker_and_reach_the_queue_before_the_lease_of_their_page_goes_back(frontier):
    """The links of a page go to Redis together, in one round trip, and at the latest when the page's lease
    goes back: a worker killed before that loses no link, since the page itself comes back."""
    server, queue, keys = frontier
    dupes = BloomDupeFilter(server, keys.seen, capacity=1000)
    queue.push(Request("http://127.0.0.1:1/list/1.html"))
    page = queue.pop()
    links = [Request(f"http://127.0.0.1:1/item/L{n}.html") for n in range(10)]
    for link in links:
        queue.admit_later(link, keys.seen, *marks(dupes, link))
    assert server.zcard(keys.queue) == 0  # still in the worker
    calls = int(server.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
    queue.defer_ack(page.meta[LEASE])
    assert queue.ack_done() == 1
    assert server.zcard(keys.queue) == 10 and queue.leased() == 0  # the links are queued, the page is done
    assert int(server.info("commandstats")["cmdstat_evalsha"]["calls"]) == calls + 10  # each link's own script
    again = Request("http://127.0.0.1:1/item/L3.html")
    queue.admit_later(again, keys.seen, *marks(dupes, again))
    assert queue.flush_admits() == [(again, False)]  # seen: not queued twice


def test_a_pop_leases_several_requests_and_a_closing_worker_gives_back_those_it_did_not_start(frontier):
    server, queue, keys = frontier
    for n in range(12):
        queue.push(Request(f"http://127.0.0.1:1/item/L{n}.html", priority=n))
    first = queue.pop()
    assert first.url.endswith("/L11.html")  # the highest priority first
    assert queue.leased() == queue.pop_batch == 8 and server.zcard(keys.queue) == 4
    assert len(queue) == 11  # the 7 leased ahead are still this worker's to do
    assert [queue.pop().url.rsplit("/", 1)[1] for _ in range(2)] == ["L10.html", "L9.html"]
    assert queue.give_back_unstarted() == 5
    assert queue.leased() == 3 and server.zcard(keys.queue) == 9  # the three started stay leased
    rest = [queue.pop().url.rsplit("/", 1)[1] for _ in range(9)]
    assert rest[:2] == ["L8.html", "L7.html"]  # in priority order again, after being given back


def test_a_download_place_goes_back_with_the_next_take_and_all_of_them_when_the_spider_closes(redis_url):
    """The cluster limiter (crawler.distributed.limiter) saves a round trip per page: a place given back is
    sent with the next take at that site, else within RETURN_WITHIN seconds. Until then it still counts as taken
    (never less polite), and a closing worker sends every place it gave back, so the other workers do not wait
    for their holds to run out."""
    import asyncio

    import redis
    import redis.asyncio

    from crawler.distributed.limiter import RETURN_WITHIN, ClusterLimiter

    server = redis.Redis.from_url(redis_url)
    keys = SweepKeys("places")

    async def run() -> None:
        aserver = redis.asyncio.Redis.from_url(redis_url)
        limiter = ClusterLimiter(server, keys, concurrency=2, delay=0, hold=60, aserver=aserver)
        places = keys.limiter("shop.example")
        assert await limiter.take_async("shop.example", "a") == 0
        assert await limiter.take_async("shop.example", "b") == 0
        assert await limiter.take_async("shop.example", "c") == -1  # both places taken
        limiter.give_back("shop.example", "a")
        assert server.zcard(places) == 2  # not sent yet: still counted as taken
        assert await limiter.take_async("shop.example", "c") == 0  # sent with this take, which got its place
        assert sorted(server.zrange(places, 0, -1)) == [b"b", b"c"]
        limiter.give_back("shop.example", "b")
        await asyncio.sleep(RETURN_WITHIN * 3)  # no take came: sent on its own
        assert server.zrange(places, 0, -1) == [b"c"]
        limiter.give_back("shop.example", "c")
        await limiter.spider_closed()
        assert server.zcard(places) == 0

    try:
        asyncio.run(run())
    finally:
        server.flushdb()
