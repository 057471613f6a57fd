"""Downloader middlewares for politeness and robustness.

* :class:`BackoffRetryMiddleware` replaces Scrapy's RetryMiddleware: the same settings
  (``RETRY_TIMES``, ``RETRY_HTTP_CODES``, ``RETRY_EXCEPTIONS``), plus a wait before each
  retry: the server's ``Retry-After`` (seconds or an HTTP date) when it sends one, else
  ``NETSWORD_RETRY_BACKOFF_BASE * 2 ** (try - 1)`` with +-25% jitter, never more than
  ``NETSWORD_RETRY_BACKOFF_MAX`` seconds. Each retry is logged with its URL and reason. A
  ``Retry-After`` on a 429 or 503 holds the whole site (its downloader slot), not just the one
  request: the site's downloader slot sends nothing until then (:mod:`crawler.slothold`; a timer on
  the event loop, never a blocking sleep on the reactor).
* :class:`AutoThrottle` (an extension) is Scrapy's, also speeding up on 304 answers.
* :class:`RedirectMiddleware` is Scrapy's, but a redirect loop (a -> b -> a) or a chain longer
  than ``REDIRECT_MAX_TIMES`` raises :class:`RedirectFailed`: the page is counted failed with its
  chain (Scrapy drops the loop's second visit as a duplicate without a word, or "ignores" the chain).
* :class:`FetchTimeMiddleware` stamps ``meta["netsword_fetched_at"]`` (UTC, ISO 8601) when a
  response arrives, so the item, the WARC record and the manifest agree on the fetch time.

Stats: ``retry/count``, ``retry/reason_count/<reason>``, ``retry/max_reached`` (Scrapy's) and
``netsword/retry/backoff_seconds``, ``netsword/redirect/loop``, ``netsword/redirect/too_many``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware as _ScrapyRedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle as _ScrapyAutoThrottle
from scrapy.http import Request, Response
from scrapy.utils.response import response_status_message

from crawler.slothold import hold_slot
from netsword.clock import utc_now

logger = logging.getLogger(__name__)




class FetchTimeMiddleware:
    """Stamps the time a response arrived (before any other middleware sees it)."""

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        request.meta["netsword_fetched_at"] = utc_now()
        return response


class RedirectFailed(IgnoreRequest):
    """A redirect loop or too long a chain: the page failed (the spider's errback counts it)."""


class RedirectMiddleware(_ScrapyRedirectMiddleware):
    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if redirected.url in chain:
            self.crawler.stats.inc_value("netsword/redirect/loop")
            raise RedirectFailed("redirect loop " + " -> ".join([*chain[chain.index(redirected.url):], redirected.url]))
        try:
            return super()._redirect(redirected, request, reason)
        except IgnoreRequest:
            self.crawler.stats.inc_value("netsword/redirect/too_many")
            raise RedirectFailed(f"more than {self.max_redirect_times} redirects (REDIRECT_MAX_TIMES), "
                                 f"from {chain[0]}") from None


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), None if absent/bad."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries with a growing wait between tries (and ``Retry-After`` honoured)."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("NETSWORD_RETRY_BACKOFF_BASE", 1.0)
        self.max = settings.getfloat("NETSWORD_RETRY_BACKOFF_MAX", 60.0)

    @classmethod
    def from_crawler(cls, crawler: Any) -> BackoffRetryMiddleware:
        mw = super().from_crawler(crawler)
        mw.crawler = crawler
        return mw

    def backoff(self, request: Request, response: Response | None = None) -> float:
        """Seconds to wait before the next try of ``request``."""
        tries = request.meta.get("retry_times", 0) + 1
        asked = retry_after_seconds(response.headers.get("Retry-After")) if response is not None else None
        if asked is not None:
            return min(asked, self.max)
        delay = self.base * 2 ** (tries - 1)
        return min(delay * random.uniform(0.75, 1.25), self.max)

    async def process_response(self, request: Request, response: Response,  # type: ignore[override]
                               spider: Any = None) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        reason = response_status_message(response.status)
        asked = retry_after_seconds(response.headers.get("Retry-After")) if response.status in (429, 503) else None
        if asked is not None:
            wait = min(asked, self.max)
            hold_slot(self.crawler, request, wait)  # the queued requests of the site wait too (crawler.slothold)
            self.crawler.stats.inc_value("netsword/retry_after/count")
            logger.warning("%s answered %d with Retry-After %s: nothing more goes to the site for %.1f s%s",
                           request.url, response.status, response.headers.get("Retry-After", b"").decode("latin-1"),
                           wait, f" (capped at NETSWORD_RETRY_BACKOFF_MAX {self.max:g} s)" if asked > self.max else "")
        retry = self._retry(request, reason)
        if retry is None:
            return response
        await self._wait(request, reason, self.backoff(request, response))
        return retry

    async def process_exception(self, request: Request, exception: Exception,  # type: ignore[override]
                                spider: Any = None) -> Request | Response | None:
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None
        reason = f"{type(exception).__name__}: {str(exception).splitlines()[0][:200] if str(exception) else ''}"
        await self._wait(request, reason, self.backoff(request))
        return retry

    async def _wait(self, request: Request, reason: str, seconds: float) -> None:
        tries = request.meta.get("retry_times", 0) + 1
        logger.info("retrying %s in %.1f s (try %d failed: %s)", request.url, seconds, tries, reason)
        self.crawler.stats.inc_value("netsword/retry/backoff_seconds", round(seconds, 3))
        if seconds > 0:
            await asyncio.sleep(seconds)


class AutoThrottle(_ScrapyAutoThrottle):
    """Scrapy's AutoThrottle, also speeding up on ``304 Not Modified`` (Scrapy only lowers the delay
    on 200s, so an incremental sweep answered mostly with 304s would crawl at the start delay)."""

    def _adjust_delay(self, slot: Any, latency: float, response: Response) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)
