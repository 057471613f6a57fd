"""The configuration room (netsword.config): one place, one precedence, no dependence on the current folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netsword import config
from netsword.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
VARS = ("NETSWORD_HOME", "NETSWORD_CONFIG", "NETSWORD_STORE", "EVIDENCE_DIR", "NETSWORD_RULES_DIR",
        "NETSWORD_SITES_DIR", "NETSWORD_CAMPAIGNS", "NETSWORD_JOBS_DIR")


@pytest.fixture
def clean_env(monkeypatch):
    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_precedence_defaults_file_environment_command_line(clean_env, tmp_path):
    clean_env.setenv("NETSWORD_HOME", str(tmp_path))
    cfg = config.current()
    assert cfg.store_url == f"sqlite:///{tmp_path / 'netsword.db'}"  # default
    assert cfg.evidence_dir == tmp_path / "evidence" and cfg.rules_dir == ROOT / "rules"

    (tmp_path / "netsword.yml").write_text("store: sqlite:///from-file.db\nevidence_dir: proof\n", encoding="utf-8")
    cfg = config.current()
    assert cfg.store_url == "sqlite:///from-file.db"  # the file beats the default
    assert cfg.evidence_dir == tmp_path / "proof"  # relative to the file's folder

    clean_env.setenv("NETSWORD_STORE", "sqlite:///from-env.db")
    assert config.current().store_url == "sqlite:///from-env.db"  # the environment beats the file
    assert config.current().evidence_dir == tmp_path / "proof"

    got = config.current(store_url="sqlite:///from-cli.db", evidence_dir=tmp_path / "cli-proof")
    assert got.store_url == "sqlite:///from-cli.db" and got.evidence_dir == tmp_path / "cli-proof"  # command line wins


def test_a_broken_config_file_names_file_and_line(clean_env, tmp_path):
    clean_env.setenv("NETSWORD_HOME", str(tmp_path))
    (tmp_path / "netsword.yml").write_text("store: sqlite:///a.db\nevidence_dir: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"netsword\.yml:3:1: YAML .* syntax error"):
        config.current()
    (tmp_path / "netsword.yml").write_text("stor: sqlite:///a.db\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"netsword\.yml:1:1: unknown key\(s\) stor"):
        config.current()


def test_the_data_home_does_not_depend_on_the_current_folder(tmp_path):
    """`netsword search` run from another folder reads the store `make demo` filled (<checkout>/var)."""
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    code = "from netsword import config; c = config.current(); print(c.home); print(c.store_url)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == str(ROOT / "var")
    assert out[1] == f"sqlite:///{ROOT / 'var' / 'netsword.db'}"
    assert not (tmp_path / "var").exists()


def test_scrapy_settings_and_the_cli_agree_on_the_store(clean_env, tmp_path):
    """`scrapy crawl listing -a site=demo` writes where `netsword crawl` does."""
    clean_env.setenv("NETSWORD_HOME", str(tmp_path))
    code = "import crawler.settings as s; print(s.STORE_URL); print(s.EVIDENCE_DIR)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == config.current().store_url and out[1] == str(config.current().evidence_dir)
