"""Helpers for the leads and console tests: item builders, a copy of the demo sweep, a real console server."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from crawler.items import Finding, ListingItem, ShopItem

T1 = "2026-06-01T02:00:00+00:00"
T2 = "2026-06-10T02:00:00+00:00"
T3 = "2026-06-20T02:00:00+00:00"
FAKE, AD, PRICE, BANNED = "网络销售假冒伪劣商品", "虚假违法互联网广告", "不正当价格行为", "网络销售禁售限售物品"


def listing(lid: str, title: str, *, site: str = "demo", shop_id: str = "s1", shop_name: str = "测试小店",
            at: str = T1, sweep: str = "sw1", price: float | None = 99.0, sha: str = "", **kw: Any) -> ListingItem:
    return ListingItem(url=kw.pop("url", f"http://{site}.test/item/{lid}.html"), site=site, sweep_id=sweep,
                       status=200, fetched_at=at, html_sha256=sha or f"sha-{lid}", listing_id=lid, shop_id=shop_id,
                       shop_name=shop_name, title=title, price=price, **kw)


def shop(shop_id: str, name: str, *, site: str = "demo", at: str = T1, sweep: str = "sw1", sha: str = "",
         **kw: Any) -> ShopItem:
    return ShopItem(url=f"http://{site}.test/shop/{shop_id}/", site=site, sweep_id=sweep, status=200, fetched_at=at,
                    html_sha256=sha or f"sha-shop-{shop_id}", shop_id=shop_id, name=name, **kw)


def finding(subject: ListingItem | ShopItem, rule_id: str, category: str, severity: str = "high", *,
            snippet: str = "", at: str | None = None, title: str = "", matched: tuple[str, ...] = ("高仿",)
            ) -> Finding:
    return Finding(rule_id=rule_id, rule_version="1", pack=rule_id.split(".")[0], title=title or rule_id,
                   category=category, severity=severity, basis="《电子商务法》第十三条", subject_kind=subject.kind,
                   subject_id=subject.subject_id, site=subject.site, shop_id=subject.shop_id, url=subject.url,
                   field="title", matched=list(matched),
                   snippet=snippet or f"【{getattr(subject, 'title', subject.shop_id)}】",
                   start=0, end=2, snapshot_sha256=subject.html_sha256, sweep_id=subject.sweep_id,
                   found_at=at or subject.fetched_at)


def plant(store: Any, item: ListingItem | ShopItem, *findings: Finding) -> None:
    """Store a subject with its findings through the Store API (as the pipeline would)."""
    item.findings = list(findings)
    store.save(item)


def copy_home(src: Path, dst: Path) -> Path:
    """A private copy of a NETSWORD_HOME (store via SQLite's backup API, evidence files copied)."""
    dst.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src / "netsword.db") as a, sqlite3.connect(dst / "netsword.db") as b:
        a.backup(b)
    if (src / "evidence").is_dir():
        shutil.copytree(src / "evidence", dst / "evidence", dirs_exist_ok=True)
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConsoleServer:
    """The real console app under uvicorn on 127.0.0.1 (a thread of this process)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ConsoleServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("console server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
