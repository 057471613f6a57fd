"""Seeds besides ``start_urls``: sitemaps (``seeds: {sitemaps: [...], robots: true}`` in a profile).

A sitemap is read with Scrapy's own parser (:class:`scrapy.utils.sitemap.Sitemap`, what ``SitemapSpider``
uses: a ``sitemapindex`` names more sitemaps, a ``urlset`` names pages; gzipped files, served as
``.xml.gz`` or with a gzip body, are unpacked with :func:`scrapy.utils.gz.gunzip` within
``DOWNLOAD_MAXSIZE``). ``robots: true`` also reads the ``Sitemap:`` lines of the site's robots.txt
(:func:`scrapy.utils.sitemap.sitemap_urls_from_robots`). Of the page URLs, only those a page type of
the profile matches are queued (the rest are counted: ``netsword/seeds/sitemap_unmatched``), at most
``seeds.max_urls`` per sweep.

Stats: ``netsword/seeds/sitemaps`` (read), ``.../sitemap_urls`` (queued), ``.../sitemap_unmatched``,
``.../sitemap_bad`` (not a sitemap), ``.../sitemap_capped`` (over ``max_urls``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

logger = logging.getLogger(__name__)

#: request.meta flag of a sitemap or robots.txt fetched as a seed
SEED = "netsword_seed"


def seed_requests(spider: Any) -> Iterator[scrapy.Request]:
    """The sitemap (and robots.txt) requests of the spider's profile."""
    seeds = spider.profile.seeds
    if seeds is None:
        return
    base = (spider.base_url or spider.profile.base_url).rstrip("/")
    for url in seeds.sitemaps:
        yield sitemap_request(spider, url.replace("{base_url}", base))
    if seeds.robots and base:
        yield scrapy.Request(f"{base}/robots.txt", callback=spider.parse_seed, errback=spider.on_error,
                             meta={SEED: "robots", "netsword_full": True}, dont_filter=True)


def sitemap_request(spider: Any, url: str) -> scrapy.Request:
    return scrapy.Request(url, callback=spider.parse_seed, errback=spider.on_error,
                          meta={SEED: "sitemap", "netsword_full": True})


def sitemap_body(response: Response, max_size: int) -> bytes | None:
    """The sitemap XML of a response (unpacked if gzipped), or None if it is none."""
    body = response.body
    if gzip_magic_number(response):
        try:
            body = gunzip(body, max_size=max_size) if max_size else gunzip(body)
        except Exception as exc:  # a broken or too big archive
            logger.warning("sitemap %s not read: %s", response.url, exc)
            return None
    head = body[:2048].lstrip()
    return body if head.startswith(b"<") else None


def parse_seed(spider: Any, response: Response) -> Iterator[scrapy.Request]:
    """Requests for what a sitemap or robots.txt names."""
    stats = spider.crawler.stats
    if response.meta.get(SEED) == "robots":
        for url in sitemap_urls_from_robots(response.text, base_url=response.url):
            yield sitemap_request(spider, url)
        return
    body = sitemap_body(response, spider.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
    try:
        sitemap = Sitemap(body) if body else None
    except Exception as exc:  # lxml could not read it at all
        logger.warning("sitemap %s not read: %s", response.url, exc)
        sitemap = None
    if sitemap is None or sitemap.type not in ("sitemapindex", "urlset"):
        stats.inc_value("netsword/seeds/sitemap_bad")
        logger.warning("not a sitemap: %s (a sitemapindex or urlset was expected)", response.url)
        return
    stats.inc_value("netsword/seeds/sitemaps")
    limit = spider.profile.seeds.max_urls if spider.profile.seeds else 50_000
    for entry in sitemap:
        loc = (entry.get("loc") or "").strip()
        if not loc:
            continue
        url = response.urljoin(loc)
        if sitemap.type == "sitemapindex":
            yield sitemap_request(spider, url)
            continue
        if (stats.get_value("netsword/seeds/sitemap_urls") or 0) >= limit:
            stats.inc_value("netsword/seeds/sitemap_capped")
            continue
        request = spider.request_for(url)
        if request is None:
            stats.inc_value("netsword/seeds/sitemap_unmatched")
            continue
        stats.inc_value("netsword/seeds/sitemap_urls")
        yield request
