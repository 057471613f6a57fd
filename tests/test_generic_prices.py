"""The struck-through ("original", 划线价) price of pages read without a profile selector for it
(``crawler/generic.py``): schema.org's StrikethroughPrice, struck-through price elements, labelled prices;
and the price rules that use it."""

from __future__ import annotations

import json

import pytest

from crawler.generic import extract_product, schema_org_fields
from crawler.items import ListingItem
from pipelines.match import RuleSet
from pipelines.normalize import NormalizePipeline, parse_price


def page(body: str, head: str = "") -> str:
    return f"<html><head><title>商品</title>{head}</head><body><h1>加厚羽绒服 男</h1>{body}</body></html>"


def ld(offers: dict) -> str:
    product = {"@context": "https://schema.org", "@type": "Product", "name": "加厚羽绒服 男", "offers": offers}
    return f'<script type="application/ld+json">{json.dumps(product, ensure_ascii=False)}</script>'


STRUCK_FIRST = ld({"@type": "Offer", "priceCurrency": "CNY", "priceSpecification": [
    {"@type": "UnitPriceSpecification", "priceType": "https://schema.org/StrikethroughPrice", "price": 1999},
    {"@type": "UnitPriceSpecification", "price": 99}]})


def test_schema_org_strikethrough_price_is_the_original_never_the_price():
    product = extract_product(page("", STRUCK_FIRST))
    assert parse_price(product.as_fields()["price_text"])[0] == 99
    assert parse_price(product.as_fields()["original_price_text"])[0] == 1999
    assert product.original_source == "structured"
    # profiles without a selector for it get it from the structured data alone
    assert parse_price(schema_org_fields(page("", STRUCK_FIRST))["original_price_text"])[0] == 1999


@pytest.mark.parametrize("body, want", [
    ('<span class="price">¥99.00</span><del>¥1,999.00</del>', 1999),
    ('<span class="price">¥99.00</span><span class="old-price">¥299.00</span>', 299),
    ('<span class="price">¥99.00</span><p>原价：¥999 限时抢购</p>', 999),
])
def test_struck_through_and_labelled_prices(body, want):
    product = extract_product(page(body))
    assert parse_price(product.as_fields()["original_price_text"])[0] == want


@pytest.mark.parametrize("body", [
    '<span class="price">¥99.00</span><s>¥59.00</s>',  # lower than the price: not an original price
    '<span class="price">¥99.00</span><s>旧款已停产</s>',  # struck text, no price
    '<span class="price">¥9.90</span><del>¥99,000</del>',  # over 100 times the price: something else
    '<span class="price">173,34 Lei</span><s>136<sup>85</sup> Lei</s>',  # 136.85 (cents in sup): lower
    # a grid of other products, each with its own struck price: which one is this product's is unknown
    '<span class="price">¥99.00</span><ul><li><del>¥199</del></li><li><del>¥259</del></li></ul>',
])
def test_struck_text_that_is_no_original_price(body):
    assert extract_product(page(body)).original_price_text == ""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load()


def _findings(rules: RuleSet, html: str) -> set[str]:
    fields = extract_product(html, "https://shop.example/item/1").as_fields()
    item = NormalizePipeline(tokens=False).process_item(ListingItem(site="x", listing_id="1", **fields))
    return {f.rule_id for f in rules.match(item)}


def test_a_page_without_a_profile_gets_the_inflated_reference_lead(rules):
    assert "price.inflated-reference" in _findings(rules, page('<span class="price">¥99.00</span><del>¥1,999</del>'))
    # the label is kept: a manufacturer's suggested retail price is a lawful reference
    lawful = page('<span class="price">¥399.00</span><p>建议零售价 ¥2,999</p>')
    assert extract_product(lawful).original_price_text.startswith("建议零售价")
    assert "price.inflated-reference" not in _findings(rules, lawful)


# ------------------------------------------------------------------ an original price in the listing's own words


@pytest.mark.parametrize("title, fires", [
    ("加厚羽绒服 原价999 现价99 限时", True),
    ("真皮女包 专柜价：¥2,599 今日特惠", True),
    ("加厚羽绒服 原价129 限时", False),  # 129 against 99: no inflated reference
    ("加厚羽绒服 建议零售价999", False),  # a manufacturer's suggested retail price is lawful
    ("加厚羽绒服 原价或成交价见详情", False),  # no amount
])
def test_an_original_price_in_the_words_of_the_listing(rules, title, fires):
    items = [ListingItem(site="x", listing_id="1", title=title, price_text="¥99.00")]
    one = {f.rule_id for f in rules.match(items[0])}
    assert ("price.inflated-reference" in one) is fires
    assert {f.rule_id for f in rules.match_many(items)[0]} == one  # the batched path decides the same
