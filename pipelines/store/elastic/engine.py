"""The Elasticsearch engine: ``open_store("elasticsearch://host:9200")``.

URL: ``elasticsearch://[user[:password]@]host[:port][,host2:port...][/prefix][?options]``, options
``scheme=https``, ``ca_certs=/path/ca.crt``, ``verify_certs=0``, ``spool=/path/spool.jsonl``,
``batch_size=500``, ``max_delay=2``, ``timeout=30``. The password may also come from
``NETSWORD_ES_PASSWORD`` or a file named by ``NETSWORD_ES_PASSWORD_FILE`` (docker compose), the
user from ``NETSWORD_ES_USER`` (default ``elastic`` when a password is set). ``prefix`` (default
``netsword``) names the aliases: ``netsword-listings``, ``-shops``, ``-findings``, ``-versions``,
``-snapshots``, ``-sweeps``, ``-leads`` (templates and migrations: ``elastic_admin``).

Writes
    Each Store call becomes an operation (``elastic_docs``) kept in memory; every ``batch_size``
    operations or ``max_delay`` seconds (checked on the next write), on ``flush()``, before a
    read and on ``close()`` the batch is applied: one ``mget`` of the root documents it touches,
    the merge in Python, one ``helpers.streaming_bulk`` (retries with backoff on 429) writing
    roots with optimistic concurrency (``if_seq_no``; a conflict re-reads and re-applies the
    batch) and their projections (findings, versions), snapshots and sweeps.

Outages
    When Elasticsearch cannot be reached, the batch is appended to a local spool file
    (``$NETSWORD_HOME/spool/...jsonl``, see ``elastic_spool``) and the sweep goes on; later
    batches go to the spool too (order kept) until a flush finds the server again, which first
    replays the spool. Opening the store (the next sweep) and ``netsword index replay`` replay it
    as well. A batch Elasticsearch answers with an error (a refused password, a 500) is spooled
    the same way, the reason logged: a write never leaves ``save()`` as an exception and never
    gets lost. ``spooled`` counts the operations this store object spooled. Reads need the
    server and raise ``StoreUnavailable`` meanwhile, at once (no request) until the back-off
    after the last failure (1 s, doubling to 30 s) has passed. The outage is logged once per
    process and spool, not per store object or per retry.

Reads
    ``get_*``, ``listing_history`` and ``findings_for`` read root documents by id (real time);
    searches refresh the indices first when this store wrote since its last refresh.
    ``flush()`` refreshes too, so other processes see the writes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from crawler.items import Finding, ListingItem, ShopItem
from netsword import config as netsword_config
from netsword.clock import utc_now

from ..base import PageState, Store, StoreUnavailable, SweepRun, TriageEvent, User
from . import docs
from . import flavour as flavours
from .admin import DEFAULT_PREFIX, KINDS, alias_name, ensure_indices
from .apply import ElasticApply
from .leads import ElasticLeadsIndex
from .reads import ElasticReads
from .spool import Spool

log = logging.getLogger(__name__)

__all__ = ["ElasticConfig", "ElasticStore", "StoreUnavailable", "open_elastic"]

#: spool files whose Elasticsearch this process found unreachable (logged once per outage, not per store object)
_DOWN: set[str] = set()
_DOWN_LOCK = threading.Lock()


_unavailable = flavours.unavailable
_from_elasticsearch = flavours.engine_error


@dataclass
class ElasticConfig:
    hosts: list[str]
    prefix: str = DEFAULT_PREFIX
    username: str | None = None
    password: str | None = None
    spool: Path | None = None
    batch_size: int = 500
    max_delay: float = 2.0
    timeout: float = 30.0
    verify_certs: bool = True
    ca_certs: str | None = None
    max_window: int = 10_000  # from + size beyond this pages with point-in-time + search_after
    auto_replay: bool = True  # send the spool on open and before every batch (False: only replay() does)
    extra: dict[str, Any] = field(default_factory=dict)
    flavour: str = "elasticsearch"  # or "opensearch" (``opensearch://`` URLs: opensearch-py, see ``flavour``)

    @classmethod
    def from_url(cls, rest: str, *, flavour: str = "elasticsearch", **overrides: Any) -> ElasticConfig:
        """From the part of ``elasticsearch://...`` (or ``opensearch://...``) after the scheme."""
        if flavour not in flavours.FLAVOURS:
            raise ValueError(f"unknown search engine flavour {flavour!r}; known: {', '.join(flavours.FLAVOURS)}")
        u = urlsplit("es://" + rest)
        opts = {k: v[-1] for k, v in parse_qs(u.query).items()}
        netloc = u.netloc
        user = password = None
        if "@" in netloc:
            cred, netloc = netloc.rsplit("@", 1)
            user, _, pw = cred.partition(":")
            user, password = unquote(user) or None, unquote(pw) or None
        if not netloc:
            raise ValueError(f"{flavour} store URL needs a host: {flavour}://localhost:9200")
        scheme = opts.pop("scheme", "http")
        hosts = [f"{scheme}://{h if ':' in h else h + ':9200'}" for h in netloc.split(",") if h]
        password = password or os.environ.get("NETSWORD_ES_PASSWORD") or _read_secret(
            os.environ.get("NETSWORD_ES_PASSWORD_FILE"))
        default_user = "elastic" if flavour == "elasticsearch" else "admin"
        user = user or os.environ.get("NETSWORD_ES_USER") or (default_user if password else None)
        prefix = u.path.strip("/") or DEFAULT_PREFIX
        cfg = cls(hosts=hosts, prefix=prefix, username=user, password=password, flavour=flavour)
        if "spool" in opts:
            cfg.spool = Path(opts.pop("spool"))
        for name, conv in (("batch_size", int), ("max_delay", float), ("timeout", float), ("max_window", int)):
            if name in opts:
                setattr(cfg, name, conv(opts.pop(name)))
        if "verify_certs" in opts:
            cfg.verify_certs = opts.pop("verify_certs").lower() not in ("0", "false", "no")
        cfg.ca_certs = opts.pop("ca_certs", None)
        cfg.extra = opts
        for k, v in overrides.items():
            setattr(cfg, k, v)
        if cfg.spool is None:
            host = hosts[0].split("://", 1)[1].replace(":", "-").replace("/", "")
            cfg.spool = netsword_config.data_home() / "spool" / f"{flavour}-{host}-{prefix}.jsonl"
        return cfg


