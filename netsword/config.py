"""The configuration room: every path netsword uses and the store URL, resolved in one place.

Precedence, lowest first: **defaults < config file < environment < command line**.

=================  ======================  ==========================  ===============================
what               environment             config file key             default
=================  ======================  ==========================  ===============================
data home          ``NETSWORD_HOME``       (none: it holds the file)   ``<checkout>/var`` when run from a
                                                                       source checkout, else
                                                                       ``$XDG_DATA_HOME/netsword``
config file        ``NETSWORD_CONFIG``     (none)                      ``<home>/netsword.yml``
store URL          ``NETSWORD_STORE``      ``store``                   ``sqlite:///<home>/netsword.db``
evidence           ``EVIDENCE_DIR``        ``evidence_dir``            ``<home>/evidence``
rule packs         ``NETSWORD_RULES_DIR``  ``rules_dir``               ``<checkout>/rules``
site profiles      ``NETSWORD_SITES_DIR``  ``sites_dir``               ``<checkout>/crawler/sites``
campaigns          ``NETSWORD_CAMPAIGNS``  ``campaigns_dir``           ``<checkout>/campaigns``
job folders        ``NETSWORD_JOBS_DIR``   ``jobs_dir``                ``<home>/jobs``
cache (jieba ...)  ``NETSWORD_CACHE_DIR``  ``cache_dir``               ``~/.cache/netsword`` (else a temp dir)
unit's keys        ``NETSWORD_KEYS_DIR``   ``keys_dir``                ``<home>/keys`` (``--keys-dir``)
TSA URL            ``NETSWORD_TSA_URL``    ``tsa_url``                 none: times are the machine's own
                                                                       (``evidence stamp --tsa-url``)
TSA chain (PEM)    ``NETSWORD_TSA_CERTS``  ``tsa_certs``               none (``evidence verify --tsa-certs``)
exit IP            ``NETSWORD_EXIT_IP``    ``exit_ip``                 none (the extraction record says
                                                                       it is not known)
daily re-check     ``NETSWORD_RECHECK_AT`` ``recheck_at``              ``09:30`` (Beijing; ``off``: none)
=================  ======================  ==========================  ===============================

The unit's keys sign each sweep's manifest and each evidence bundle; the TSA (RFC 3161) stamps
them with a trusted time, and its certificate chain lets ``netsword evidence verify`` check the
stamps offline (:mod:`pipelines.evidence.seal`).

The data home never depends on the current folder: ``netsword search`` run from anywhere sees
the store ``make demo`` filled, and ``scrapy crawl listing -a site=demo`` writes where
``netsword crawl`` does. Relative paths in the config file are relative to the file's folder;
relative paths in the environment to the current folder (as a shell user expects). Command-line
options win over all of these: commands pass them to :func:`current` as ``overrides``.

The config file (YAML mapping) is read once per process and again only when it changes.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from netsword.yamlsource import SourceError, SourceLocation, YMap, parse_yaml

#: The source checkout (the folder holding rules/, crawler/, pipelines/).
ROOT = Path(__file__).resolve().parents[1]

#: config file key -> (Config field, environment variable)
KEYS: dict[str, tuple[str, str]] = {
    "store": ("store_url", "NETSWORD_STORE"),
    "evidence_dir": ("evidence_dir", "EVIDENCE_DIR"),
    "rules_dir": ("rules_dir", "NETSWORD_RULES_DIR"),
    "sites_dir": ("sites_dir", "NETSWORD_SITES_DIR"),
    "campaigns_dir": ("campaigns_dir", "NETSWORD_CAMPAIGNS"),
    "jobs_dir": ("jobs_dir", "NETSWORD_JOBS_DIR"),
    "cache_dir": ("cache_dir", "NETSWORD_CACHE_DIR"),
    "keys_dir": ("keys_dir", "NETSWORD_KEYS_DIR"),
    "tsa_url": ("tsa_url", "NETSWORD_TSA_URL"),
    "tsa_certs": ("tsa_certs", "NETSWORD_TSA_CERTS"),
    "exit_ip": ("exit_ip", "NETSWORD_EXIT_IP"),
    "recheck_at": ("recheck_at", "NETSWORD_RECHECK_AT"),
}

#: Config fields that are text (URLs), not paths
TEXT_FIELDS = frozenset({"store_url", "tsa_url", "exit_ip", "recheck_at"})


class ConfigError(SourceError):
    """The config file cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Config:
    """Resolved paths and store URL (see the module docstring for where each comes from)."""

    home: Path
    config_file: Path
    store_url: str
    evidence_dir: Path
    rules_dir: Path
    sites_dir: Path
    campaigns_dir: Path
    jobs_dir: Path
    cache_dir: Path
    keys_dir: Path
    tsa_url: str = ""
    tsa_certs: Path | None = None
    exit_ip: str = ""  # the address sites see this machine as (proxy / NAT), for the extraction record
    recheck_at: str = "09:30"  # the scheduler's daily re-check (HH:MM, campaign time zone); "off": none

    def job_dir(self, site: str) -> Path:
        """A site's Scrapy ``JOBDIR`` (frontier, disk queue, sweep.json)."""
        return self.jobs_dir / site

    @property
    def locks_dir(self) -> Path:
        return self.home / "locks"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"


