"""Site profiles: the demo profile loads; mistakes are reported with file, line and a hint."""

from __future__ import annotations

import textwrap

import pytest

from crawler.profiles import find_profile, load_profile
from crawler.yaml_source import SourceError

GOOD = """\
site: shop1
name: 测试站
start_urls: ["{base_url}/"]
pages:
  home:
    match: ['^/$']
    follow: ['a.cat']
  listing:
    match: ['^/item/']
    item: listing
    fields:
      title: 'h1.title'
"""


def write(tmp_path, text: str):
    path = tmp_path / "site.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_demo_profile_classifies_demo_urls():
    profile = find_profile("demo")
    assert profile.page_type("http://127.0.0.1:1/")[0] == "home"
    assert profile.page_type("http://127.0.0.1:1/category/kids/?page=2")[1].render == "browser"
    assert profile.page_type("http://127.0.0.1:1/category/food/?page=2")[1].render == "http"
    assert profile.page_type("http://127.0.0.1:1/item/L0001.html")[1].item == "listing"
    assert profile.page_type("http://127.0.0.1:1/shop/S001/")[1].item == "shop"
    assert profile.page_type("http://127.0.0.1:1/cart") is None


def test_good_profile_loads(tmp_path):
    assert load_profile(write(tmp_path, GOOD)).site == "shop1"


@pytest.mark.parametrize(
    ("bad", "good", "line", "words"),
    [
        ("      title: 'h1.title'", "      titel: 'h1.title'", 12, "unknown listing field 'titel'"),
        ("    item: listing", "    item: product", 10, "item"),
        ("      title: 'h1.title'", "      title: 'h1[[title'", 12, "bad selector"),
        ("    match: ['^/item/']", "    match: ['^/item/(']", 9, "bad regex"),
        ("name: 测试站", "name: 测试站\nrender: browser", 3, "Extra inputs"),
        ("    follow: ['a.cat']", "    follow: ['a.cat'", 7, "YAML syntax"),
    ],
)
def test_mistakes_name_file_and_line(tmp_path, bad, good, line, words):
    path = write(tmp_path, GOOD.replace(bad, good))
    with pytest.raises(SourceError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:") or (words == "YAML syntax" and str(path) in message), message
    assert words in message


def test_unknown_site_lists_known_ones():
    with pytest.raises(SourceError, match=r"known sites: .*demo"):
        find_profile("no-such-site")
