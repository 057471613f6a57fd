"""Saved searches that alert on new matches.

An analyst saves the console's search (its query string: text and filters) under a name. After each
sweep the scheduler (and `netsword searches check`, for cron) runs every saved search for findings
first seen since its last check; new ones go out as one digest per saved search through the existing
alert channels (``scheduling.alerts``: the campaigns' ``alerts.notify`` and ``$NETSWORD_ALERT_URLS``).

Kept in ``<home>/saved-searches.json`` (written whole to a temporary file, then renamed): the console's
own state, beside ``console-secret``, the same for the SQLite and the Elasticsearch store.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from netsword.clock import utc_now
from pipelines.store.base import Store

logger = logging.getLogger(__name__)
FILE = "saved-searches.json"
NAME_MAX = 60
MAX_PER_USER = 50
_LOCK = threading.Lock()
#: the search form's parameters a saved search keeps (leads.web.forms.SearchForm)
PARAMS = ("q", "category", "severity", "site", "status", "sweep", "shop", "from", "to", "price_min", "price_max")


@dataclass
class SavedSearch:
    search_id: str
    owner: str
    name: str
    query: str  # the search page's query string
    created_at: str = ""
    checked_at: str = ""  # findings first seen after this are new
    alerts: int = 0
    last_alert: str = ""
    #: findings first seen in the second of ``checked_at`` already counted (times have whole seconds)
    boundary_ids: list[str] = field(default_factory=list)

    @property
    def params(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in parse_qsl(self.query, keep_blank_values=False) if k in PARAMS]


@dataclass
class SavedSearches:
    path: Path
    items: list[SavedSearch] = field(default_factory=list)

    @classmethod
    def load(cls, home: Path | str | None = None) -> SavedSearches:
        if home is None:
            from netsword.config import current

            home = current().home
        path = Path(home) / FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = []
        except ValueError as exc:
            raise ValueError(f"{path}: 不是有效的 JSON / not valid JSON: {exc}") from None
        return cls(path, [SavedSearch(**{k: v for k, v in d.items() if k in SavedSearch.__dataclass_fields__})
                          for d in data])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps([asdict(s) for s in self.items], ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def of(self, owner: str) -> list[SavedSearch]:
        return [s for s in self.items if s.owner == owner]

    def add(self, owner: str, name: str, params: list[tuple[str, str]], store: Store | None = None) -> SavedSearch:
        name = " ".join(name.split())[:NAME_MAX]
        if not name:
            raise ValueError("请给检索起个名字 / name the search")
        if len(self.of(owner)) >= MAX_PER_USER:
            raise ValueError(f"每人最多保存 {MAX_PER_USER} 个检索 / at most {MAX_PER_USER} saved searches each")
        query = urlencode([(k, v) for k, v in params if k in PARAMS and v])
        now = utc_now()
        s = SavedSearch(secrets.token_hex(6), owner, name, query, now, now)
        if store is not None:
            _mark_checked(s, store, now)  # what is already there is not new
        self.items.append(s)
        return s

    def remove(self, owner: str, search_id: str) -> bool:
        before = len(self.items)
        self.items = [s for s in self.items if not (s.search_id == search_id and s.owner == owner)]
        return len(self.items) != before


def new_matches(store: Store, s: SavedSearch) -> list[dict[str, Any]]:
    """Findings of the saved search first seen after its last check, worst first."""
    from starlette.datastructures import QueryParams

    from leads.web.forms import SearchForm

    q = SearchForm.parse(QueryParams(s.params)).query()
    seen = set(s.boundary_ids)
    return [f for f in store.iter_findings(q) if (f.get("first_seen") or "")[:19] >= s.checked_at[:19]
            and f["finding_id"] not in seen]


def _mark_checked(s: SavedSearch, store: Store, now: str) -> None:
    from starlette.datastructures import QueryParams

    from leads.web.forms import SearchForm

    q = SearchForm.parse(QueryParams(s.params)).query()
    s.checked_at = now
    s.boundary_ids = [f["finding_id"] for f in store.iter_findings(q) if (f.get("first_seen") or "")[:19] == now[:19]]


def digest_text(s: SavedSearch, found: list[dict[str, Any]], console_url: str = "", limit: int = 20) -> tuple[str, str]:
    from leads.readable import explain_finding

    leads = sorted({f"{f['site']}:{f['shop_id']}" for f in found})
    title = f"【网剑行动】保存的检索「{s.name}」：新发现 {len(found)} 条（{len(leads)} 个线索）"
    lines = []
    for f in found[:limit]:
        lines.append(f"[{f['category']}] {f.get('subject_title') or f.get('shop_name') or f['subject_id']}"
                     f"（店铺 {f.get('shop_name') or f['shop_id']}）")
        lines.append(f"    {explain_finding(f)[:160]}")
        lines.append(f"    {f['url']}")
    if len(found) > limit:
        lines.append(f"……另有 {len(found) - limit} 条")
    if console_url:
        lines += ["", f"检索：{console_url.rstrip('/')}/search?{s.query}"]
        lines += [f"  {console_url.rstrip('/')}/leads/{quote(lead)}" for lead in leads[:limit]]
    return title, "\n".join(lines)


def check_saved_searches(store: Store, *, home: Path | str | None = None, targets: list[str] | None = None,
                         console_url: str = "") -> list[tuple[SavedSearch, int, str]]:
    """Run every saved search for new matches and alert; (search, new findings, alert status) each.

    ``targets``: Apprise URLs (default: every campaign's ``alerts.notify`` and ``$NETSWORD_ALERT_URLS``).
    A search is marked checked only when its digest went out (or nothing was new), so a failed delivery
    is tried again next time."""
    from scheduling.alerts import Digest, send

    if targets is None:
        targets = default_targets()
    out = []
    with _LOCK:
        saved = SavedSearches.load(home)
        now = utc_now()
        for s in saved.items:
            found = new_matches(store, s)
            status = ""
            if found and targets:
                title, body = digest_text(s, found, console_url)
                try:
                    ok, status = send(targets, Digest(title, body, 0, len(found)))
                except Exception as exc:  # a notification problem never stops the others
                    logger.exception("saved search alert failed: %s", s.name)
                    ok, status = False, f"{type(exc).__name__}: {exc}"
                status = ("sent: " if ok else "failed: ") + status
                if ok:
                    s.alerts += 1
                    s.last_alert = now
                    _mark_checked(s, store, now)
            elif not found:
                _mark_checked(s, store, now)
            out.append((s, len(found), status))
        saved.save()
    return out


def default_targets() -> list[str]:
    """The alert channels already configured: every campaign's notify URLs and ``$NETSWORD_ALERT_URLS``."""
    from scheduling.alerts import AlertConfig

    notify: list[str] = []
    try:
        from scheduling.campaigns import load_campaigns

        for c in load_campaigns():
            notify.extend(c.campaign.alerts.notify)
    except Exception as exc:  # a broken calendar: still the environment's targets
        logger.warning("campaign calendars not loaded for saved-search alerts: %s", exc)
    return AlertConfig(notify=list(dict.fromkeys(notify))).targets()
