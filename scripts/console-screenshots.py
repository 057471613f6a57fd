"""Screenshots of the analyst console for the README: dashboard, lead page, review queue, phone layout.

    .venv/bin/python scripts/console-screenshots.py [OUT_DIR]      # default docs/screenshots  (make screenshots)

Builds the console test data (tests/console_data.py: the real rule engine over planted listings in a real
SQLite store in a temporary folder), serves the console on a free 127.0.0.1 port and drives Debian's
Chromium (as the tests do). Nothing outside the repository is read.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

PASSWORD = "screenshot-pass-1"


def main(out: Path) -> None:
    from console_data import build_console_data
    from leads_fixtures import ConsoleServer
    from playwright.sync_api import sync_playwright

    from crawler.browser import launch_options
    from leads.users import add_user
    from leads.web.app import ConsoleConfig, create_app
    from pipelines.store import open_store

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netsword-shots-") as tmp:
        home = Path(tmp)
        store = open_store(home / "netsword.db")
        data = build_console_data(store)
        add_user(store, "wang", PASSWORD, "admin")
        store.flush()
        app = create_app(ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), secrets.token_urlsafe(48)),
                         store=store)
        with ConsoleServer(app) as server, sync_playwright() as p:
            browser = p.chromium.launch(**launch_options())
            for name, width, height in (("desktop", 1360, 900), ("phone", 360, 740)):
                context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height},
                                              device_scale_factor=1 if name == "desktop" else 2)
                page = context.new_page()
                page.goto(server.url + "/")
                page.fill("input[name=username]", "wang")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(server.url + "/")
                if name == "desktop":
                    page.screenshot(path=str(out / "dashboard.png"), full_page=True)
                    page.goto(server.url + "/leads/" + data["price_lead"])
                    page.screenshot(path=str(out / "lead.png"), full_page=True)
                    page.goto(server.url + "/review")
                    page.screenshot(path=str(out / "review.png"), full_page=True)
                    page.goto(server.url + "/leads")
                    page.screenshot(path=str(out / "leads.png"), full_page=False)
                else:
                    page.screenshot(path=str(out / "phone.png"), full_page=False)
                context.close()
            browser.close()
        store.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
