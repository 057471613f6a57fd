"""Templates and the filters that show scraped text safely.

Everything is autoescaped. On top of that, scraped text goes through ``scraped`` (bidi
controls made visible, so "\u202egpj.exe" cannot pass for "exe.jpg"; long text cut),
snippets through ``mark`` (the 【】 hit markers become <mark>, everything else escaped),
and links through ``safe_url`` (only http and https; ``javascript:`` stays text).
The stylesheet is inlined and allowed by its hash in the Content-Security-Policy, so no
route (not even a static file) is reachable without logging in, except the login page.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

from leads import lead_status_label, severity_label, status_label
from leads.readable import FIELD_LABELS, explain_finding, snippet_adds, split_when_snippet
from netsword.clock import beijing_time
from netsword.formats import format_price

HERE = Path(__file__).parent
CSS = (HERE / "static" / "style.css").read_text(encoding="utf-8")
CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
# bidi embeddings/overrides/isolates and marks, zero-width characters, BOM
_CONTROLS = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]")
_HIT = re.compile("【(.*?)】", re.S)


def visible_controls(text: str) -> str:
    """Invisible direction and formatting characters shown as ⟦U+202E⟧."""
    return _CONTROLS.sub(lambda m: f"⟦U+{ord(m.group()):04X}⟧", text)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"…（共 {len(text)} 字）"


def scraped(value: Any, limit: int = 300) -> Markup:
    """Scraped text for display: controls visible, cut to ``limit`` characters, escaped, isolated (<bdi>)."""
    text = "" if value is None else str(value)
    return Markup("<bdi>") + escape(visible_controls(cut(text, limit))) + Markup("</bdi>")


def mark(value: Any, limit: int = 400) -> Markup:
    """An evidence snippet with its 【hit】 markers turned into <mark>; everything else escaped."""
    text = visible_controls(cut("" if value is None else str(value), limit))
    parts: list[Markup] = []
    pos = 0
    for m in _HIT.finditer(text):
        parts.append(escape(text[pos:m.start()]))
        parts.append(Markup("<mark>") + escape(m.group(1)) + Markup("</mark>"))
        pos = m.end()
    parts.append(escape(text[pos:]))
    return Markup("<bdi>") + Markup("").join(parts) + Markup("</bdi>")


def safe_url(value: Any) -> str:
    """The URL when it is http(s) and has a host; "" otherwise (the template then shows it as text)."""
    url = "" if value is None else str(value).strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or _CONTROLS.search(url):
        return ""
    return url


def query_string(params: dict[str, Any], **changes: Any) -> str:
    """``params`` with ``changes`` applied, as a query string (lists repeat the key; empty values left out)."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        for v in value if isinstance(value, list | tuple) else [value]:
            if v not in (None, ""):
                pairs.append((key, str(v)))
    return urlencode(pairs)


def handover_text(event: Any) -> str:
    """A handover event as read in the audit trail: unit, due day, note."""
    from leads.triage import handover_of

    h = handover_of(event)
    return f"{h.unit}，期限 {h.due}" + (f"：{h.note}" if h.note else "")


def beijing_unix(seconds: Any) -> str:
    """UNIX seconds (Redis keeps times so) as Beijing time; "" for none."""
    from datetime import UTC, datetime

    try:
        return beijing_time(datetime.fromtimestamp(float(seconds), UTC).isoformat()) if seconds else ""
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def make_templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(scraped=scraped, mark=mark, safe_url=safe_url, price=format_price, beijing=beijing_time,
                       beijing_unix=beijing_unix,
                       severity=severity_label, status=status_label, lead_status=lead_status_label,
                       explain=explain_finding, rule_text=lambda s: split_when_snippet(s or "") is not None,
                       field_label=lambda f: FIELD_LABELS.get(f or "", f or ""), snippet_adds=snippet_adds,
                       handover_text=handover_text, urldecode=lambda s: unquote_plus(s or ""))
    from leads.handover import handover_class, has_notice_generator
    from leads.triage import DISMISS_REASONS

    env.globals.update(css=Markup(CSS), query_string=query_string, severity_label=severity_label,
                       handover_class=handover_class, reasons=DISMISS_REASONS,
                       has_notice_generator=has_notice_generator)
    from leads.web.pictures import link_picture, picture_hits

    env.globals.update(picture_hits=picture_hits, link_picture=link_picture)  # pictures (leads/web/pictures.py)
    return Jinja2Templates(env=env)
