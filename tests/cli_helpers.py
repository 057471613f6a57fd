"""Helpers shared by tests that run the real `netsword` command (imported as a module, not from
conftest, so that tests/store_contract/conftest.py cannot shadow them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, home: Path, stdin: str | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real `netsword` command (same interpreter) with its data under ``home``."""
    env = {**os.environ, "NETSWORD_HOME": str(home)}
    env.pop("NETSWORD_STORE", None)
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)
