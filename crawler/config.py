"""Where netsword keeps its data, and environment overrides for settings."""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root (the folder holding rules/, crawler/, pipelines/).
ROOT = Path(__file__).resolve().parents[1]


def env_setting(name: str, default: str) -> str:
    """The environment variable ``name`` if set, else ``default``."""
    return os.environ.get(name) or default


def sites_dir() -> Path:
    return Path(os.environ.get("NETSWORD_SITES_DIR") or ROOT / "crawler" / "sites")
