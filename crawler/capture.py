"""JSON a browser page's own XHR/fetch calls received (``capture: {url: REGEX}`` in a page type).

While a ``render: browser`` page with ``capture:`` loads and runs its steps, every XHR/fetch response of
that page whose URL matches the regex is read (Playwright's ``response`` event, on our download handler,
:mod:`crawler.browser_handler`); once the page is done the bodies ride on the response
(``response.meta["netsword_captured"]``: url, status, content type, body, time), become the page's JSON
for ``json:`` fields (:mod:`crawler.jsonapi`) and go with the item to the evidence stage, which keeps
each body content-addressed like a snapshot, writes it to the WARC as a ``resource`` record concurrent
to its page and lists it in the manifest (``kind: capture``).

The request only carries the regex and limits (``meta["netsword_capture"]``: plain data, so requests stay
serialisable for Scrapy's disk queues). Stats: ``netsword/capture/responses``, ``.../too_big``,
``.../failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from netsword.clock import utc_now
from netsword.digests import sha256_bytes

logger = logging.getLogger(__name__)

#: request.meta: what to capture, ``{"url": regex, "max": n, "max_kb": k}``
CAPTURE = "netsword_capture"
#: response.meta: what was captured, ``[{"url", "status", "content_type", "fetched_at", "body"}]`` in page order
CAPTURED = "netsword_captured"
#: resource types of the page's own data calls
_DATA_CALLS = ("xhr", "fetch")
#: seconds to wait for bodies still being read when the page is done
SETTLE_SECONDS = 10.0


def capture_meta(capture: Any) -> dict[str, Any]:
    """The request meta for a profile's :class:`crawler.profiles.Capture`."""
    return {"url": capture.url, "max": capture.max_responses, "max_kb": capture.max_kb}


class Recorder:
    """Collects the matching responses of one page load."""

    def __init__(self, spec: dict[str, Any], stats: Any = None) -> None:
        self.pattern = re.compile(spec["url"])
        self.max = int(spec.get("max", 20))
        self.max_bytes = int(spec.get("max_kb", 4096)) * 1024
        self.stats = stats
        self._tasks: list[asyncio.Task[dict[str, Any] | None]] = []

    def on_response(self, response: Any) -> None:
        """Playwright's ``response`` event: start reading a matching data call's body."""
        try:
            kind = response.request.resource_type
        except Exception:  # a response without its request (the page went away)
            return
        if kind not in _DATA_CALLS or not self.pattern.search(response.url) or len(self._tasks) >= self.max:
            return
        self._tasks.append(asyncio.ensure_future(self._read(response)))

    async def _read(self, response: Any) -> dict[str, Any] | None:
        try:
            body = await response.body()
        except Exception as exc:  # the page navigated away, the call was aborted
            logger.info("captured response unreadable: %s (%s)", response.url, str(exc).splitlines()[0][:200])
            self._inc("netsword/capture/failed")
            return None
        if len(body) > self.max_bytes:
            logger.info("captured response not kept: %s is %d KB (capture.max_kb %d)", response.url,
                        len(body) // 1024, self.max_bytes // 1024)
            self._inc("netsword/capture/too_big")
            return None
        headers = response.headers or {}
        self._inc("netsword/capture/responses")
        return {"url": response.url, "status": response.status, "content_type": headers.get("content-type", ""),
                "fetched_at": utc_now(), "body": body}

    async def settle(self, timeout: float = SETTLE_SECONDS) -> list[dict[str, Any]]:
        """The captured responses, in the order the page received them."""
        if not self._tasks:
            return []
        done, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            task.cancel()
            self._inc("netsword/capture/failed")
        return [r for t in self._tasks if t in done and not t.cancelled() and (r := t.result()) is not None]

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)


@contextlib.asynccontextmanager
async def recording(page: Any, request: Any, stats: Any = None) -> AsyncIterator[Recorder]:
    """Record the page's matching data calls while the block runs (the download); the captures go to
    ``request.meta[CAPTURED]`` (the response's meta) when it ends, the page still open."""
    recorder = Recorder(request.meta[CAPTURE], stats)
    page.on("response", recorder.on_response)
    try:
        yield recorder
        request.meta[CAPTURED] = await recorder.settle()
    finally:
        with contextlib.suppress(Exception):
            page.remove_listener("response", recorder.on_response)


def evidence_entries(response: Any) -> list[dict[str, Any]]:
    """The captures of a response as the item carries them: with their SHA-256 and snapshot path."""
    from pipelines.store.files import html_rel

    out = []
    for cap in response.meta.get(CAPTURED) or ():
        sha = sha256_bytes(cap["body"])
        out.append({**cap, "sha256": sha, "path": html_rel(sha)})
    return out
