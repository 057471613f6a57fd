"""Running a sweep (one crawl of one site) in this process, outside the `scrapy` command.

Each site has a job folder, ``<NETSWORD_HOME>/jobs/<site>/`` (Scrapy's ``JOBDIR``): the
frontier (:mod:`crawler.frontier`), Scrapy's disk queue, and ``sweep.json`` (sweep id, base
URL, search terms, whether it finished). ``resume=True`` continues the last unfinished sweep of
the site with the same sweep id; a new sweep starts from an empty job folder (but for the copy of
the page states, ``pages.sqlite``, see :mod:`pipelines.store.pagecache`).

Store outages: a sweep whose writes went to the local spool (Elasticsearch unreachable) and are
still there when it ends, or whose listings matched without price history could not be matched
again yet (``history_unknown.txt``, see :mod:`pipelines.history`), is *not* finished: after
``netsword index replay``, ``resume=True`` completes it. A resume needs the store readable (what is
done is what the store has): otherwise it raises ``StoreUnavailable`` saying what to do, before
anything is changed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netsword import config as netsword_config
from netsword.clock import utc_now
from netsword.config import ROOT

#: what a new sweep keeps of the job folder: the copy of the page states (pipelines.store.pagecache)
KEEP_IN_JOB = ("pages.sqlite",)


class SweepError(RuntimeError):
    """A sweep cannot start (nothing to resume, a bad profile ...); the message says what to do."""


@dataclass
class SweepResult:
    sweep_id: str
    site: str
    stats: dict[str, Any] = field(default_factory=dict)
    waiting: int = 0  # writes this sweep spooled (store unreachable) that are still in the spool
    spool: str = ""  # the spool file
    history_pending: int = 0  # listings matched without price history, not matched again yet

    @property
    def finished(self) -> bool:
        """The crawl ran to its end (not stopped early; also when its profile broke: crawler.fillrate)."""
        return self.stats.get("finish_reason") in ("finished", "profile_broken")

    @property
    def fill_report(self) -> Any:
        """The sweep's fill rates and what broke (:class:`crawler.fillrate.FillReport`), or None."""
        from crawler.fillrate import REPORT_STAT, FillReport

        text = self.stats.get(REPORT_STAT)
        return FillReport.from_json(text) if text else None

    @property
    def stored(self) -> bool:
        """Everything the sweep found is in the store (nothing waits in a spool or for its history)."""
        return not self.waiting and not self.history_pending

    def summary(self) -> dict[str, int]:
        """Pages ok / retried (ok after a retry) / failed / unchanged / skipped, and items."""
        get = self.stats.get
        return {"pages": get("response_received_count", 0), "ok": get("netsword/pages/ok", 0),
                "retried": get("netsword/pages/retried", 0), "failed": get("netsword/pages/failed", 0),
                "unchanged": get("netsword/pages/unchanged", 0), "skipped": get("netsword/pages/skipped", 0),
                "browser": get("netsword/browser/pages", 0), "listings": get("netsword/listings", 0),
                "shops": get("netsword/shops", 0), "findings": get("netsword/findings", 0)}


