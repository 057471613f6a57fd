"""crawler.settings for scheduler tests (``SCRAPY_SETTINGS_MODULE=quick_crawl_settings``): the same
pipeline, without re-rendering listings with findings for screenshots (the evidence tests cover
those) -- each sweep of the tests takes seconds instead of half a minute on a busy machine."""

from crawler.settings import *  # noqa: F403

EVIDENCE_FINDING_SCREENSHOTS = False