def _is_checkout(root: Path) -> bool:
    return (root / "setup.cfg").is_file() and (root / "rules").is_dir()


def default_home() -> Path:
    """``<checkout>/var`` when running from a source checkout, else ``$XDG_DATA_HOME/netsword``."""
    if _is_checkout(ROOT):
        return ROOT / "var"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "netsword"


_file_cache: dict[Path, tuple[float, dict[str, Any]]] = {}


def read_config_file(path: Path) -> dict[str, Any]:
    """The config file's mapping ({} when there is none), cached until the file changes."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    cached = _file_cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"), str(path), syntax_error=ConfigError,
                          schema_error=ConfigError) or {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", SourceLocation(str(path))) from e
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping such as 'store: elasticsearch://localhost:9200'",
                          SourceLocation(str(path), 1))
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}",
                          data.name_loc[unknown[0]] if isinstance(data, YMap) else SourceLocation(str(path)))
    _file_cache[path] = (mtime, data)
    return data


def _writable_cache(candidate: Path | None) -> Path:
    for cand in (candidate, Path.home() / ".cache" / "netsword"):
        if cand is None:
            continue
        try:
            cand.mkdir(parents=True, exist_ok=True)
            if os.access(cand, os.W_OK):
                return cand
        except OSError:
            continue
    p = Path(tempfile.gettempdir()) / "netsword-cache"
    p.mkdir(parents=True, exist_ok=True)
    return p


def current(**overrides: Any) -> Config:
    """The configuration now: defaults < config file < environment < ``overrides`` (command line).

    ``overrides`` are Config field names (``store_url=...``, ``evidence_dir=...``); None means
    "not given".
    """
    env = os.environ
    home = Path(overrides.get("home") or env.get("NETSWORD_HOME") or default_home()).resolve()
    config_file = Path(env.get("NETSWORD_CONFIG") or home / "netsword.yml").resolve()
    data = read_config_file(config_file)
    defaults: dict[str, Any] = {
        "store_url": f"sqlite:///{home / 'netsword.db'}",
        "evidence_dir": home / "evidence",
        "rules_dir": ROOT / "rules",
        "sites_dir": ROOT / "crawler" / "sites",
        "campaigns_dir": ROOT / "campaigns",
        "jobs_dir": home / "jobs",
        "cache_dir": None,
        "keys_dir": home / "keys",
        "tsa_url": "",
        "tsa_certs": None,
        "exit_ip": "",
        "recheck_at": "09:30",
    }
    values: dict[str, Any] = dict(defaults)
    for key, (name, var) in KEYS.items():
        if data.get(key):
            raw = str(data[key])
            values[name] = raw if name in TEXT_FIELDS else (config_file.parent / raw).resolve()
        if env.get(var):
            values[name] = env[var] if name in TEXT_FIELDS else Path(env[var]).resolve()
    for name, value in overrides.items():
        if name != "home" and value is not None:
            values[name] = str(value) if name in TEXT_FIELDS else Path(value).resolve()
    values["cache_dir"] = _writable_cache(values["cache_dir"])
    known = {f.name for f in fields(Config)}
    return Config(home=home, config_file=config_file, **{k: v for k, v in values.items() if k in known})


# Short names for the common questions (each reads the configuration now).


def data_home() -> Path:
    return current().home


def store_url(override: str | None = None) -> str:
    return current(store_url=override).store_url


def evidence_dir(override: str | Path | None = None) -> Path:
    return current(evidence_dir=override).evidence_dir


def rules_dir() -> Path:
    return current().rules_dir


def sites_dir() -> Path:
    return current().sites_dir


def campaigns_dir() -> Path:
    return current().campaigns_dir


def job_dir(site: str) -> Path:
    return current().job_dir(site)


def cache_dir() -> Path:
    return current().cache_dir


__all__ = ["KEYS", "ROOT", "Config", "ConfigError", "cache_dir", "campaigns_dir", "current", "data_home",
           "default_home", "evidence_dir", "job_dir", "read_config_file", "rules_dir",
           "sites_dir", "store_url"]
