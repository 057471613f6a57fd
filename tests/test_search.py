"""SQLite's Chinese tokens and the terminal table of a search.

Search behaviour itself (two-character words, filters, facets, ordering, pagination) is part
of the Store contract: tests/store_contract/test_contract_search.py, run against every engine.
``fill_corpus`` and ``COUNTERFEIT`` are re-exported here for older imports.
"""

from __future__ import annotations

import pytest
from store_contract.store_builders import AD, COUNTERFEIT, PRICE, fill_corpus

from leads.search import format_table, search
from pipelines.store import open_store
from pipelines.store.sqlite.search import index_tokens, match_expression

__all__ = ["AD", "COUNTERFEIT", "PRICE", "fill_corpus"]


@pytest.fixture
def corpus(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/search.db")
    yield fill_corpus(s)
    s.close()


def test_tokens_are_bigrams_for_cjk_and_whole_words_otherwise():
    assert index_tokens("耐克高仿 NIKE Air90") == "耐克 克高 高仿 仿 nike air 90"
    assert index_tokens("鞋") == "鞋"
    assert match_expression("高仿") == '"高仿"'
    assert match_expression("仿") == '"仿" *'
    assert match_expression("高仿nike") == '"高仿 仿 nike"'
    assert match_expression("!!") is None


def test_format_table(corpus):
    out = format_table(search(corpus, "高仿"), width=160)
    for text in ("严重程度", "类别", "标题/店铺", "价格", "命中规则", "证据摘要", "严重", COUNTERFEIT, "¥1,299.00",
                 "【高仿】", "共 4 条结果"):
        assert text in out, text
    assert COUNTERFEIT in next(line for line in out.splitlines() if "¥1,299.00" in line)  # not cut
    assert "严重程度：严重 1 · 高 2 · 中 2" in out
    assert "共 0 条结果" in format_table(search(corpus, "不存在的词"))
    narrow = format_table(search(corpus), width=100)
    assert max(len(line) for line in narrow.splitlines()) <= 100 and COUNTERFEIT in narrow
