"""The warm-up extension loads jieba's dictionary in the background while a sweep starts, and only
when the pipeline will tokenise."""

from __future__ import annotations

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.warmup import NORMALIZE, Warmup


def test_warmup_loads_jieba_in_the_background_when_the_pipeline_tokenises():
    ext = Warmup.from_crawler(get_crawler(settings_dict={"ITEM_PIPELINES": {NORMALIZE: 100}}))
    assert ext.thread is not None and ext.thread.daemon
    ext.thread.join()
    from pipelines.normalize import get_jieba

    assert get_jieba() is not None


@pytest.mark.parametrize("settings", [
    {"ITEM_PIPELINES": {}},  # the bare spider of the benchmark
    {"ITEM_PIPELINES": {NORMALIZE: 100}, "NORMALIZE_TOKENS": False},
    {"ITEM_PIPELINES": {NORMALIZE: 100}, "NETSWORD_WARMUP": False},
])
def test_no_warmup_when_nothing_will_use_it(settings):
    with pytest.raises(NotConfigured):
        Warmup.from_crawler(get_crawler(settings_dict=settings))
