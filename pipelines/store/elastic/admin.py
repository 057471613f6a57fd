"""Index templates, versioned indices behind aliases, and mapping migrations for the Elasticsearch engine.

Every kind of document (listings, shops, findings, versions, snapshots, sweeps, leads, page
states, the triage trail, console users, sweep runs) has

* a composable index template ``<prefix>-<kind>`` (``templates/<kind>.json``, composed of the
  component template ``<prefix>-settings`` from ``templates/component-settings.json``), whose
  ``_meta.mapping_version`` says which mapping it carries;
* concrete indices ``<prefix>-<kind>-000001``, ``-000002`` ... created from that template;
* an alias ``<prefix>-<kind>`` pointing at exactly one of them (the write index). netsword only
  ever talks to the alias.

A mapping change is a new template version: ``migrate()`` creates the next index, copies the
documents with ``_reindex``, checks the counts and swaps the alias in one atomic request
(``netsword index migrate``). Stop sweeps while it runs: writes that arrive during the copy
land in the old index.

The JSON files are written for the default prefix ``netsword``; another prefix replaces the
leading ``netsword-`` of the template names, patterns and ``composed_of`` entries.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).with_name("templates")
DEFAULT_PREFIX = "netsword"
#: Document kinds, each with its template file, alias and indices.
KINDS: tuple[str, ...] = ("listings", "shops", "findings", "versions", "snapshots", "sweeps", "leads", "pages",
                          "triage", "users", "runs")
_INDEX_RE = re.compile(r"^(?P<alias>.+)-(?P<n>\d{6})$")


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((TEMPLATES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _prefixed(value: str, prefix: str) -> str:
    return prefix + value[len(DEFAULT_PREFIX):] if value.startswith(DEFAULT_PREFIX + "-") else value


def component_template(prefix: str = DEFAULT_PREFIX) -> tuple[str, dict[str, Any]]:
    """(name, body) of the shared settings component template."""
    return f"{prefix}-settings", copy.deepcopy(_load("component-settings"))


def index_template(kind: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, dict[str, Any]]:
    """(name, body) of the composable index template for ``kind``, adapted to ``prefix``."""
    body = copy.deepcopy(_load(kind))
    body["index_patterns"] = [_prefixed(p, prefix) for p in body["index_patterns"]]
    body["composed_of"] = [_prefixed(c, prefix) for c in body.get("composed_of", [])]
    return f"{prefix}-{kind}", body


def mapping_version(kind: str) -> int:
    return int(_load(kind)["_meta"]["mapping_version"])


def alias_name(kind: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}-{kind}"


@dataclass
class IndexStatus:
    kind: str
    alias: str
    index: str | None  # the concrete index behind the alias, None if missing
    docs: int | None
    mapping_version: int | None  # of the live index
    template_version: int  # what the shipped template carries
    other_indices: list[str]

    @property
    def needs_migration(self) -> bool:
        return self.index is not None and (self.mapping_version or 0) < self.template_version


def put_templates(es: Any, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Create or update the component template and every index template; returns their names."""
    name, body = component_template(prefix)
    es.cluster.put_component_template(name=name, **body)
    names = [name]
    for kind in KINDS:
        tname, tbody = index_template(kind, prefix)
        es.indices.put_index_template(name=tname, **tbody)
        names.append(tname)
    return names


def _indices_of(es: Any, alias: str) -> list[str]:
    """Concrete indices named ``<alias>-NNNNNN``, oldest first."""
    got = es.indices.get(index=f"{alias}-*", ignore_unavailable=True, allow_no_indices=True).body
    return sorted(i for i in got if (m := _INDEX_RE.match(i)) and m["alias"] == alias)


def _alias_target(es: Any, alias: str) -> str | None:
    if not es.indices.exists_alias(name=alias):
        return None
    targets = list(es.indices.get_alias(name=alias).body)
    return sorted(targets)[-1] if targets else None