def _read_job(job: Path) -> dict[str, Any]:
    try:
        return json.loads((job / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_job(job: Path, info: dict[str, Any]) -> None:
    job.mkdir(parents=True, exist_ok=True)
    tmp = job / "sweep.json.tmp"
    tmp.write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(job / "sweep.json")


def prepare_job(site: str, *, resume: bool, sweep_id: str | None, base_url: str | None,
                search: list[str] | None, job: Path | None = None) -> dict[str, Any]:
    """The job description (sweep.json) for a new or a resumed sweep of ``site`` (in ``job``, default
    the site's job folder)."""
    from crawler.spiders.listing import new_sweep_id

    job = job or netsword_config.job_dir(site)
    info = _read_job(job)
    if resume:
        if not info:
            raise SweepError(f"nothing to resume for site {site!r} (no job in {job}); start a sweep without --resume")
        if info.get("finished"):
            raise SweepError(f"sweep {info['sweep_id']} of {site!r} already finished; start a new one without --resume")
        for stale in ("requests.queue", "requests.seen"):  # Scrapy's: stale after a kill, rebuilt from the frontier
            path = job / stale
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        info["resumed"] = int(info.get("resumed", 0)) + 1
        if base_url:
            info["base_url"] = base_url
    else:
        if info and not info.get("finished"):
            logging.getLogger(__name__).warning(
                "unfinished sweep %s of %s is dropped (next time: netsword crawl --resume)", info.get("sweep_id"), site)
        _clear_job(job)
        info = {"site": site, "sweep_id": sweep_id or new_sweep_id(site), "base_url": base_url,
                "search": search or [], "started_at": utc_now(),
                "finished": False, "resumed": 0}
    _write_job(job, info)
    return info


def _clear_job(job: Path) -> None:
    """Empty the job folder for a new sweep, but for what outlives sweeps (``KEEP_IN_JOB``)."""
    if not job.is_dir():
        return
    for path in job.iterdir():
        if path.name.startswith(KEEP_IN_JOB):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def run_sweep(site: str, *, base_url: str | None = None, store_url: str | None = None,
              evidence_dir: str | None = None, sweep_id: str | None = None,
              quiet: bool = False, extra_settings: dict[str, Any] | None = None,
              resume: bool = False, search: list[str] | None = None, full: bool = False,
              urls: list[str] | None = None, job_name: str | None = None) -> SweepResult:
    """Crawl ``site`` with its profile through the whole pipeline; blocks until done.

    ``resume``: continue the site's last unfinished sweep; ``search``: sweep only the search
    results for these terms; ``full``: parse every page even if unchanged since the last sweep;
    ``urls``: fetch only these pages, follow no link (re-checks); ``job_name``: the job folder's
    name (default the site: a re-check keeps its own, and leaves an unfinished sweep resumable).
    """
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.profiles import find_profile
    from crawler.spiders.listing import ListingSpider

    profile = find_profile(site)  # a bad profile fails here, before anything is written
    ruleset = _check_rules(extra_settings or {})  # so do broken rule packs (RuleError: file:line)
    known_base = base_url or (_read_job(netsword_config.job_dir(site)).get("base_url") if resume else None)
    _check_base_url(site, profile, known_base)
    store_url = store_url or netsword_config.store_url()
    from crawler.subpages import store_problem

    if problem := store_problem(profile, store_url):  # sub-pages need a store that keeps parts
        raise SweepError(problem)
    _quiet_transport()
    _ensure_sqlite_parent(store_url)
    if resume:
        _check_store_readable(site, store_url)
    job_path = netsword_config.job_dir(job_name or site)
    job = prepare_job(site, resume=resume, sweep_id=sweep_id, base_url=base_url, search=search, job=job_path)
    settings = get_project_settings()
    settings.set("STORE_URL", store_url, priority="cmdline")
    settings.set("EVIDENCE_DIR", evidence_dir or str(netsword_config.evidence_dir()), priority="cmdline")
    settings.set("JOBDIR", str(job_path), priority="cmdline")
    settings.set("NETSWORD_RESUME", resume, priority="cmdline")
    if full:
        settings.set("NETSWORD_INCREMENTAL", False, priority="cmdline")
    if quiet:
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
        _show_progress_lines()
        logging.getLogger("crawler.fillrate").setLevel(logging.CRITICAL)  # the caller prints the fill rate table
    for key, value in (extra_settings or {}).items():
        settings.set(key, value, priority="cmdline")
    settings.set("MATCH_RULESET", ruleset, priority="cmdline")
    Path(settings.get("EVIDENCE_DIR")).mkdir(parents=True, exist_ok=True)

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(ListingSpider)
    process.crawl(crawler, site=site, profile=profile, base_url=job.get("base_url"), sweep_id=job["sweep_id"],
                  search=job.get("search") or None, urls=urls)
    process.start()
    result = _result(job["sweep_id"], site, dict(crawler.stats.get_stats() or {}), store_url, job_path)
    if result.finished and result.stored:
        job["finished"] = True
        _write_job(job_path, job)
    return result


def _check_base_url(site: str, profile: Any, base_url: str | None) -> None:
    """Start and search URLs written as ``{base_url}/...`` need a base URL from the profile or the command."""
    templates = [*profile.start_urls, *([profile.search.url] if profile.search else []),
                 *(profile.seeds.sitemaps if profile.seeds else [])]
    if not (base_url or profile.base_url) and any("{base_url}" in u for u in templates):
        path = netsword_config.sites_dir() / f"{site}.yml"
        raise SweepError(f"{path}: start_urls use {{base_url}} but the profile sets no base_url; add "
                         f"`base_url: https://...` to it, or pass --base-url URL "
                         f"(站点配置没有 base_url：在配置里写上，或用 --base-url 指定)")


def _check_rules(extra_settings: dict[str, Any]) -> Any:
    """The compiled rule packs of the sweep; a broken pack raises its RuleError before any job is made."""
    from pipelines.match import RuleSet

    rules_dir = extra_settings.get("MATCH_RULES_DIR") or None
    include_test = bool(extra_settings.get("MATCH_INCLUDE_TEST", False))
    return RuleSet.load(rules_dir, include_test=include_test)


def _result(sweep_id: str, site: str, stats: dict[str, Any], store_url: str, job: Path | None = None) -> SweepResult:
    from pipelines.history import UnknownHistory
    from pipelines.store import waiting_writes

    result = SweepResult(sweep_id, site, stats)
    if stats.get("netsword/store/spooled"):  # this sweep spooled writes: are they still there?
        result.waiting, result.spool = waiting_writes(store_url)
    result.history_pending = len(UnknownHistory(job or netsword_config.job_dir(site)).ids())
    return result


def _check_store_readable(site: str, store_url: str) -> None:
    """A resume starts from what the store has: it cannot start while the store cannot be read."""
    from pipelines.store import StoreUnavailable, open_store

    engine_log = logging.getLogger("pipelines.store.elastic.engine")
    level = engine_log.level
    engine_log.setLevel(logging.ERROR)  # an unreachable store is said below, in the one line of the refusal
    try:
        store = open_store(store_url)  # sends what waits in a spool, if it can
    finally:
        engine_log.setLevel(level)
    try:
        store.sweeps()
    except StoreUnavailable as exc:  # the command line says it in one line (cli.py, exit 3)
        raise StoreUnavailable(f"cannot resume the sweep of {site!r} while the store is unreadable: {exc}. "
                               f"When it is back: netsword index replay, then netsword crawl --site {site} "
                               "--resume") from exc
    finally:
        store.close()


def _quiet_transport() -> None:
    """The Elasticsearch client logs every retry; the store says what matters once (engine.py)."""
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    logging.getLogger("opensearch").setLevel(logging.ERROR)


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
