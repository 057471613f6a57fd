"""The warm-up extension loads jieba's dictionary in the background while a sweep starts, and only
when the pipeline will tokenise (NORMALIZE_TOKENS: auto = when the store keeps the tokens)."""

from __future__ import annotations

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.warmup import NORMALIZE, Warmup


@pytest.mark.parametrize("settings", [
    {"STORE_URL": "opensearch://127.0.0.1:9200"},  # auto: the search engine keeps the tokens
    {"STORE_URL": "sqlite:///var/netsword.db", "NORMALIZE_TOKENS": True},
])
def test_warmup_loads_jieba_in_the_background_when_the_pipeline_tokenises(settings):
    ext = Warmup.from_crawler(get_crawler(settings_dict={"ITEM_PIPELINES": {NORMALIZE: 100}, **settings}))
    assert ext.thread is not None and ext.thread.daemon
    ext.thread.join()
    from pipelines.normalize import get_jieba

    assert get_jieba() is not None


@pytest.mark.parametrize("settings", [
    {"ITEM_PIPELINES": {}},  # the bare spider of the benchmark
    {"ITEM_PIPELINES": {NORMALIZE: 100}, "NORMALIZE_TOKENS": False},
    {"ITEM_PIPELINES": {NORMALIZE: 100}, "STORE_URL": "sqlite:///var/netsword.db"},  # auto: SQLite keeps none
    {"ITEM_PIPELINES": {NORMALIZE: 100}, "NETSWORD_WARMUP": False},
])
def test_no_warmup_when_nothing_will_use_it(settings):
    with pytest.raises(NotConfigured):
        Warmup.from_crawler(get_crawler(settings_dict=settings))


def test_the_pipeline_tokenises_only_for_a_store_that_keeps_the_tokens():
    from crawler.items import ListingItem
    from pipelines.normalize import NormalizePipeline

    def tokens(settings):
        pipe = NormalizePipeline.from_crawler(get_crawler(settings_dict=settings))
        item = ListingItem(url="http://x.test/1", site="x", listing_id="1", title="耐克高仿运动鞋")
        return pipe.process_item(item).tokens

    assert "运动鞋" in tokens({"STORE_URL": "elasticsearch://es:9200"})
    assert tokens({"STORE_URL": "sqlite:///var/netsword.db"}) == []
    assert "运动鞋" in tokens({"STORE_URL": "sqlite:///var/netsword.db", "NORMALIZE_TOKENS": "true"})
    with pytest.raises(ValueError, match="NORMALIZE_TOKENS"):
        tokens({"NORMALIZE_TOKENS": "sometimes"})
