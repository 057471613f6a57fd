"""The Store contract: one interface, several engines (SQLite now, Elasticsearch later).

Every engine keeps the same things and answers the same questions:

* sweeps (one crawl of a site, with an id, its settings and final stats);
* listings and shops, idempotent by ``item.subject_id`` ("site:id"), the latest
  observation winning; every distinct page version of a listing (by HTML hash) is kept
  in ``listing_history`` with its price, for price-history rules;
* findings, idempotent by ``finding.finding_id``, with first/last seen and the sweeps
  that saw them; a rescan that no longer produces a finding marks it ``resolved``
  (soft: nothing is ever deleted; a resolved finding that comes back is reopened);
* snapshot records (content hash -> url, path, fetch time);
* search (text + filters + facets) and a finding export stream.

Writes may be buffered by an engine; ``flush()`` makes them durable and visible to
other processes; ``close()`` flushes. Reads through the same Store object always see
its own writes. The contract suite, run against every engine, is ``tests/store_contract/``.
"""

from __future__ import annotations

import abc
import contextlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from crawler.items import SEVERITIES, Finding, ListingItem, ShopItem

#: critical > high > medium > low; unknown severities rank 0.
SEVERITY_RANK: dict[str, int] = {s: i + 1 for i, s in enumerate(SEVERITIES)}

#: Finding status a rescan sets when the page no longer produces the finding.
RESOLVED = "resolved"
OPEN = "open"

#: Key of ``ListingItem.history`` set (to 1.0) by ``pipelines.history`` when the store could not be read:
#: the listing was matched without its price history. The store stage then resolves nothing on it (an
#: outage closes no finding) and ``pipelines.history`` matches it again once the store is back.
HISTORY_UNKNOWN = "history_unknown"

FilterValue = str | Sequence[str] | None