def _reason(exc: BaseException) -> str:
    """The innermost cause in a few words ("Connection refused", "HTTP 401 AuthenticationException"), not
    the transport's nested reprs."""
    text = str(exc)
    m = (re.search(r"\[Errno -?\d+\] ([^)'\"]+)", text) or re.search(r"Error\(-?\d+, '([^']+)'\)", text)
         or re.search(r"(timed out|Name or service not known)", text))
    if m:
        return m.group(1).strip()
    status = flavours.status_of(exc)
    return f"HTTP {status} {type(exc).__name__}" if status is not None else type(exc).__name__


def _read_secret(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError as e:
        raise ValueError(f"cannot read the Elasticsearch password file {path}: {e}") from e


#: the index settings of a bulk load (``ElasticStore.bulk_load``), and what each gets back when the index had
#: none of its own (None: the engine's default)
BULK_SETTINGS: dict[str, tuple[str, str | None]] = {"refresh_interval": ("-1", None),
                                                    "translog.durability": ("async", None)}


def _setting(settings: dict[str, Any], dotted: str, default: Any) -> Any:
    """A setting from the nested answer of GET _settings (``index.translog.durability``)."""
    node: Any = settings
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


class ElasticStore(ElasticReads, ElasticApply, ElasticLeadsIndex, Store):
    def __init__(self, config: ElasticConfig) -> None:
        self.config = config
        self.prefix = config.prefix
        self.engine = flavours.DISPLAY[config.flavour]
        self.es = flavours.make_client(config.flavour, config.hosts, username=config.username,
                                       password=config.password, timeout=config.timeout,
                                       verify_certs=config.verify_certs, ca_certs=config.ca_certs)
        assert config.spool is not None
        self.spool = Spool(config.spool)
        self._lock = threading.RLock()
        self._ops: list[dict[str, Any]] = []
        self._batch_started = 0.0
        self._dirty = False
        self._ready = False
        self._down_until = 0.0
        self._down_reason = ""
        self._backoff = 1.0
        self._closed = False
        self.spooled = 0
        with self._lock:
            try:
                self._connect()
                if config.auto_replay and self.spool.has_pending():
                    n = self.spool.replay(self._apply, config.batch_size)
                    log.warning("sent %d spooled operations from %s to %s", n, self.spool.path, self.engine)
            except Exception as e:
                if not _unavailable(e) and not isinstance(e, StoreUnavailable):
                    raise
                self._mark_down(e)

    def __repr__(self) -> str:
        return f"ElasticStore({self.config.hosts!r}, prefix={self.prefix!r})"

    def alias(self, kind: str) -> str:
        return alias_name(kind, self.prefix)

    # ----------------------------------------------------------------- connection and batches

    def _connect(self) -> None:
        if self._ready:
            return
        wanted = {self.alias(k) for k in KINDS}
        got = self.es.indices.get_alias(name=f"{self.prefix}-*", ignore_unavailable=True, allow_no_indices=True).body
        have = {a for index in got.values() for a in (index.get("aliases") or {})}
        if not wanted <= have:
            ensure_indices(self.es, self.prefix)
        self._ready = True

    def _mark_down(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, 30.0)
        self._down_reason = _reason(exc)
        key = str(self.spool.path)
        with _DOWN_LOCK:
            if key in _DOWN:
                return
            _DOWN.add(key)
        if _unavailable(exc):
            log.warning("%s at %s unreachable (%s); writes wait in %s until it is back (`netsword index "
                        "replay` sends them)", self.engine, self._hosts(), self._down_reason, self.spool.path)
        else:
            log.error("%s at %s refused a batch (%s); it and later writes wait in %s (`netsword index "
                      "replay` sends them once this is fixed)", self.engine, self._hosts(), self._down_reason,
                      self.spool.path)

    def _mark_up(self) -> None:
        self._backoff = 1.0
        self._down_until = 0.0
        key = str(self.spool.path)
        with _DOWN_LOCK:
            if key not in _DOWN:
                return
            _DOWN.discard(key)
        log.warning("%s at %s reachable again", self.engine, self._hosts())

    def _hosts(self) -> str:
        return ", ".join(self.config.hosts)

    def _unreachable(self, exc: BaseException | None = None) -> StoreUnavailable:
        """The error of a read that cannot be answered now (marks the server down when ``exc`` says so)."""
        if exc is not None:
            self._mark_down(exc)
        return StoreUnavailable(f"{self.engine} at {self._hosts()} is unreachable ({self._down_reason}); "
                                f"writes wait in {self.spool.path}")

    @property
    def unsaved(self) -> int:
        """Operations buffered for the next bulk request (not yet sent nor spooled)."""
        return len(self._ops)

    def _spool(self, ops: list[dict[str, Any]]) -> None:
        self.spool.append(ops)
        self.spooled += len(ops)

    def _push(self, *ops: dict[str, Any]) -> None:
        with self._lock:
            if not self._ops:
                self._batch_started = time.monotonic()
            self._ops.extend(ops)
            if len(self._ops) >= self.config.batch_size or \
                    time.monotonic() - self._batch_started >= self.config.max_delay:
                self._sync()

    def _sync(self, force: bool = False) -> list[Any] | None:
        """Send the pending operations (after anything spooled); spool them if the server is away.

        Returns the operations' results, or None when they went to the spool. Within the back-off after
        a failure, batches go straight to the spool unless ``force`` (an explicit flush, a read)."""
        with self._lock:
            ops, self._ops = self._ops, []
            if not ops and not (self.config.auto_replay and self.spool.has_pending()):
                return []
            if not force and time.monotonic() < self._down_until:
                self._spool(ops)
                return None
            try:
                self._connect()
                if self.config.auto_replay and self.spool.has_pending():
                    n = self.spool.replay(self._apply, self.config.batch_size)
                    log.warning("sent %d spooled operations from %s to %s", n, self.spool.path, self.engine)
                results = self._apply(ops) if ops else []
            except Exception as e:
                self._spool(ops)  # whatever went wrong, the batch is kept (applying it again changes nothing)
                if not _from_elasticsearch(e):
                    raise
                self._mark_down(e)
                return None
            self._mark_up()
            return results

    def replay(self) -> int:
        """Send what the spool holds (``netsword index replay``); returns how many operations went."""
        with self._lock:
            try:
                self._connect()
                sent = self.spool.replay(self._apply, self.config.batch_size)
            except Exception as e:
                if _unavailable(e):
                    raise StoreUnavailable(f"{self.engine} at {self._hosts()} is unreachable ({_reason(e)}); the "
                                           f"spool {self.spool.path} is kept") from e
                raise
            self._mark_up()
            return sent

    def _reading(self, search: bool = False) -> None:
        """Before a read: pending writes out, indices refreshed if a search follows. Within the back-off
        after a failure the read fails at once: a crawl reading per page must not wait on a dead server."""
        with self._lock:
            if time.monotonic() < self._down_until:
                raise self._unreachable()
            if self._sync(force=True) is None:  # a read must see this store's writes: they are in the spool
                raise self._unreachable()
            try:
                self._connect()
                if search and self._dirty:
                    self.es.indices.refresh(index=",".join(self.alias(k) for k in KINDS))
                    self._dirty = False
            except Exception as e:
                if _unavailable(e):
                    raise self._unreachable(e) from e
                raise

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            if _unavailable(e):
                raise self._unreachable(e) from e
            raise

    # ----------------------------------------------------------------- writes

    def start_sweep(self, sweep_id: str, site: str, started_at: str, settings: dict[str, Any]) -> None:
        self._push({"op": "sweep_start", "sweep_id": sweep_id, "site": site, "started_at": started_at,
                    "settings": settings})
        self.flush()

    def finish_sweep(self, sweep_id: str, finished_at: str, stats: dict[str, Any]) -> None:
        self._push({"op": "sweep_finish", "sweep_id": sweep_id, "finished_at": finished_at, "stats": stats})
        self.flush()

    def upsert_listing(self, item: ListingItem) -> None:
        self._push(docs.subject_op(item))

    def upsert_shop(self, item: ShopItem) -> None:
        self._push(docs.subject_op(item))

    def upsert_findings(self, findings: Sequence[Finding]) -> None:
        if findings:
            self._push(docs.findings_op(findings))

    def resolve_findings(self, subject_id: str, keep_ids: Sequence[str], *, kind: str | None = None,
                         at: str = "", sweep_id: str = "") -> int:
        with self._lock:
            results = self._send_now(docs.resolve_op(subject_id, keep_ids, kind, at, sweep_id))
        return results[0] if results else 0

    def _send_now(self, op: dict[str, Any]) -> list[Any] | None:
        """Pending writes out, then ``op`` alone; its results (None if it went to the spool)."""
        with self._lock:
            self._sync(force=True)
            self._ops.append(op)
            return self._sync(force=True)

    def record_snapshot(self, sha256: str, url: str, path: str, fetched_at: str, status: int,
                        sweep_id: str, rendered: bool) -> None:
        self._push({"op": "snapshot", "sha256": sha256, "url": url, "path": path, "fetched_at": fetched_at,
                    "status": status, "sweep_id": sweep_id, "rendered": bool(rendered)})

    def save(self, item: ListingItem | ShopItem, *, resolve: bool = True) -> None:
        """As ``Store.save``, in one go: the resolve step is applied with the batch (no round trip per page)."""
        ops: list[dict[str, Any]] = []
        if item.html_sha256:
            ops.append({"op": "snapshot", "sha256": item.html_sha256, "url": item.url, "path": item.html_path,
                        "fetched_at": item.fetched_at, "status": item.status, "sweep_id": item.sweep_id,
                        "rendered": bool(item.rendered)})
        if item.status < 400:
            ops.append(docs.subject_op(item))
            if item.findings:
                ops.append(docs.findings_op(item.findings))
            if resolve:
                ops.append(docs.resolve_op(item.subject_id, [f.finding_id for f in item.findings], item.kind,
                                           item.fetched_at, item.sweep_id))
        if ops:
            self._push(*ops)

    # crawler side: incremental sweeps
    def put_page_state(self, state: PageState) -> None:
        self._push({"op": "page_state", "state": asdict(state)})

    def mark_seen(self, kind: str, subject_id: str, sweep_id: str, seen_at: str) -> bool:
        """Batched like the other writes: whether the subject is known is read now (pending writes
        first, then one real-time get); while the server is away the answer is optimistic (True)."""
        if kind not in docs.ROOT_KINDS:
            raise ValueError(f"kind must be 'listing' or 'shop', not {kind!r}")
        op = {"op": "mark_seen", "kind": kind, "subject_id": subject_id, "sweep_id": sweep_id, "seen_at": seen_at}
        with self._lock:
            known = any(o["op"] == kind and docs.op_roots(o)[0] == (kind, subject_id) for o in self._ops)
            if not known and time.monotonic() >= self._down_until:
                try:
                    root, _ = self._get_roots([(kind, subject_id)])[(kind, subject_id)]
                    known = root is not None and not root.get("stub")
                except Exception as e:
                    if not _unavailable(e):
                        raise
                    self._mark_down(e)
                    known = True
            elif not known:
                known = True
            if known:
                self._push(op)
            return known

    # analyst side: triage and console users (written at once: they are few and must not wait)
    def set_finding_status(self, finding_ids: Sequence[str], status: str, *,
                           only_from: Sequence[str] | None = None) -> int:
        ids = list(dict.fromkeys(finding_ids))
        if not ids:
            return 0
        with self._lock:
            self._reading()
            found = self._call(self._get_docs, "findings", ids)
            subjects = sorted({(d["subject_kind"], d["subject_id"]) for d in found.values()})
            results = self._send_now({"op": "finding_status", "finding_ids": ids, "status": status,
                                      "only_from": list(only_from) if only_from is not None else None,
                                      "subjects": subjects})
        return results[0] if results else 0

    def add_triage_event(self, event: TriageEvent) -> TriageEvent:
        with self._lock:
            # increasing across processes (microseconds since the epoch), unique within this one
            self._last_event = max(getattr(self, "_last_event", 0) + 1, time.time_ns() // 1000)
            ev = TriageEvent(event.lead_id, event.action, event.value, event.actor, event.at or utc_now(),
                             event.previous, event.finding_id, self._last_event)
            self._send_now({"op": "triage_event", "event": asdict(ev)})
        return ev

    def put_user(self, user: User) -> None:
        with self._lock:
            self._send_now({"op": "user", "user": asdict(user), "at": utc_now()})

    # the scheduler's run records (written at once: a crash right after must not lose them)
    def put_run(self, run: SweepRun) -> None:
        with self._lock:
            self._send_now({"op": "run", "run": asdict(run)})
            self.flush()

    def load(self, records: Iterable[dict[str, Any]]) -> int:
        """Write records of ``transfer.dump`` as they are (``netsword index copy``); returns how many."""
        n = 0
        with self.bulk_load():
            for rec in records:
                self._push({"op": "record", "record": rec})
                n += 1
        return n

    @contextlib.contextmanager
    def bulk_load(self) -> Iterator[ElasticStore]:
        """A large load: the indices' periodic refresh is off (``refresh_interval: -1``) and their translog
        is written to disk every few seconds instead of at every bulk request (``translog.durability:
        async``) while it runs; one refresh at the end makes everything searchable, and each index gets its
        own settings back after. This store's own searches still see its writes (it refreshes before a
        search when it wrote). With the server away the load goes to the spool as always and the settings
        stay as they were."""
        saved = self._bulk_settings_on()
        try:
            yield self
        finally:
            try:
                self.flush()
            finally:
                self._bulk_settings_restore(saved)

    def _bulk_settings_on(self) -> dict[str, dict[str, Any]]:
        """Set ``BULK_SETTINGS`` on this store's indices; returns each index's settings as they were."""
        with self._lock:
            if time.monotonic() < self._down_until:
                return {}
            aliases = ",".join(self.alias(k) for k in KINDS)
            try:
                self._connect()
                got = self.es.indices.get_settings(index=aliases, name=",".join(f"index.{n}" for n in BULK_SETTINGS))
                saved = {index: {n: _setting(body.get("settings") or {}, f"index.{n}", default)
                                 for n, (_, default) in BULK_SETTINGS.items()}
                         for index, body in got.body.items()}
                self.es.indices.put_settings(index=aliases, settings={
                    "index": {n: value for n, (value, _) in BULK_SETTINGS.items()}})
            except Exception as e:
                if not _unavailable(e):
                    raise
                self._mark_down(e)
                return {}
            return saved

    def _bulk_settings_restore(self, saved: dict[str, dict[str, Any]]) -> None:
        """Each index's settings back (None: the engine's default), then one refresh."""
        by_value: dict[tuple[tuple[str, Any], ...], list[str]] = {}
        for index, values in saved.items():
            by_value.setdefault(tuple(sorted(values.items())), []).append(index)
        with self._lock:
            try:
                for values, indices in by_value.items():
                    self.es.indices.put_settings(index=",".join(indices), settings={"index": dict(values)})
                if saved:
                    self.es.indices.refresh(index=",".join(saved))
            except Exception as e:
                if not _unavailable(e):
                    raise
                log.error("%s at %s: the settings of %s could not be set back after a bulk load (%s); set them by "
                          "hand: PUT <index>/_settings {\"index\": {\"refresh_interval\": \"1s\", "
                          "\"translog.durability\": \"request\"}}", self.engine, self._hosts(), ", ".join(saved),
                          _reason(e))

    # ----------------------------------------------------------------- life cycle

    def retry(self) -> None:
        with self._lock:
            self._down_until = 0.0

    def flush(self) -> None:
        """Send everything now (or spool it, if the server is away), then refresh the indices."""
        with self._lock:
            if self._sync(force=True) is not None and self._dirty:
                try:
                    self.es.indices.refresh(index=",".join(self.alias(k) for k in KINDS))
                    self._dirty = False
                except Exception as e:
                    if not _unavailable(e):
                        raise

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.flush()
            self._closed = True
            self.es.close()


def open_elastic(rest: str, flavour: str = "elasticsearch", **kwargs: Any) -> ElasticStore:
    """Factory for ``open_store("elasticsearch://...")`` and ``opensearch://``; keyword arguments override URL
    options."""
    return ElasticStore(ElasticConfig.from_url(rest, flavour=flavour, **kwargs))