def _next_index(alias: str, existing: list[str]) -> str:
    last = max((int(_INDEX_RE.match(i)["n"]) for i in existing), default=0)  # type: ignore[index]
    return f"{alias}-{last + 1:06d}"


def ensure_indices(es: Any, prefix: str = DEFAULT_PREFIX, *, templates: bool = True) -> list[str]:
    """Templates, plus an index behind every alias that has none; returns the indices created."""
    if templates:
        put_templates(es, prefix)
    created = []
    for kind in KINDS:
        alias = alias_name(kind, prefix)
        if _alias_target(es, alias) is not None:
            continue
        index = _next_index(alias, _indices_of(es, alias))
        es.indices.create(index=index, aliases={alias: {"is_write_index": True}})
        created.append(index)
        log.info("created index %s behind alias %s", index, alias)
    return created


def status(es: Any, prefix: str = DEFAULT_PREFIX) -> list[IndexStatus]:
    out = []
    for kind in KINDS:
        alias = alias_name(kind, prefix)
        index = _alias_target(es, alias)
        docs = version = None
        if index is not None:
            docs = int(es.count(index=index)["count"])
            meta = es.indices.get_mapping(index=index).body[index]["mappings"].get("_meta") or {}
            version = int(meta.get("mapping_version", 0))
        others = [i for i in _indices_of(es, alias) if i != index]
        out.append(IndexStatus(kind, alias, index, docs, version, mapping_version(kind), others))
    return out


@dataclass
class Migration:
    kind: str
    alias: str
    old_index: str | None
    new_index: str
    copied: int
    deleted_old: bool


def migrate(es: Any, prefix: str = DEFAULT_PREFIX, *, kinds: tuple[str, ...] = KINDS, force: bool = False,
            delete_old: bool = False) -> list[Migration]:
    """Bring every alias onto an index made from the current template: new index + reindex + alias swap.

    Only aliases whose live mapping version is older than the template's move, unless ``force``.
    """
    put_templates(es, prefix)
    done = []
    for kind in kinds:
        alias = alias_name(kind, prefix)
        old = _alias_target(es, alias)
        if old is not None and not force:
            meta = es.indices.get_mapping(index=old).body[old]["mappings"].get("_meta") or {}
            if int(meta.get("mapping_version", 0)) >= mapping_version(kind):
                continue
        new = _next_index(alias, _indices_of(es, alias))
        es.indices.create(index=new)
        copied = 0
        if old is not None:
            es.indices.refresh(index=old)
            res = es.reindex(source={"index": old}, dest={"index": new}, wait_for_completion=True, refresh=True)
            if res.get("failures"):
                es.indices.delete(index=new)
                raise RuntimeError(f"reindex {old} -> {new} failed: {res['failures'][:3]}")
            copied = int(es.count(index=new)["count"])
            expected = int(es.count(index=old)["count"])
            if copied != expected:
                es.indices.delete(index=new)
                raise RuntimeError(f"reindex {old} -> {new} copied {copied} of {expected} documents; alias unchanged")
        actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": alias, "is_write_index": True}}]
        if old is not None:
            actions.insert(0, {"remove": {"index": old, "alias": alias}})
        es.indices.update_aliases(actions=actions)
        if old is not None and delete_old:
            es.indices.delete(index=old)
        log.info("migrated %s: %s -> %s (%d documents)", alias, old, new, copied)
        done.append(Migration(kind, alias, old, new, copied, bool(old and delete_old)))
    return done


def drop_all(es: Any, prefix: str) -> None:
    """Delete every index and template of ``prefix`` (tests and `netsword index drop`)."""
    for kind in KINDS:
        alias = alias_name(kind, prefix)
        for index in _indices_of(es, alias):
            es.indices.delete(index=index, ignore_unavailable=True)
        if es.indices.exists_index_template(name=alias):
            es.indices.delete_index_template(name=alias)
    name = f"{prefix}-settings"
    if es.cluster.exists_component_template(name=name):
        es.cluster.delete_component_template(name=name)
