"""Scrapy settings for netsword: politeness, retries, Playwright, and the pipeline order.

Every setting any stage reads is declared here (``tests/test_rooms.py`` checks it), prefixed
by the component that reads it (``NETSWORD_*`` for the sweep, ``NORMALIZE_*``, ``HISTORY_*``,
``MATCH_*``, ``EVIDENCE_*``, ``STORE_*``) and kept alphabetical inside each group. Each can be
overridden the Scrapy way (``-s NAME=VALUE``).

Paths and the store URL come from the configuration room (:mod:`netsword.config`: defaults <
config file < environment < command line). Crawl settings: these defaults < the site
profile's ``politeness`` (robots, concurrency, delay, AutoThrottle, timeout, retries) and
``limits`` (max_depth, max_pages, max_page_mb; both applied by the spider) < ``-s`` /
``run_sweep(extra_settings=)``.
"""

from scrapy.settings.default_settings import RETRY_EXCEPTIONS as _SCRAPY_RETRY_EXCEPTIONS

from crawler.browser import launch_options
from netsword import config as netsword_config

BOT_NAME = "netsword"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- politeness (a site profile may change these; see crawler/sites/*.yml) --------------
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0.25
DOWNLOAD_TIMEOUT = 30
ROBOTSTXT_OBEY = True
# a profile's `identity: {user_agent: ...}` wins (crawler.identity); this one says who we are
USER_AGENT = "netsword/0.1 (+market supervision sweep; contact: see site profile)"

# --- robustness: retries with backoff (crawler.middlewares) ------------------------------
NETSWORD_RETRY_BACKOFF_BASE = 1.0  # seconds before the first retry, doubled for each next one
NETSWORD_RETRY_BACKOFF_MAX = 60.0  # never wait longer (also caps Retry-After)
RETRY_ENABLED = True
RETRY_EXCEPTIONS = [*_SCRAPY_RETRY_EXCEPTIONS, "playwright.async_api.Error"]  # browser timeouts, crashed pages
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"  # the spider logs one "page failed" line per URL instead
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_TIMES = 3

# --- traps: bounds on one sweep (a profile's `limits:` overrides them; crawler.limits) ----
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # a bigger page is not downloaded (counted failed); Scrapy's is 1 GiB
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
METAREFRESH_MAXDELAY = 5  # a shorter meta refresh is a redirect; a longer one is a page (parsed, target followed)
NETSWORD_MAX_FIELD_CHARS = 100_000  # longer extracted fields are cut (the page itself is kept whole as evidence)
NETSWORD_MAX_DEPTH = 10  # link hops from a start page (a list's next pages do not count); deeper links are cut off
NETSWORD_MAX_PAGES = 20_000  # requests per sweep; further new links are cut off
REDIRECT_MAX_TIMES = 10  # longer chains and loops are failed pages (crawler.middlewares.RedirectMiddleware)

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.RedirectMiddleware": 600,  # a loop or a too long chain: one failed page, not dropped
    "crawler.identity.IdentityMiddleware": 400,  # the profile's user agent, headers, proxies (before 500 and 750)
    "crawler.middlewares.BackoffRetryMiddleware": 550,  # also holds a site that sent Retry-After
    "crawler.identity.ProxyBlockWatch": 555,  # a proxy answered 403/407/429: rotate (before the retry is made)
    "crawler.walls.WallMiddleware": 580,  # a login / verification page (after redirects): pause the site, alert
    "crawler.walls.LoginRedirectWall": 605,  # a redirect to the login URL: the same wall, seen before it is followed
    "crawler.sessions.SessionMiddleware": 690,  # the site's recorded session into Scrapy's cookie jar (700)
    "crawler.incremental.IncrementalMiddleware": 560,  # after decompression (590) on the way back
    "crawler.browser_pool.BrowserPoolMiddleware": 950,
    "crawler.middlewares.FetchTimeMiddleware": 990,
    "crawler.walls.WallGate": 999,  # the last one before the slot's queue: nothing leaves for a paused site
}
SPIDER_MIDDLEWARES = {
    "crawler.frontier.FrontierMiddleware": 100,  # sees requests after the offsite / depth filters
    "crawler.limits.LimitsMiddleware": 800,  # max depth, pages per sweep (before the frontier records them)
}

# --- Scrapy 2.19 defaults we do not want on an unattended crawler ------------------------
EXTENSIONS = {
    "scrapy.extensions.remote_control.RemoteControl": None,
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.middlewares.AutoThrottle": 0,  # also speeds up on 304s (incremental sweeps)
    "crawler.progress.ProgressLog": 500,
    "crawler.warmup.Warmup": 10,  # jieba's dictionary loads while the sweep starts
    "crawler.quietlog.QuietNetworkErrors": 0,  # a site that is down: one log line per failure, no traceback
    "crawler.subpages.SubjectAssembly": 0,  # subjects with sub-pages (belongs_to): merged and matched at sweep end
    "crawler.walls.WallAlert": 0,  # one alert when a sweep stopped at a login or verification wall
    "crawler.fillrate.FillRateCheck": 600,  # a profile that broke (empty required fields, no pages) fails the sweep
    "crawler.heapfreeze.FreezeStartupHeap": 0,  # start-up objects (rule packs ...) out of the garbage collector's walks
}
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
SCHEDULER_DISK_QUEUE = "crawler.diskqueue.PickleLifoDiskQueue"  # Scrapy's, without a search of the spider per request
FEED_EXPORT_ENCODING = "utf-8"

# --- browser pages (render: browser in a profile; crawler.browser_pool) -------------------
DOWNLOAD_HANDLERS = {  # scrapy-playwright's handler, with pages reused (crawler.browser_handler)
    "http": "crawler.browser_handler.PooledPlaywrightHandler",
    "https": "crawler.browser_handler.PooledPlaywrightHandler",
}
NETSWORD_BROWSER_CONTEXTS = 2  # context slots, each recycled after NETSWORD_BROWSER_RECYCLE_PAGES pages
NETSWORD_BROWSER_MEMORY_AT = []  # record RSS after these many browser pages (bench)
NETSWORD_BROWSER_PAGE_TIMEOUT = 45.0  # seconds before a hung page is closed (and retried)
NETSWORD_BROWSER_PAGES_PER_CONTEXT = 4  # open pages per context (reused)
NETSWORD_BROWSER_RECYCLE_PAGES = 200
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 20_000
PLAYWRIGHT_LAUNCH_OPTIONS = launch_options()
PLAYWRIGHT_MAX_CONTEXTS = 2 * NETSWORD_BROWSER_CONTEXTS  # a retiring and a fresh context per slot
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 32  # scrapy-playwright's own limit; the pool keeps to the one above

# --- the netsword pipeline: normalize -> match -> evidence -> store ----------------------
# Outputs of one response processed at once. Scrapy 2.19 starts this many asyncio tasks for every
# response whatever it yields (its default 100: a hundred tasks per page, ~20% of a bare crawl's CPU
# on the bench's big site); a page here yields one item after its links.
CONCURRENT_ITEMS = 8
ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.history.HistoryPipeline": 150,  # item.history (earlier prices) for price-history rules
    "pipelines.images.EvidenceImagesPipeline": 160,  # pictures (Scrapy's FilesPipeline) into the evidence
    "pipelines.images.ImageTextPipeline": 170,  # their text (OCR, image_text) and perceptual hashes
    "pipelines.match.MatchPipeline": 200,
    "pipelines.evidence.EvidencePipeline": 300,
    "pipelines.store.pipeline.StorePipeline": 400,  # subjects, findings, snapshots, page states, the sweep record
}

# jieba tokens of title/name/description (about 1 MB/s): "auto" = when the store keeps them (Elasticsearch,
# OpenSearch: their `tokens` field); the SQLite store indexes bigrams of its own and never kept them
NORMALIZE_TOKENS = "auto"

HISTORY_BASELINE_MAX_DAYS = 60.0  # without HISTORY_BASELINE_SWEEP: the latest finished baseline run this recent
HISTORY_BASELINE_SWEEP = ""  # the sweep whose prices are the "before the festival" baseline (the scheduler sets it)

IMAGES_MAX_COUNT = 12  # pictures per page when the profile's `images:` does not say (max_count)
IMAGES_MAX_KB = 4096  # a bigger picture is not downloaded (the profile's images.max_kb)
IMAGES_MIN_SIDE = 120  # a picture with a shorter side is kept but not read (images.min_side)
IMAGES_OCR = True  # read the text in pictures (False: pictures are still fetched, kept and hashed)
IMAGES_OCR_WORKERS = 0  # OCR processes; 0 = one per core but one (at least one)
MEDIA_ALLOW_REDIRECTS = True  # pictures behind a redirect (CDNs) are fetched

MATCH_INCLUDE_TEST = False  # also run rules with `status: test`
MATCH_RULESET = None  # a RuleSet already compiled (run_sweep checks the packs before the sweep starts)
MATCH_RULES_DIR = ""  # "" = the configured rules dir (netsword.config: $NETSWORD_RULES_DIR, config file, rules/)

EVIDENCE_DIR = str(netsword_config.evidence_dir())
EVIDENCE_FINDING_SCREENSHOTS = True  # listings with findings: render the stored snapshot, screenshot it
EVIDENCE_RENDER_BACKLOG = 200  # flagged listings waiting for their screenshot before the pipeline waits too
EVIDENCE_RENDER_CDP = True  # snapshot renders over the browser's DevTools pipe (False: through Playwright)
EVIDENCE_LIVE_SCREENSHOTS = True  # a flagged listing is screenshot live from the site (pictures in; else the offline
#   re-render of its stored HTML, labelled so); both with a caption bar (URL, Beijing time, sweep, HTML SHA-256)
EVIDENCE_RENDER_CONCURRENCY = 2
EVIDENCE_RENDER_EXECUTABLE = ""  # snapshot renders; "" = chromium-headless-shell if installed, else Chromium
EVIDENCE_SCREENSHOTS = True  # every browser page
EVIDENCE_WARC = True
EVIDENCE_WARC_GZIP_LEVEL = 6  # per record; PNG screenshots are stored (compressed already)
EVIDENCE_WRITER = "process"  # evidence files written by a process of its own (off the GIL); "thread": in this one
NETSWORD_FILL_DROP_RATIO = 0.5  # a page type's pages or a field's fill rate below this share of the last sweep's
NETSWORD_FILL_MIN_PAGES = 5  # fill rates are judged from this many pages of a page type on
NETSWORD_FILL_MIN_RATE = 0.5  # a required field filled on fewer of a page type's pages: the profile broke
NETSWORD_GC_FREEZE = True  # start-up objects (rule packs ...) out of the garbage collector's walks (crawler.heapfreeze)
NETSWORD_AUTO_RENDER = True  # `type: auto` pages that need JavaScript are fetched again in the browser
NETSWORD_INCREMENTAL = True  # conditional requests; unchanged pages are not parsed again
NETSWORD_PROGRESS_INTERVAL = 2.0
NETSWORD_RESUME = False  # set by `netsword crawl --resume`
NETSWORD_WARMUP = True  # load jieba's dictionary in the background at start (crawler.warmup)
STORE_URL = netsword_config.store_url()
# writes per SQLite commit (an open batch holds the file's write lock)
STORE_SQLITE_BATCH_SIZE = 500
# commit after every hand-over to the store writer (10 ms of items; inline: every item) instead of every
# STORE_SQLITE_BATCH_SIZE writes: `netsword worker` sets it (workers sharing one SQLite file then hold its lock only
# while a hand-over is written, and a page's lease goes back once its writes are committed)
STORE_COMMIT_EACH_BATCH = False
# where the store stage's writes run: "process" (a process of its own: JSON, SQL and the store's bookkeeping off the
# reactor, on another core), "thread", "inline" (on the reactor), or "auto": process for SQLite, inline for engines
STORE_WRITER = "auto"

# --- the distributed mode (crawler/distributed/; only `netsword worker` turns it on) -----
NETSWORD_REDIS_BLOOM_CAPACITY = 10_000_000  # URLs per sweep the Bloom filter's error rate holds for (42 MB)
NETSWORD_REDIS_BLOOM_ERROR = 1e-7  # its false-positive rate: a new URL taken for seen (and skipped)
NETSWORD_REDIS_DUPEFILTER = "bloom"  # "bloom" (crawler.distributed.dupefilter) or "set" (scrapy-redis's)
NETSWORD_REDIS_KNOWN_LINKS = 500_000  # links a worker remembers having checked in the sweep's filter (~30 MB)
NETSWORD_REDIS_HEARTBEAT = 2.0  # seconds between a worker's heartbeats (lease renewals, stop checks)
NETSWORD_REDIS_LEASE_SECONDS = 120.0  # a request a worker took and did not finish goes back after this
NETSWORD_REDIS_POP_BATCH = 8  # requests a worker leases per round trip to Redis (handed out one by one)
NETSWORD_REDIS_ROBOTS_WAIT = 60.0  # seconds a worker waits for robots.txt another worker is fetching
NETSWORD_REDIS_SWEEP = ""  # the sweep a worker crawls (set by crawler.distributed.worker.worker_settings)
REDIS_URL = ""  # scrapy-redis's connection (set by the worker: --redis, $NETSWORD_REDIS_URL)
SCHEDULER_DUPEFILTER_KEY = ""  # scrapy-redis's duplicate filter key (each worker sets its sweep's: distributed.keys)
