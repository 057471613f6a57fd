"""Site profiles: the demo profile loads; mistakes are reported with file, line and a hint."""

from __future__ import annotations

import textwrap

import pytest

from crawler.profiles import find_profile, load_profile
from netsword.yamlsource import SourceError

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
    type: listing
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
        ("    type: listing", "    type: product", 10, "type"),
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


BROWSER = GOOD + """\
  list:
    type: list
    match: ['^/cat/']
    render: browser
    steps:
      - wait_for: 'div.card'
      - scroll_to_end: {max_rounds: 5}
      - click: 'button.more'
        times: 3
      - wait: 200
    follow: ['a.item']
    pagination: {next: 'a.next', max_pages: 7}
"""


def test_browser_steps_compile_to_page_methods(tmp_path):
    from crawler.browser_steps import page_methods

    profile = load_profile(write(tmp_path, BROWSER))
    page = profile.pages["list"]
    assert page.item == "none" and page.next_page.max_pages == 7
    methods = page_methods(page.all_steps)
    assert [m.method for m in methods] == ["wait_for_selector", "evaluate", "evaluate", "wait_for_timeout"]
    assert methods[0].args == ("div.card",)
    assert methods[1].args[1]["maxRounds"] == 5
    assert methods[2].args[1] == {"selector": "button.more", "times": 3, "pauseMs": 100, "timeoutMs": 15000}
    assert methods[3].args == (200,)


@pytest.mark.parametrize(
    ("bad", "good", "line", "words"),
    [
        ("    type: listing", "    item: listing", 10, "write `type: listing`"),
        ("      - scroll_to_end: {max_rounds: 5}", "      - scrol_to_end: {max_rounds: 5}", 19,
         "did you mean 'scroll_to_end'"),
        ("      - wait: 200", "      - wait: 200\n        click: 'a'", 22, "exactly one of"),
        ("    render: browser\n", "", 16, "add `render: browser`"),
        ("      title: 'h1.title'", "      price_text: 'span.price'", 10, "needs a `title` field"),
        ("    match: ['^/cat/']\n", "", 13, "add `match:"),
        ("      - click: 'button.more'", "      - click: 'button[[more'", 20, "bad selector"),
        ("    pagination: {next: 'a.next', max_pages: 7}", "    pagination: {nxt: 'a.next'}", 24,
         "did you mean 'next'"),
    ],
)
def test_browser_profile_mistakes_name_file_line_and_fix(tmp_path, bad, good, line, words):
    path = write(tmp_path, BROWSER.replace(bad, good, 1))
    with pytest.raises(SourceError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert words in message, message


def test_profile_check_shows_what_each_selector_extracts(demo_server, tmp_path):
    from cli_helpers import run_cli

    proc = run_cli("profile", "check", "demo", f"{demo_server.url}/item/L0001.html", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "page type listing" in out and "h1.title" in out and "¥" in out and "/shop/" in out
    missing = run_cli("profile", "check", "demo", f"{demo_server.url}/cart", home=tmp_path)
    assert missing.returncode == 1 and "no page type" in missing.stderr
