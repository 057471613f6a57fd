"""Problems a user can fix are one clear line and a non-zero exit, never a traceback (issue 12, item 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import ROOT
from leads_fixtures import free_port

#: every command that reads or writes the store, with arguments that get it that far
STORE_COMMANDS = [
    ("search", "高仿"),
    ("search", "--json"),
    ("export", "-o", "{tmp}/out.xlsx"),
    ("export", "--format", "zip", "-o", "{tmp}/out.zip"),
    ("report", "--campaign", "2026-netsword"),
    ("rules", "stats"),
    ("rescan", "--dry-run"),
    ("user", "list"),
    ("user", "add", "ana", "--password-stdin"),
    ("user", "disable", "ana"),
    ("serve", "--port", "{port}"),
    ("schedule", "history"),
    ("index", "status"),
    ("index", "init"),
    ("index", "migrate"),
    ("index", "replay"),
    ("index", "leads"),
]


def run(args: tuple[str, ...], home: Path, store: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "NETSWORD_HOME": str(home), "NETSWORD_STORE": store, **env}
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=environment, input="password-1\n",
                          capture_output=True, text=True, timeout=120)


def assert_one_clear_problem(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode not in (0, None), proc.stdout
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 4, proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_store_command_with_elasticsearch_down(args, tmp_path):
    port = free_port()  # nothing listens there
    args = tuple(a.format(tmp=tmp_path, port=free_port()) for a in args)
    proc = run(args, tmp_path, f"elasticsearch://127.0.0.1:{port}")
    assert_one_clear_problem(proc, f"127.0.0.1:{port}")
    assert "NETSWORD_STORE" in proc.stderr or "spool" in proc.stderr, proc.stderr  # and what to do


@pytest.mark.parametrize("args", [a for a in STORE_COMMANDS if a[0] != "index"], ids=lambda a: " ".join(a[:2]))
def test_every_store_command_with_an_unusable_sqlite_file(args, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be", encoding="utf-8")
    args = tuple(a.format(tmp=tmp_path, port=free_port()) for a in args)
    proc = run(args, tmp_path, f"sqlite:///{blocked}/netsword.db")
    assert_one_clear_problem(proc, "SQLite")


def test_a_broken_rule_pack_stops_a_crawl_before_it_starts(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "p.yml").write_text("pack: p\nversion: '1'\nrules:\n  - {id: x, any: [a, }\n", encoding="utf-8")
    proc = run(("crawl", "--site", "demo", "--base-url", f"http://127.0.0.1:{free_port()}"), tmp_path,
               f"sqlite:///{tmp_path}/netsword.db", NETSWORD_RULES_DIR=str(rules))
    assert_one_clear_problem(proc, "p.yml:4")
    assert not (tmp_path / "jobs" / "demo").exists()  # no unfinished job left behind


def test_a_profile_without_base_url_says_how_to_give_one(tmp_path):
    sites = tmp_path / "sites"
    sites.mkdir()
    demo = (ROOT / "crawler" / "sites" / "demo.yml").read_text(encoding="utf-8")
    profile = "\n".join(line for line in demo.splitlines() if not line.startswith("base_url:"))
    (sites / "demo.yml").write_text(profile, encoding="utf-8")
    proc = run(("crawl", "--site", "demo"), tmp_path, f"sqlite:///{tmp_path}/netsword.db",
               NETSWORD_SITES_DIR=str(sites))
    assert_one_clear_problem(proc, "demo.yml", "--base-url")
    assert "--resume" not in proc.stderr and not (tmp_path / "jobs" / "demo").exists()


def test_a_site_that_is_down_fails_in_a_few_lines(tmp_path):
    proc = run(("crawl", "--site", "demo", "--base-url", f"http://127.0.0.1:{free_port()}", "-s", "RETRY_TIMES=0"),
               tmp_path, f"sqlite:///{tmp_path}/netsword.db")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "is down" in proc.stderr, proc.stderr[-2000:]


def test_a_broken_config_file_is_one_line(tmp_path):
    (tmp_path / "netsword.yml").write_text("store: [sqlite\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "NETSWORD_STORE"}
    proc = subprocess.run([sys.executable, "-m", "cli", "search", "x"], cwd=ROOT, capture_output=True, text=True,
                          env={**env, "NETSWORD_HOME": str(tmp_path)}, timeout=60)
    assert_one_clear_problem(proc, "netsword.yml:2")
