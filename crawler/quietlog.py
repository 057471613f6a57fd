"""One line, not a traceback, for a page that could not be downloaded.

Scrapy's robots.txt middleware logs a failed robots.txt download with the whole traceback (80
lines for a refused connection). A site that is down is not a bug: the spider's errback already
reports each failed page with its URL, and the sweep's summary says the site is down. This
extension keeps such log records to their message line.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from twisted.internet.error import ConnectError, ConnectionLost, DNSLookupError, TimeoutError

#: failures of the network or the site, not of netsword
NETWORK_ERRORS = (CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
                  DownloadFailedError, DownloadTimeoutError, ResponseDataLossError, ConnectError, ConnectionLost,
                  DNSLookupError, TimeoutError)
#: loggers whose network-failure records lose their traceback
LOGGERS = ("scrapy.downloadermiddlewares.robotstxt",)


class NetworkErrorsInOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, NETWORK_ERRORS):
            record.exc_info, record.exc_text = None, None
        return True


class QuietNetworkErrors:
    """Scrapy extension (``EXTENSIONS``): installs :class:`NetworkErrorsInOneLine` on :data:`LOGGERS`."""

    def __init__(self) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, NetworkErrorsInOneLine) for f in logger.filters):
                logger.addFilter(NetworkErrorsInOneLine())

    @classmethod
    def from_crawler(cls, crawler: Any) -> QuietNetworkErrors:
        return cls()