def as_tuple(value: FilterValue) -> tuple[str, ...]:
    """A filter value (None, one string, or several) as a tuple of non-empty strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(v for v in value if v)


@dataclass
class ParsedText:
    """A search text taken apart: every group required (one of its terms), the excluded terms, and
    ``field:value`` filters (``category``, ``site``, ``shop``; also 类别 / 平台 / 店铺)."""

    groups: list[list[str]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)


#: ``field:value`` names in a search text -> the filter they set
TEXT_FIELDS = {"category": "category", "类别": "category", "site": "site", "平台": "site", "shop": "shop",
               "店铺": "shop"}
_TOKEN = re.compile(r'(-?)(?:(\w+)[:：])?(?:"([^"]*)"?|“([^”]*)”?|(\S+))')


def parse_text(text: str) -> ParsedText:
    """A search text as analysts type it:

    * words are all required (AND); ``高仿 OR 精仿`` (also ``|``) needs either;
    * ``"1:1 复刻"`` (or “…”) is one phrase, spaces and colons included;
    * ``-正品`` / ``-"厂家直供"`` excludes;
    * ``category:虚假违法互联网广告``, ``site:demo``, ``shop:S001`` filter (a value may be quoted).

    Terms without word characters are dropped (a lone ``-`` or ``:``)."""
    out = ParsedText()
    join_next = False
    for m in _TOKEN.finditer(text or ""):
        minus, name, quoted, cquoted, bare = m.groups()
        value = quoted if quoted is not None else cquoted if cquoted is not None else bare or ""
        if not minus and name is None and quoted is None and cquoted is None and value in ("OR", "|", "或"):
            join_next = bool(out.groups)
            continue
        if name is not None and name.lower() in TEXT_FIELDS and not minus:
            if value.strip():
                out.fields.setdefault(TEXT_FIELDS[name.lower()], []).append(value.strip())
            join_next = False
            continue
        term = f"{name}:{value}" if name is not None else value  # "1:1", "url:..." stay text
        if not text_segments(term):
            join_next = False
            continue
        if minus:
            out.excluded.append(term)
        elif join_next:
            out.groups[-1].append(term)
        else:
            out.groups.append([term])
        join_next = False
    return out


class StoreBusy(RuntimeError):
    """A write could not start in time: another writer kept the store's write lock. Nothing of the
    call was written; trying it again is safe."""


# --------------------------------------------------------------------------- queries


@dataclass
class SearchQuery:
    """What an analyst asks for.

    ``text``: whitespace-separated terms, all required (AND); a term starting with ``-``
    excludes subjects containing it. Each term matches as a phrase (CJK by characters,
    latin words and numbers whole, case-insensitive) in the subject's text or in the
    evidence snippets of its findings.

    Finding filters (``category``, ``severity``, ``status``, ``sweep_id``, also ``site``,
    ``shop_id``, ``kind``) select which findings count. Without ``status`` resolved
    findings are left out unless ``include_resolved``. A subject is a hit when it passes
    the subject filters and -- if ``flagged_only`` or any of category/severity/status is
    given -- has at least one finding that passes the finding filters.
    ``sweep_id`` also requires the subject to have been fetched in that sweep.
    ``price_min``/``price_max`` apply to listings (shops are then left out).
    ``seen_from`` / ``seen_before`` (ISO 8601 UTC times) keep findings seen in that period:
    last seen at or after ``seen_from`` and first seen before ``seen_before``.
    """

    text: str = ""
    category: FilterValue = None
    severity: FilterValue = None
    site: FilterValue = None
    shop_id: str | None = None
    sweep_id: str | None = None
    status: FilterValue = None
    include_resolved: bool = False
    kind: str | None = None  # "listing" | "shop" | None for both
    flagged_only: bool = True
    price_min: float | None = None
    price_max: float | None = None
    seen_from: str | None = None
    seen_before: str | None = None
    limit: int = 20
    offset: int = 0

    def terms(self) -> tuple[list[str], list[str]]:
        """(required terms, excluded terms) of ``text``, the alternatives of an OR group included among
        the required ones (for highlighting); terms without any word characters are dropped."""
        groups, neg = self.term_groups()
        return [t for g in groups for t in g], neg

    def term_groups(self) -> tuple[list[list[str]], list[str]]:
        """(required groups, excluded terms) of ``text`` (see :func:`parse_text`): a hit matches at least one
        term of every group and none of the excluded terms."""
        parsed = parse_text(self.text)
        return parsed.groups, parsed.excluded

    @property
    def needs_finding(self) -> bool:
        return self.flagged_only or bool(as_tuple(self.category) or as_tuple(self.severity) or as_tuple(self.status)
                                         or self.seen_from or self.seen_before)


@dataclass
class HitFinding:
    finding_id: str
    rule_id: str
    title: str
    category: str
    severity: str
    status: str
    field: str
    snippet: str


@dataclass
class Hit:
    kind: str  # "listing" | "shop"
    subject_id: str
    site: str
    title: str  # listing title or shop name
    url: str
    shop_id: str
    shop_name: str
    price: float | None
    max_severity: str | None  # of the findings that passed the filters
    last_seen: str  # fetched_at of the latest observation
    findings: list[HitFinding] = field(default_factory=list)
    highlight: str = ""  # text around the first place the query occurs, the hit in 【】
    highlight_field: str = ""


@dataclass
class SearchResult:
    """One page of hits. ``total`` counts every hit; ``facets`` ("category", "severity", "site")
    count hits per value, a hit counting once under each category/severity of its matching findings."""

    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]
    query: SearchQuery

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_query(q: SearchQuery | Mapping[str, Any] | None) -> SearchQuery:
    """A SearchQuery from a SearchQuery, a dict of its fields, or None (the defaults)."""
    if isinstance(q, SearchQuery):
        return q
    return SearchQuery(**dict(q or {}))


@dataclass
class StoredFinding:
    """A finding as kept: the latest evidence plus its life cycle."""

    finding: Finding
    status: str
    first_seen: str
    last_seen: str
    first_sweep_id: str
    last_sweep_id: str
    resolved_at: str | None = None
    sweeps: list[str] = field(default_factory=list)

    @property
    def finding_id(self) -> str:
        return self.finding.finding_id


@dataclass
class ListingVersion:
    """A stretch of time a listing's page stayed the same (by HTML hash; title + prices if no hash).

    A refetch of an unchanged page only moves ``last_seen_at``; a changed page starts a new
    version, so A -> B -> A gives three versions (what price-history rules need).
    """

    subject_id: str
    html_sha256: str
    price: float | None
    original_price: float | None
    title: str
    sweep_id: str
    fetched_at: str
    last_seen_at: str
    last_sweep_id: str


@dataclass
class Snapshot:
    sha256: str
    url: str
    path: str
    fetched_at: str
    status: int
    sweep_id: str
    rendered: bool


@dataclass
class PageState:
    """What the last stored fetch of a URL gave, for the next sweep's conditional request
    (``If-None-Match`` / ``If-Modified-Since``) and its "unchanged content" check."""

    url: str
    sha256: str  # of the page body as stored (the evidence snapshot)
    path: str  # the snapshot's path, relative to the evidence root
    etag: str = ""
    last_modified: str = ""
    fetched_at: str = ""
    sweep_id: str = ""
    page_type: str = ""
    subject_kind: str = ""  # "listing" | "shop" | "" (a page without a subject)
    subject_id: str = ""


@dataclass
class Sweep:
    sweep_id: str
    site: str
    started_at: str
    finished_at: str | None
    settings: dict[str, Any]
    stats: dict[str, Any]


@dataclass
class SweepRun:
    """One run of a sweep as the scheduler records it (``netsword schedule history``); id = the sweep id.

    ``status``: running | ok | incomplete (the crawl stopped early) | failed | crashed (killed by a
    signal) | interrupted (the scheduler was stopped) | skipped (the site was busy). Times: ISO 8601 UTC.
    """

    run_id: str
    site: str
    kind: str = "manual"  # baseline | daily | hourly | manual
    campaign: str = ""
    festival: str = ""
    job_id: str = ""
    started_at: str = ""
    finished_at: str | None = None
    status: str = "running"
    exit_code: int | None = None
    pages: int = 0
    findings: int = 0  # findings seen in the sweep
    new_findings: int = 0  # first seen in the sweep
    errors: int = 0  # failed pages + error log lines
    message: str = ""  # why it failed or was skipped
    alert: str = ""  # "" (none due) | "sent: ..." | "failed: ..."
    pid: int | None = None  # of the crawl process while running


@dataclass
class TriageEvent:
    """One analyst decision on a lead (the audit trail; never changed or deleted once added).

    ``action``: "status" (value = new/confirmed/dismissed/referred), "assign" (value = user
    name, "" to unassign), "note" (value = the text) or "finding_status" (``finding_id`` set,
    value = the finding's new status). ``previous`` is the value before the change.
    """

    lead_id: str  # "<site>:<shop_id>"
    action: str
    value: str
    actor: str
    at: str = ""  # ISO 8601 UTC; the store fills it when empty
    previous: str = ""
    finding_id: str = ""
    event_id: int | None = None  # assigned by the store, increasing


@dataclass
class User:
    """A console user; ``password_hash`` is an argon2 hash (never the password).

    ``session_epoch``: the generation of the user's console sessions. A session cookie carries the
    epoch it was made in and is only good while the user's epoch is the same: raising it (logout,
    password reset, disabling) ends every session of the user at once, copied cookies included.
    """

    username: str
    password_hash: str
    role: str = "analyst"  # "analyst" | "admin"
    disabled: bool = False
    created_at: str = ""
    updated_at: str = ""
    session_epoch: int = 0


# --------------------------------------------------------------------------- contract


class StoreUnavailable(RuntimeError):
    """The store cannot be reached (a server down, a file that cannot be opened). Raised by reads;
    engines that can keep writes for later (Elasticsearch: the spool) do so instead of raising
    (``Store.spooled`` counts them)."""


class Store(abc.ABC):
    """The only door to storage. Engines: ``sqlite.SQLiteStore``, ``elastic.ElasticStore``."""

    #: writes this store object sent to a local spool instead of the store (engines that can be unreachable)
    spooled: int = 0

    @property
    def unsaved(self) -> int:
        """Writes this store object holds that are not yet durable (an open batch, a send buffer): a process killed
        now loses them."""
        return 0

    # sweeps
    @abc.abstractmethod
    def start_sweep(self, sweep_id: str, site: str, started_at: str, settings: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def finish_sweep(self, sweep_id: str, finished_at: str, stats: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def sweeps(self) -> list[Sweep]:
        """All sweeps, newest first."""

    # subjects
    @abc.abstractmethod
    def upsert_listing(self, item: ListingItem) -> None: ...

    @abc.abstractmethod
    def upsert_shop(self, item: ShopItem) -> None: ...

    @abc.abstractmethod
    def get_listing(self, subject_id: str) -> ListingItem | None:
        """The latest observation, ``findings`` filled with its unresolved findings."""

    @abc.abstractmethod
    def get_shop(self, subject_id: str) -> ShopItem | None: ...

    @abc.abstractmethod
    def listing_history(self, subject_id: str) -> list[ListingVersion]:
        """The listing's page versions, oldest first."""

    # findings
    @abc.abstractmethod
    def upsert_findings(self, findings: Sequence[Finding]) -> None: ...

    @abc.abstractmethod
    def resolve_findings(self, subject_id: str, keep_ids: Sequence[str], *, kind: str | None = None,
                         at: str = "", sweep_id: str = "") -> int:
        """A rescan of the subject no longer produced the findings not in ``keep_ids``: set their
        resolved_at / resolved_sweep_id and turn status "open" into "resolved" (other statuses,
        set by triage, stay). Findings seen after ``at`` are left alone. Returns how many were marked.
        ``kind`` ("listing" | "shop") keeps a listing and a shop with the same id apart."""

    @abc.abstractmethod
    def findings_for(self, subject_id: str, *, kind: str | None = None,
                     include_resolved: bool = True) -> list[StoredFinding]: ...

    # evidence
    @abc.abstractmethod
    def record_snapshot(self, sha256: str, url: str, path: str, fetched_at: str, status: int,
                        sweep_id: str, rendered: bool) -> None: ...

    @abc.abstractmethod
    def snapshots(self, sha256: str) -> list[Snapshot]: ...

    # incremental sweeps and resume
    @abc.abstractmethod
    def page_state(self, url: str) -> PageState | None:
        """The last stored state of ``url`` (None if never stored)."""

    @abc.abstractmethod
    def put_page_state(self, state: PageState) -> None:
        """Replace the state of ``state.url``. Written after the page's item, so a crash never
        leaves a state whose item is missing."""

    @abc.abstractmethod
    def mark_seen(self, kind: str, subject_id: str, sweep_id: str, seen_at: str) -> bool:
        """The subject's page was fetched in ``sweep_id`` and found unchanged: it counts as fetched in
        that sweep (counts, search by sweep), its latest observation, latest listing version and open
        findings are extended to ``seen_at`` (no new version, nothing resolved). False if unknown."""

    @abc.abstractmethod
    def sweep_urls(self, sweep_id: str) -> set[str]:
        """URLs whose page state was last written in ``sweep_id`` (unchanged pages included): pages
        stored completely in that sweep, which a resumed sweep need not fetch again. (The state is
        written after the page's subject, findings and snapshot, so it implies them.)"""

    # subjects with sub-pages (crawler.subpages): each page kept as a part, the subject their merge
    def put_part(self, item: ListingItem | ShopItem) -> None:
        """Keep ``item`` as the part ``item.part`` (its page type) of its subject, replacing that part's earlier
        version; the subject itself is written when its parts are assembled (``save``)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no sub-pages yet (belongs_to in a site profile)")

    def parts(self, kind: str, subject_id: str) -> list[ListingItem | ShopItem]:
        """Every stored part of the subject, by page type (``findings``, ``norm``, ``tokens`` empty)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no sub-pages yet (belongs_to in a site profile)")

    def part_subjects(self, sweep_id: str) -> list[tuple[str, str]]:
        """(kind, subject id) of every subject with a part stored in ``sweep_id``."""
        raise NotImplementedError(f"{type(self).__name__} keeps no sub-pages yet (belongs_to in a site profile)")

    # questions
    @abc.abstractmethod
    def counts(self, sweep_id: str | None = None) -> dict[str, Any]:
        """listings, shops, findings (unresolved), resolved, snapshots, sweeps, listing_versions,
        by_category (every form category, in form order) and by_severity (unresolved findings).

        With ``sweep_id``: subjects fetched, findings seen, snapshots and versions recorded in that sweep.
        """

    @abc.abstractmethod
    def search(self, q: SearchQuery | Mapping[str, Any]) -> SearchResult:
        """Hits for ``q`` (a SearchQuery or its keyword arguments as a dict)."""

    @abc.abstractmethod
    def iter_findings(self, q: SearchQuery | Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """One dict per finding passing ``q``'s filters (limit/offset, flagged_only ignored), worst first.

        Keys: the Finding fields plus finding_id, status, first_seen, last_seen,
        first_sweep_id, last_sweep_id, resolved_at, and from the subject: subject_title,
        price, currency, shop_name, operator, license_number, fetched_at (of the evidence
        snapshot, else of the latest observation).
        """

    @abc.abstractmethod
    def iter_subject_ids(self, kind: str, site: FilterValue = None) -> Iterator[str]:
        """Every stored subject id of ``kind`` (listing or shop, stubs excluded), in id order, read page by
        page from a keyset (never OFFSET), so millions of subjects cost the same per page."""

    @abc.abstractmethod
    def iter_shops(self, site: FilterValue = None) -> Iterator[ShopItem]:
        """Every stored shop (latest observation, ``findings`` left empty), by site and shop id."""

    def iter_listing_pictures(self, site: FilterValue = None) -> Iterator[tuple[str, str, str, list[dict[str, Any]]]]:
        """(listing subject id, site, shop id, pictures) of every stored listing with pictures
        (``ListingItem.images``: url, sha256, path, phash ...), for the picture link of seller clustering.
        This default reads each listing; an engine may answer it in one query."""
        for subject_id in self.iter_subject_ids("listing", site):
            item = self.get_listing(subject_id)
            if item is not None and item.images:
                yield subject_id, item.site, item.shop_id, item.images

    # triage (leads/triage.py) and console users (leads/users.py)
    @abc.abstractmethod
    def set_finding_status(self, finding_ids: Sequence[str], status: str, *,
                           only_from: Sequence[str] | None = None) -> int:
        """Set the triage status of findings (those whose status is in ``only_from``, if given);
        returns how many changed. Rescans keep triage statuses (see ``resolve_findings``)."""

    @abc.abstractmethod
    def add_triage_event(self, event: TriageEvent) -> TriageEvent:
        """Append to the audit trail; returns the event with ``event_id`` (and ``at`` if empty) set."""

    @abc.abstractmethod
    def triage_events(self, lead_id: str | None = None) -> list[TriageEvent]:
        """The audit trail of one lead (or of all leads), oldest first."""

    @abc.abstractmethod
    def put_user(self, user: User) -> None:
        """Create or replace the user with ``user.username``. The stored ``session_epoch`` never goes
        down: the higher of the stored and the given one is kept (a write from a stale read cannot
        bring ended sessions back)."""

    @abc.abstractmethod
    def get_user(self, username: str) -> User | None: ...

    @abc.abstractmethod
    def users(self) -> list[User]:
        """All users, by name."""

    # sweep run records (the scheduler, scheduling/runs.py); engines without them raise NotImplementedError
    def put_run(self, run: SweepRun) -> None:
        """Create or replace the run record ``run.run_id`` (written durably at once)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no sweep run records yet")

    def runs(self, *, site: FilterValue = None, kind: FilterValue = None, status: FilterValue = None,
             campaign: str | None = None, festival: str | None = None, job_id: str | None = None,
             run_id: str | None = None, limit: int | None = 100) -> list[SweepRun]:
        """Run records passing the filters, newest (by started_at) first."""
        raise NotImplementedError(f"{type(self).__name__} keeps no sweep run records yet")

    # copy (netsword index copy; records described in pipelines.store.transfer)
    @abc.abstractmethod
    def dump(self) -> Iterator[dict[str, Any]]:
        """Everything this store keeps, as engine-neutral records."""

    @abc.abstractmethod
    def load(self, records: Iterable[dict[str, Any]]) -> int:
        """Write records of any engine's :meth:`dump`; returns how many were written."""

    # life cycle
    def make_interactive(self) -> Store:
        """People wait on this store's writes (the console, an analyst's command): the engine commits
        each write at once and, where it can, lets these writes go before batch writers such as a
        running sweep. Returns the store."""
        return self

    def retry(self) -> None:  # noqa: B027 - engines that are never unreachable need nothing here
        """Try the server on the next call, whatever the back-off after an earlier failure."""

    def flush(self) -> None:  # noqa: B027 - engines without buffering need nothing here
        """Make buffered writes durable and visible to other readers."""

    @contextlib.contextmanager
    def bulk_load(self) -> Iterator[Store]:
        """A large load (a copy between engines, a benchmark corpus): engines may trade the freshness of
        other readers' searches for speed while it runs (a search engine stops its periodic refresh and
        refreshes once at the end). Everything is flushed and visible when it ends."""
        try:
            yield self
        finally:
            self.flush()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group writes (all or nothing where the engine can; at least flushed together at the end)."""
        yield self
        self.flush()

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # convenience over the primitives (engines may override for speed)
    def save(self, item: ListingItem | ShopItem, *, resolve: bool = True) -> None:
        """Store one parsed page: subject, snapshot record, findings; resolve what the page no longer shows.

        Call ``resolve=False`` when the item was checked with only part of the rules.
        A page with an HTTP error status only gets its snapshot recorded: it neither
        replaces the stored subject nor resolves anything.
        """
        if item.html_sha256:
            self.record_snapshot(item.html_sha256, item.url, item.html_path, item.fetched_at,
                                 item.status, item.sweep_id, item.rendered)
        if item.status >= 400:
            return
        if isinstance(item, ListingItem):
            self.upsert_listing(item)
        else:
            self.upsert_shop(item)
        if item.findings:
            self.upsert_findings(item.findings)
        if resolve:
            self.resolve_findings(item.subject_id, [f.finding_id for f in item.findings], kind=item.kind,
                                  at=item.fetched_at, sweep_id=item.sweep_id)


# --------------------------------------------------------------------------- text helpers shared by engines

#: Scripts written without spaces: indexed by characters, not words.
CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0003134f"
_SEGMENT_RE = re.compile(rf"([{CJK_RANGES}]+)|((?:(?![{CJK_RANGES}])[^\W\d_])+)|(\d+)")


def fold(text: str) -> str:
    """NFKC + case fold: full-width to half-width, ＡＢＣ -> abc."""
    return unicodedata.normalize("NFKC", text).casefold()


def text_segments(text: str) -> list[tuple[bool, str]]:
    """Folded text as runs: (True, CJK run) or (False, latin word / number).

    Everything else (spaces, punctuation, symbols) separates runs.
    """
    out: list[tuple[bool, str]] = []
    for m in _SEGMENT_RE.finditer(fold(text)):
        cjk, word, num = m.groups()
        out.append((True, cjk) if cjk else (False, word or num))
    return out


def query_term_tokens(term: str) -> tuple[list[str], bool]:
    """(index tokens, last token is a prefix) of one query term, as both engines match it: CJK runs
    as bigrams, latin words and numbers whole."""
    toks: list[str] = []
    prefix = False
    segs = text_segments(term)
    for i, (is_cjk, seg) in enumerate(segs):
        last = i == len(segs) - 1
        if not is_cjk:
            toks.append(seg)
            continue
        toks.extend(seg[j:j + 2] for j in range(len(seg) - 1))
        if len(seg) == 1 or not last:  # the document's run may go on after the query's last run
            toks.append(seg[-1])
        prefix = last and len(seg) == 1  # one character: any token starting with it
    return toks, prefix


def _term_pattern(term: str) -> re.Pattern[str] | None:
    """A regex that finds ``term`` in raw text the way the index matches it."""
    parts = []
    for is_cjk, seg in text_segments(term):
        esc = re.escape(seg)
        if is_cjk:
            parts.append(esc)
        elif seg.isdigit():
            parts.append(rf"(?<!\d){esc}(?!\d)")
        else:
            parts.append(rf"(?<!(?![{CJK_RANGES}])[^\W\d_]){esc}(?!(?![{CJK_RANGES}])[^\W\d_])")
    return re.compile(r"[\W_]*?".join(parts), re.IGNORECASE) if parts else None


def highlight(fields: Sequence[tuple[str, str]], terms: Sequence[str], width: int = 30) -> tuple[str, str]:
    """(field, snippet) of the first field where any term occurs, the hit in 【】; ("", "") if none."""
    patterns = [p for p in (_term_pattern(t) for t in terms) if p is not None]
    if not patterns:
        return "", ""
    for name, text in fields:
        if not text:
            continue
        for candidate in (text, unicodedata.normalize("NFKC", text)):
            found = [m for m in (p.search(candidate) for p in patterns) if m]
            if found:
                m = min(found, key=lambda x: x.start())
                a, b = m.span()
                pre = ("…" if a > width else "") + candidate[max(0, a - width):a]
                post = candidate[b:b + width] + ("…" if len(candidate) > b + width else "")
                snippet = f"{pre}【{candidate[a:b]}】{post}"
                return name, " ".join(snippet.split())
    return "", ""
