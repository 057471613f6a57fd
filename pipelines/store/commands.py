"""`netsword index ...`: the Elasticsearch indices (templates, aliases, migrations, spool) and copies between engines.

The store is ``--store`` or the configured one (``$NETSWORD_STORE``, the config file's ``store:``;
see ``netsword.config``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from typing import Any

import click

_STORE = click.option("--store", "store_url", default=None, metavar="URL",
                      help="elasticsearch://[user:pass@]host:9200[/prefix] or opensearch://... "
                           "(default: $NETSWORD_STORE or the config file)")


def elastic_store(store_url: str | None) -> Any:
    from netsword.config import store_url as configured_store_url
    from pipelines.store import open_store
    from pipelines.store.elastic import ElasticStore

    url = store_url or configured_store_url()
    if not url.startswith(("elasticsearch://", "opensearch://")):
        raise click.UsageError(f"the store is {url!r}: pass --store elasticsearch://host:9200 or set "
                               "NETSWORD_STORE=elasticsearch://host:9200")
    store = open_store(url, auto_replay=False)  # only `replay` sends the spool
    assert isinstance(store, ElasticStore)
    return store


def _quiet_transport() -> None:
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    logging.getLogger("opensearch").setLevel(logging.ERROR)


@click.group("index")
def index() -> None:
    """Elasticsearch indices: init, status, migrate, replay the spool, leads for Kibana, copy between engines."""
    _quiet_transport()


@index.command("init")
@_STORE
def init(store_url: str | None) -> None:
    """Create the index templates, and an index behind every alias that has none (idempotent)."""
    from pipelines.store.elastic.admin import ensure_indices, put_templates

    store = elastic_store(store_url)
    try:
        names = put_templates(store.es, store.prefix)
        created = ensure_indices(store.es, store.prefix, templates=False)
    finally:
        store.close()
    click.echo(f"templates: {', '.join(names)}")
    click.echo(f"indices created: {', '.join(created) or 'none (all aliases in place)'}")


@index.command("status")
@_STORE
def status(store_url: str | None) -> None:
    """Aliases, the index behind each, document counts, mapping versions, spooled operations."""
    from pipelines.store.elastic.admin import status as index_status

    store = elastic_store(store_url)
    try:
        rows = index_status(store.es, store.prefix)
    finally:
        store.close()
    width = max(len(r.alias) for r in rows)
    for r in rows:
        if r.index is None:
            click.echo(f"{r.alias:<{width}}  missing (run `netsword index init`)")
            continue
        line = f"{r.alias:<{width}} -> {r.index}  {r.docs} docs  mapping v{r.mapping_version}"
        if r.needs_migration:
            line += f" < template v{r.template_version} (run `netsword index migrate`)"
        if r.other_indices:
            line += f"  older: {', '.join(r.other_indices)}"
        click.echo(line)
    click.echo(f"spool {store.spool.path}: {store.spool.pending()} operations waiting, "
                  f"{store.spool.rejected()} refused (in {store.spool.rejected_path.name})")


@index.command("migrate")
@_STORE
@click.option("--force", is_flag=True, help="move every alias to a new index even if its mapping is current")
@click.option("--delete-old", is_flag=True, help="delete the old index after the alias moved")
@click.option("--kind", "kinds", multiple=True, help="only these aliases (listings, shops, findings, ...)")
def migrate(store_url: str | None, force: bool, delete_old: bool, kinds: tuple[str, ...]) -> None:
    """New index from the current template + reindex + atomic alias swap (stop sweeps meanwhile)."""
    from pipelines.store.elastic.admin import KINDS
    from pipelines.store.elastic.admin import migrate as run_migrate

    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise click.UsageError(f"unknown kind(s) {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")
    store = elastic_store(store_url)
    try:
        store.flush()
        done = run_migrate(store.es, store.prefix, kinds=kinds or KINDS, force=force, delete_old=delete_old)
    finally:
        store.close()
    if not done:
        click.echo("every alias already uses the current mapping (--force to rebuild anyway)")
    for m in done:
        click.echo(f"{m.alias}: {m.old_index or '(none)'} -> {m.new_index}, {m.copied} documents"
                      + (", old index deleted" if m.deleted_old else ""))


@index.command("replay")
@_STORE
def replay(store_url: str | None) -> None:
    """Send the operations spooled while Elasticsearch was unreachable."""
    from pipelines.store.elastic import StoreUnavailable

    store = elastic_store(store_url)
    try:
        waiting = store.spool.pending()
        n = store.replay()
        store.flush()
    except StoreUnavailable as e:
        raise click.ClickException(str(e)) from e
    except Exception as e:
        if e.__class__.__module__.startswith("elastic"):
            raise click.ClickException(f"Elasticsearch refused the replay ({e}); the spool "
                                       f"{store.spool.path} keeps what was not sent") from e
        raise
    finally:
        store.close()
    click.echo(f"{n} of {waiting} spooled operations sent from {store.spool.path}"
                  + (f"; {store.spool.rejected()} refused, see {store.spool.rejected_path}"
                     if store.spool.rejected() else ""))


@index.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="store to read (sqlite:///... or elasticsearch://...)")
@click.option("--to", "target", required=True, metavar="URL", help="store to write")
def copy(source: str, target: str) -> None:
    """Copy everything one store keeps into another (SQLite -> Elasticsearch and back)."""
    from pipelines.store import open_store
    from pipelines.store.transfer import dump, load

    if source == target:
        raise click.UsageError("--from and --to are the same store")
    src, dst = open_store(source), open_store(target)
    seen: Counter[str] = Counter()

    def counted():
        for rec in dump(src):
            seen[rec["type"]] += 1
            yield rec

    try:
        n = load(dst, counted())
        dst.flush()
        before, after = src.counts(), dst.counts()
    finally:
        src.close()
        dst.close()
    click.echo(f"{n} records copied: " + ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))
    keys = ("listings", "shops", "findings", "resolved", "listing_versions", "snapshots", "sweeps")
    for label, c in (("from", before), ("to", after)):
        click.echo(f"{label:>4}: " + ", ".join(f"{k} {c[k]}" for k in keys))
    if any(after[k] < before[k] for k in keys):
        click.echo(json.dumps({"from": before, "to": after}, ensure_ascii=False), err=True)
        sys.exit("the target holds less than the source: see the counts above")
