"""How a stored snapshot is decoded: as the crawl's Scrapy response decoded it (for the console and renders)."""

from __future__ import annotations


def decode_html(html: bytes, content_type: str = "") -> tuple[str, str]:
    """(encoding, text) of a page body, decoded the way the crawler's Scrapy response decoded it: a BOM,
    the charset of ``content_type``, a ``<meta>`` charset, else detection (ASCII, UTF-8, then
    charset_normalizer's best guess, as ``TextResponse._auto_detect_fun``). Encoding names are
    Python's (w3lib's: ``gbk`` and ``gb2312`` are read as their superset ``gb18030``)."""
    from w3lib.encoding import html_to_unicode

    return html_to_unicode(content_type or None, html, auto_detect_fun=_detect_encoding, default_encoding="ascii")


def _detect_encoding(body: bytes) -> str | None:
    """Scrapy's detection for a body that declares no charset."""
    from w3lib.encoding import resolve_encoding

    for encoding in ("ascii", "utf-8"):
        try:
            body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return resolve_encoding(encoding)
    from charset_normalizer import from_bytes

    match = from_bytes(body).best()
    return resolve_encoding(match.encoding) if match else None
