"""JSON page data: JMESPath on a JSON endpoint's body or on the JSON a browser page's own calls received.

A page type reads JSON in three ways (see the profile keys ``json:``, ``capture:`` and ``json:`` fields,
:mod:`crawler.profiles`):

* ``json: {items, follow, next}`` -- the records of a JSON list (``items``, a JMESPath), one link per
  record (``follow``: a JMESPath giving a URL, or a URL template ``'{base_url}/item/{id}'`` whose
  ``{...}`` are JMESPaths on the record), the next page by page number or cursor (``next``);
* fields written ``json:<JMESPath>``: read from the page's JSON (its body; for a browser page, the
  first response ``capture:`` kept), or, on a ``listing`` / ``shop`` page type with ``json.items``,
  from each record (one item per record);
* values become text the way a reader sees them: strings as they are, numbers without a trailing
  ``.0``, lists joined by spaces, objects as JSON.

JMESPath (jmespath.org) is compiled once per expression; profiles check every expression on load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jmespath
from jmespath.exceptions import JMESPathError

JSON_PREFIX = "json:"
#: ``{...}`` placeholders of a URL template.
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_TEMPLATE_START = ("/", "http://", "https://", "{base_url}")


@lru_cache(maxsize=4096)
def compiled(expression: str) -> Any:
    return jmespath.compile(expression)


def expression_problem(expression: str) -> str | None:
    """Why a JMESPath expression cannot be compiled (first line of jmespath's message), or None."""
    if not expression.strip():
        return "empty JMESPath expression"
    try:
        compiled(expression)
    except JMESPathError as exc:
        lines = str(exc).strip().splitlines()
        what = lines[0].split(": ", 1)[-1].rstrip(":") if lines else type(exc).__name__
        at = getattr(exc, "lex_position", None)
        where = f" at character {at + 1}" if isinstance(at, int) else ""
        return f"bad JMESPath {expression!r}: {what}{where} (JMESPath 表达式有误)"
    return None


def is_template(follow: str) -> bool:
    """A ``follow`` written as a URL template (``/item/{id}``, ``{base_url}/...``), not a JMESPath."""
    return follow.startswith(_TEMPLATE_START)


def follow_problem(follow: str) -> str | None:
    if not is_template(follow):
        return expression_problem(follow)
    for expr in _PLACEHOLDER.findall(follow):
        if expr != "base_url":
            why = expression_problem(expr)
            if why:
                return f"in the URL template {follow!r}: {why}"
    return None


def search(expression: str, data: Any) -> Any:
    try:
        return compiled(expression).search(data)
    except JMESPathError:  # a run-time type error (e.g. length() of a number): no value
        return None


def as_text(value: Any) -> str:
    """A JSON value as the text a field keeps."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return " ".join(t for t in (as_text(v) for v in value) if t)
    return json.dumps(value, ensure_ascii=False)


def load(body: bytes | str) -> Any:
    """The JSON of a body (UTF-8, a BOM and the ``)]}'`` guard some sites put first allowed), or None."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.lstrip("\ufeff").strip()
    if text.startswith(")]}'"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    if not text or text[0] not in "[{":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def field_value(selector: str, data: Any) -> str:
    """A ``json:`` field's text from ``data``."""
    return as_text(search(selector[len(JSON_PREFIX):], data)) if data is not None else ""


def records(items: str, data: Any) -> list[Any]:
    """The records ``items`` picks (a single object counts as one record)."""
    value = search(items, data) if data is not None else None
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def record_links(follow: str, recs: list[Any], base_url: str) -> Iterator[str]:
    """One link per record (records whose link is missing give none)."""
    for rec in recs:
        if is_template(follow):
            url = fill_template(follow, rec, base_url)
        else:
            value = search(follow, rec)
            url = as_text(value) if isinstance(value, str | int | float) else ""
        if url:
            yield url


def fill_template(template: str, record: Any, base_url: str) -> str:
    """``template`` with ``{base_url}`` and each ``{jmespath}`` of the record (URL-quoted); "" when one is empty."""
    missing = False

    def one(m: re.Match[str]) -> str:
        nonlocal missing
        expr = m.group(1)
        if expr == "base_url":
            return base_url.rstrip("/")
        text = as_text(search(expr, record))
        if not text:
            missing = True
        return quote(text, safe="")

    url = _PLACEHOLDER.sub(one, template)
    return "" if missing else url


def next_page_url(url: str, nxt: Any, data: Any, recs: list[Any] | None) -> str:
    """The URL of the page after ``url`` (``nxt``: :class:`crawler.profiles.JsonNext`), or "" at the end."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    current = next((v for k, v in query if k == nxt.param), None)
    if nxt.cursor is not None:
        value = as_text(search(nxt.cursor, data))
        if not value or value == current:
            return ""
    else:
        if nxt.stop_when is not None and search(nxt.stop_when, data):
            return ""
        if recs is not None and not recs:
            return ""
        try:
            number = int(current) if current is not None else nxt.start
        except ValueError:
            return ""
        value = str(number + nxt.step)
    query = [(k, v) for k, v in query if k != nxt.param] + [(nxt.param, value)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


# --------------------------------------------------------------------------- the spider's side


def request_meta(page: Any) -> dict[str, Any]:
    """Request meta of a page type reading JSON: what to capture; pages yielding one item per record
    (or reading captured calls) are always parsed in full (their subjects are not one per URL, and the
    captured calls can change while the rendered page does not)."""
    from crawler.capture import CAPTURE, capture_meta

    meta: dict[str, Any] = {"netsword_full": True}
    if page.capture is not None:
        meta[CAPTURE] = capture_meta(page.capture)
    return meta


def page_data(response: Any, page: Any) -> Any:
    """The page's JSON: the first captured call that is JSON (``capture:``), else its body."""
    from crawler.capture import CAPTURED

    if page.capture is not None:
        for cap in response.meta.get(CAPTURED) or ():
            data = load(cap["body"])
            if data is not None:
                return data
        return None
    return load(response.body)


def page_records(response: Any, page: Any) -> list[Any]:
    """``json.items`` of the page: from its body, or from every captured call in turn."""
    from crawler.capture import CAPTURED

    items = page.json_.items
    if page.capture is not None:
        return [r for cap in response.meta.get(CAPTURED) or () for r in records(items, load(cap["body"]))]
    return records(items, load(response.body))


def json_links(spider: Any, response: Any, page: Any, page_no: int) -> Iterator[Any]:
    """Requests for the records' links (``json.follow``) and the next page (``json.next``)."""
    spec = page.json_
    recs = page_records(response, page) if spec.items else None
    if spec.follow:
        rows = recs if recs is not None else [page_data(response, page)]
        for href in record_links(spec.follow, rows, spider.base_url or spider.profile.base_url):
            request = spider.request_for(response.urljoin(href))
            if request is not None:
                yield request
    nxt = spec.next
    if nxt is not None and page_no < nxt.max_pages:
        url = next_page_url(response.url, nxt, page_data(response, page), recs)
        if url:
            request = spider.request_for(url, page_no=page_no + 1)
            if request is not None:
                yield request
            else:
                spider.logger.warning("next page %s of %s matches no page type of the profile", url, response.url)


def record_items(spider: Any, response: Any, page_name: str, page: Any) -> Iterator[Any]:
    """One listing (or shop) per record of a JSON page; the page itself is their evidence (the captured
    calls go with the first). A record without a title (listings) or an id is skipped, counted."""
    from crawler.items import ListingItem, ShopItem
    from crawler.spiders.listing import extract_fields, id_from_url

    first = spider.extract(response, page_name, page.model_copy(update={"type": "page"}))
    recs = page_records(response, page)
    base = spider.base_url or spider.profile.base_url
    cls = ListingItem if page.item == "listing" else ShopItem
    id_field = f"{page.item}_id"
    made = 0
    for rec in recs:
        values = spider._bounded(response, extract_fields(response, page, rec))
        if not values.get(id_field) and page.json_.follow:
            link = next(record_links(page.json_.follow, [rec], base), "")
            values[id_field] = id_from_url(response.urljoin(link)) if link else ""
        if not values.get(id_field) or (page.item == "listing" and not str(values.get("title", "")).strip()):
            spider.crawler.stats.inc_value("netsword/json/records_skipped")
            continue
        common = {k: getattr(first, k) for k in ("url", "requested_url", "site", "sweep_id", "status", "fetched_at",
                                                 "rendered", "etag", "last_modified", "html_sha256", "html_path",
                                                 "screenshot_sha256", "screenshot_path")}
        common["html"] = response.body
        common["captures"] = first.captures if made == 0 else []
        made += 1
        yield cls(**common, **values)
    spider.crawler.stats.inc_value("netsword/json/records", made)
    if not made:  # no record became an item: the page stays as evidence
        if recs:
            spider.logger.warning("no %s from the %d records of %s (no id or title in them)", page.item, len(recs),
                                  response.url)
        yield first
