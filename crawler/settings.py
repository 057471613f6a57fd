"""Scrapy settings for netsword: politeness, retries, Playwright, and the pipeline order.

netsword's own settings are prefixed by the component that reads them
(``NETSWORD_*`` for the sweep, ``EVIDENCE_*``, ``STORE_*``, ``MATCH_*``), kept alphabetical
inside each group. Every one can be overridden the Scrapy way (``-s NAME=VALUE``) or by
an environment variable of the same name (read by :mod:`crawler.config`).
"""

from crawler.browser import launch_options
from crawler.config import env_setting

BOT_NAME = "netsword"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- politeness (a site profile may lower these; see crawler/sites/*.yml) ---------------
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0.25
DOWNLOAD_TIMEOUT = 30
ROBOTSTXT_OBEY = True
USER_AGENT = "netsword/0.1 (+market supervision sweep; contact: see site profile)"

# --- robustness --------------------------------------------------------------------------
RETRY_ENABLED = True
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_TIMES = 3

# --- Scrapy 2.19 defaults we do not want on an unattended crawler ------------------------
EXTENSIONS = {
    "scrapy.extensions.remote_control.RemoteControl": None,
    "crawler.progress.ProgressLog": 500,
}
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

# --- browser pages (render: browser in a profile) ----------------------------------------
DOWNLOAD_HANDLERS = {
    "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
}
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = launch_options()
PLAYWRIGHT_MAX_CONTEXTS = 2
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 20_000

# --- the netsword pipeline: normalize -> match -> evidence -> store ----------------------
ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.matcher.MatchPipeline": 200,
    "pipelines.evidence.EvidencePipeline": 300,
    "pipelines.store.pipeline.StorePipeline": 400,
}

EVIDENCE_DIR = env_setting("EVIDENCE_DIR", "var/evidence")
NETSWORD_PROGRESS_INTERVAL = 2.0
STORE_BATCH_SIZE = 200
STORE_URL = env_setting("NETSWORD_STORE", "sqlite:///var/netsword.db")
