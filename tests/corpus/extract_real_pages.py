"""Rebuild ``real_pages.txt``: ordinary listing texts from real product pages nobody on this project wrote.

Source: ``../shared/data/real-pages`` (product-extraction-benchmark, MIT (c) 2021 Zyte; extruct sample,
BSD-3 (c) Scrapinghub; books.toscrape.com page, MIT; see SOURCES.md there). From each page: the title,
og:title, meta description, h1 and up to 8 paragraph / list texts of 20-300 characters, whitespace
collapsed, duplicates dropped. Run from the repository root::

    .venv/bin/python tests/corpus/extract_real_pages.py ../shared/data/real-pages > tests/corpus/real_pages.txt
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from parsel import Selector


def texts(html: str) -> list[str]:
    sel = Selector(text=html)
    out = [sel.css("title::text").get() or "", sel.css('meta[property="og:title"]::attr(content)').get() or "",
           sel.css('meta[name="description"]::attr(content)').get() or "",
           " ".join(t.strip() for t in sel.css("h1 ::text").getall() if t.strip())]
    body = [" ".join(t.split()) for t in sel.css("p::text, li::text").getall()]
    out += [t for t in body if 20 <= len(t) <= 300][:8]
    return [" ".join(t.split()) for t in out if t and t.strip()]


def main(root: Path) -> None:
    seen: set[str] = set()
    print("# 真实商品页文字（良性语料）/ ordinary texts from real product pages; rebuilt by extract_real_pages.py")
    print("# Sources and licences: ../shared/data/real-pages/SOURCES.md (MIT / BSD-3). One text per line.")
    pages = sorted(root.rglob("*.gz")) + sorted(root.rglob("*.html"))
    for path in pages:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            html = fh.read()
        for t in texts(html):
            if t not in seen and not t.startswith("#"):
                seen.add(t)
                print(t)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: extract_real_pages.py DIR  (a copy of the real-pages data; see the docstring)")
    main(Path(sys.argv[1]))
