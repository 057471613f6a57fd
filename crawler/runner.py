"""Running a sweep (one crawl of one site) in this process, outside the `scrapy` command."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.config import ROOT


def data_home() -> Path:
    """Where the embedded store and evidence live: $NETSWORD_HOME or ./var."""
    return Path(os.environ.get("NETSWORD_HOME") or "var").resolve()


def default_store_url() -> str:
    return os.environ.get("NETSWORD_STORE") or f"sqlite:///{data_home() / 'netsword.db'}"


def default_evidence_dir() -> str:
    return os.environ.get("EVIDENCE_DIR") or str(data_home() / "evidence")


@dataclass
class SweepResult:
    sweep_id: str
    site: str
    stats: dict[str, Any] = field(default_factory=dict)


def run_sweep(site: str, *, base_url: str | None = None, store_url: str | None = None,
              evidence_dir: str | None = None, sweep_id: str | None = None,
              quiet: bool = False, extra_settings: dict[str, Any] | None = None) -> SweepResult:
    """Crawl ``site`` with its profile through the whole pipeline; blocks until done."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.spiders.listing import ListingSpider, new_sweep_id

    settings = get_project_settings()
    settings.set("STORE_URL", store_url or default_store_url(), priority="cmdline")
    settings.set("EVIDENCE_DIR", evidence_dir or default_evidence_dir(), priority="cmdline")
    if quiet:
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
        _show_progress_lines()
    for key, value in (extra_settings or {}).items():
        settings.set(key, value, priority="cmdline")
    Path(settings.get("EVIDENCE_DIR")).mkdir(parents=True, exist_ok=True)
    _ensure_sqlite_parent(settings.get("STORE_URL"))

    sweep_id = sweep_id or new_sweep_id(site)
    process = CrawlerProcess(settings, install_root_handler=True)
    crawler = process.create_crawler(ListingSpider)
    process.crawl(crawler, site=site, base_url=base_url, sweep_id=sweep_id)
    process.start()
    return SweepResult(sweep_id, site, dict(crawler.stats.get_stats() or {}))


def _show_progress_lines() -> None:
    logger = logging.getLogger("netsword.progress")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("  %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _ensure_sqlite_parent(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
