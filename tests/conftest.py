"""Shared fixtures: the demo marketplace on 127.0.0.1 and a finished demo sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, home: Path, stdin: str | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real `netsword` command (same interpreter) with its data under ``home``."""
    env = {**os.environ, "NETSWORD_HOME": str(home)}
    env.pop("NETSWORD_STORE", None)
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def demo_server():
    from crawler.demo.server import DemoServer

    with DemoServer() as server:
        yield server


@pytest.fixture(scope="session")
def demo_sweep(demo_server, tmp_path_factory):
    """One full sweep of the demo site (HTTP + browser pages) into a fresh embedded store."""
    home = tmp_path_factory.mktemp("demo-home")
    proc = run_cli("crawl", "--site", "demo", "--base-url", demo_server.url, "--sweep-id", "demo-e2e", home=home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"home": home, "db": home / "netsword.db", "stdout": proc.stdout, "stderr": proc.stderr,
            "sweep_id": "demo-e2e"}


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))
