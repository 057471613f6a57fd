"""A ``wait_for`` that never appears, said with the profile's file:line and the selector.

Playwright's own message (``Page.wait_for_selector: Timeout 15000ms exceeded. Call log: ...``) names
neither the profile nor the step. Each browser request carries, in ``request.meta["netsword_steps"]``
(plain data, so requests stay serialisable for Scrapy's disk queues), the place of each of its
``wait_for`` steps; :func:`describe_failure` turns a timeout into::

    等待元素超时: crawler/sites/x.yml:23 wait_for 'div.card' 在 15 秒内未出现: http://.../category/kids/
"""

from __future__ import annotations

from typing import Any

from crawler.profiles import Profile

META = "netsword_steps"


def step_places(profile: Profile, page_name: str) -> list[dict[str, Any]]:
    """The ``wait_for`` steps of a page type (in the order they run) with their ``file:line``."""
    page = profile.pages[page_name]
    out: list[dict[str, Any]] = []
    places: list[tuple[Any, ...]] = ([("pages", page_name, "wait_for")] if page.wait_for else [])
    places += [("pages", page_name, "steps", i) for i in range(len(page.steps))]
    for step, place in zip(page.all_steps, places, strict=True):
        if step.wait_for:
            out.append({"where": profile.where(*place) or profile.where("pages", page_name) or f"pages.{page_name}",
                        "selector": step.wait_for, "timeout_ms": step.timeout})
    return out


def describe_failure(failure: Any, request: Any) -> str:
    """The Chinese message for a page whose ``wait_for`` step timed out, or "" for any other failure."""
    steps = request.meta.get(META) or []
    if not steps or not _is_timeout(failure):
        return ""
    text = str(getattr(failure, "value", failure))
    if "wait_for_selector" not in text and "waiting for" not in text:
        return ""
    step = next((s for s in steps if _playwright_selector(s["selector"]) in text), steps[0])
    return wait_for_message(step, request.url)


def wait_for_message(step: dict[str, Any], url: str) -> str:
    seconds = step["timeout_ms"] / 1000
    return (f"等待元素超时: {step['where']} wait_for {step['selector']!r} 在 {seconds:g} 秒内未出现: {url}"
            " (the selector never appeared: fix it in the profile, or raise the step's `timeout:`)")


def _is_timeout(failure: Any) -> bool:
    try:
        from playwright.async_api import TimeoutError as PlaywrightTimeout
    except ImportError:  # pragma: no cover - scrapy-playwright is a dependency
        return False
    value = getattr(failure, "value", failure)
    return isinstance(value, PlaywrightTimeout)


def _playwright_selector(selector: str) -> str:
    return "xpath=" + selector[6:] if selector.startswith("xpath:") else selector
