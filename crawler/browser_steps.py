"""Browser steps of a site profile (``render: browser``) and their compilation to PageMethods.

A page type's ``steps`` run in order after the page has loaded, before its HTML is taken::

    steps:
      - wait_for: 'div.card'              # wait until a selector is in the DOM
      - scroll_to_end: {max_rounds: 30}   # infinite scroll: scroll down until the page stops growing
      - click: 'button.load-more'         # a "load more" button, clicked up to N times
        times: 5
      - wait: 500                         # a pause, in milliseconds
      - fill: {selector: 'input[name=q]', value: '高仿'}   # type into a form field
      - press: {selector: 'input[name=q]', key: Enter}    # a key on a field (Enter, Tab, ArrowDown ...)

In ``session.steps`` (the login flow of ``netsword login SITE``) a ``fill`` value may name
``{username}`` and ``{password}``: they come from a prompt or the environment when the login runs,
never from the profile, and are never put into a sweep's requests.

Each step becomes a scrapy-playwright :class:`PageMethod` (data, not code), so requests stay
serialisable for Scrapy's disk queues (``JOBDIR``). Scrolling and clicking run as one small
script each: a button that disappears after two clicks, or a page that stops growing, ends
the step early instead of failing the page; a ``wait_for`` that never matches fails the
page, which is then retried.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from scrapy_playwright.page import PageMethod

#: The actions a step may name (exactly one per step).
ACTIONS = ("wait_for", "scroll_to_end", "click", "wait", "fill", "press")

SCROLL_TO_END_JS = """async ({maxRounds, pauseMs}) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let rounds = 0, last = -1, still = 0;
  while (rounds < maxRounds) {
    const height = document.documentElement.scrollHeight;
    window.scrollTo(0, height);
    rounds += 1;
    await sleep(pauseMs);
    const now = document.documentElement.scrollHeight;
    if (now === last || now === height) { still += 1; if (still >= 2) break; } else { still = 0; }
    last = now;
  }
  window.scrollTo(0, 0);
  return rounds;
}"""

CLICK_TIMES_JS = """async ({selector, times, pauseMs, timeoutMs}) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const visible = (el) => el && !el.disabled && el.offsetParent !== null;
  const find = (s) => s.startsWith("xpath:")
    ? document.evaluate(s.slice(6), document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue
    : document.querySelector(s);
  let clicks = 0;
  for (let i = 0; i < times; i++) {
    const el = find(selector);
    if (!visible(el)) break;
    const before = document.body.innerHTML.length;
    el.scrollIntoView();
    el.click();
    clicks += 1;
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs && document.body.innerHTML.length === before) { await sleep(25); }
    await sleep(pauseMs);
  }
  return clicks;
}"""


class ScrollOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_rounds: int = Field(30, ge=1, le=1000)
    pause_ms: int = Field(250, ge=0, le=10_000)


class Fill(BaseModel):
    """``fill: {selector: 'input[name=user]', value: '{username}'}``: type ``value`` into a field."""

    model_config = ConfigDict(extra="forbid")

    selector: str
    value: str


class Press(BaseModel):
    """``press: {selector: 'input[name=q]', key: Enter}``: press a key with the field focused."""

    model_config = ConfigDict(extra="forbid")

    selector: str
    key: str = Field(min_length=1, max_length=40)


class Step(BaseModel):
    """One browser step: exactly one of ``wait_for``, ``scroll_to_end``, ``click``, ``wait``, ``fill``,
    ``press``."""

    model_config = ConfigDict(extra="forbid")

    wait_for: str | None = None
    scroll_to_end: bool | ScrollOptions | None = None
    click: str | None = None
    times: int = Field(1, ge=1, le=500, description="click: how many times at most")
    wait: int | None = Field(None, ge=1, le=60_000, description="pause in milliseconds")
    fill: Fill | None = None
    press: Press | None = None
    timeout: int = Field(15_000, ge=100, le=120_000, description="milliseconds to wait for a selector / a change")

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        named = [a for a in ACTIONS if getattr(self, a) not in (None, False)]
        if len(named) != 1:
            raise ValueError(f"a step names exactly one of {', '.join(ACTIONS)} (got {', '.join(named) or 'none'})")
        if self.times != 1 and self.click is None:
            raise ValueError("`times` goes with `click`")
        return self

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) not in (None, False))

    def selector(self) -> str | None:
        target = self.fill or self.press
        return self.wait_for or self.click or (target.selector if target else None)


def page_methods(steps: list[Step], also_wait_for: str = "") -> list[PageMethod]:
    """The PageMethods that perform ``steps`` in order. ``also_wait_for`` (CSS, e.g. the profile's
    walls) ends each ``wait_for`` too: a login or verification page does not wait out the timeout."""
    out: list[PageMethod] = []
    for step in steps:
        if also_wait_for and step.wait_for and not step.wait_for.startswith("xpath:"):
            step = step.model_copy(update={"wait_for": f"{step.wait_for}, {also_wait_for}"})
        out.append(_compile(step))
    return out


def _compile(step: Step) -> PageMethod:
    action = step.action
    if action == "wait_for":
        return PageMethod("wait_for_selector", _css(step.wait_for or ""), state="attached", timeout=step.timeout)
    if action == "scroll_to_end":
        opts = step.scroll_to_end if isinstance(step.scroll_to_end, ScrollOptions) else ScrollOptions()
        return PageMethod("evaluate", SCROLL_TO_END_JS, {"maxRounds": opts.max_rounds, "pauseMs": opts.pause_ms})
    if action == "click":
        args: dict[str, Any] = {"selector": step.click, "times": step.times, "pauseMs": 100,
                                "timeoutMs": step.timeout}
        return PageMethod("evaluate", CLICK_TIMES_JS, args)
    if action == "fill":
        assert step.fill is not None
        return PageMethod("fill", _css(step.fill.selector), step.fill.value, timeout=step.timeout)
    if action == "press":
        assert step.press is not None
        return PageMethod("press", _css(step.press.selector), step.press.key, timeout=step.timeout)
    return PageMethod("wait_for_timeout", step.wait)


def _css(selector: str) -> str:
    """Playwright selector syntax for a profile selector (``xpath:...`` -> ``xpath=...``)."""
    return "xpath=" + selector[6:] if selector.startswith("xpath:") else selector
