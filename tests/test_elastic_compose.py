"""docker-compose.yml, the Dockerfile, .env and the Kibana saved objects, checked without Docker
(no Docker engine on these machines): what `docker compose up` would need is there and consistent."""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "kibana"))
from make_saved_objects import DATA_VIEWS, saved_objects  # noqa: E402

from pipelines.store.elastic.admin import KINDS, index_template  # noqa: E402


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_services_volumes_and_healthchecks(compose):
    services = compose["services"]
    assert {"elasticsearch", "kibana", "setup", "secrets", "web", "scheduler", "worker"} <= set(services)
    declared = set(compose["volumes"])
    assert {"esdata", "netsword-data", "secrets"} <= declared
    for name, svc in services.items():  # every named volume a service mounts is declared
        for v in svc.get("volumes", []):
            source = v.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, (name, v)
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)  # nothing listens beyond the host
    for name in ("elasticsearch", "kibana", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert services["kibana"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert services["setup"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert services["elasticsearch"]["depends_on"]["secrets"]["condition"] == "service_completed_successfully"
    for name in ("web", "scheduler", "worker"):
        assert services[name]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert services["setup"]["restart"] == services["secrets"]["restart"] == "no"


def test_redis_and_a_scalable_worker_service(compose):
    """`docker compose up --scale worker=4`: workers share the Redis frontier; nothing pins one container."""
    services = compose["services"]
    redis, worker = services["redis"], services["worker"]
    assert redis["healthcheck"]["test"][-1] == "ping" and "redisdata" in compose["volumes"]
    assert not redis.get("ports"), "Redis stays inside the compose network"
    assert worker["command"] == ["netsword", "worker"] and "profiles" not in worker
    assert not worker.get("ports") and "container_name" not in worker  # scaling needs neither
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("web", "scheduler", "worker"):
        assert services[name]["environment"]["NETSWORD_REDIS_URL"] == "redis://redis:6379/0", name


def test_elasticsearch_single_node_with_security_and_the_client_major(compose):
    es = compose["services"]["elasticsearch"]
    env = es["environment"]
    assert env["discovery.type"] == "single-node" and env["xpack.security.enabled"] == "true"
    assert env["ELASTIC_PASSWORD_FILE"].startswith("/secrets/")
    assert "esdata:/usr/share/elasticsearch/data" in es["volumes"]
    version = re.search(r":\$\{STACK_VERSION:-([\d.]+)\}$", es["image"])[1]
    assert compose["services"]["kibana"]["image"].endswith(f":${{STACK_VERSION:-{version}}}")
    assert env_example()["STACK_VERSION"] == version
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    pin = next(line for line in cfg["options"]["install_requires"].splitlines() if line.startswith("elasticsearch"))
    assert pin == f"elasticsearch>={version.split('.')[0]}.13,<{int(version.split('.')[0]) + 1}", pin


def test_netsword_services_share_one_image_and_talk_to_elasticsearch(compose):
    services = compose["services"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "chromium" in dockerfile and "fonts-noto-cjk" in dockerfile
    for name in ("setup", "web", "scheduler", "worker", "secrets"):
        assert services[name]["build"] == "." and services[name]["image"] == "netsword:latest", name
    for name in ("setup", "web", "scheduler", "worker"):
        env = services[name]["environment"]
        assert env["NETSWORD_STORE"].startswith("elasticsearch://elastic@elasticsearch:9200/"), name
        assert env["NETSWORD_ES_PASSWORD_FILE"] == "/secrets/elastic_password"
        assert "netsword-data:/data" in services[name]["volumes"]


def test_referenced_files_and_commands_exist(compose):
    from cli import main

    services = compose["services"]
    for name in ("setup", "secrets"):
        script = services[name]["entrypoint"][-1]
        assert script.startswith("/app/") and (ROOT / script.removeprefix("/app/")).is_file(), script
    setup = (ROOT / "deploy" / "setup.sh").read_text(encoding="utf-8")
    for path in re.findall(r"/app/([\w/.-]+)", setup):
        assert (ROOT / path).exists(), path
    assert "netsword index init" in setup and "_import?overwrite=true" in setup
    for name in ("web", "worker"):
        command = services[name]["command"]
        assert command[0] == "netsword" and command[1] in main.commands, command
    if "schedule" in main.commands:  # the scheduler's own command group (scheduler room)
        assert services["scheduler"]["command"][2] in main.commands["schedule"].commands


def test_secrets_service_generates_missing_passwords_into_env(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("STACK_VERSION=8.15.3\nELASTIC_PASSWORD=\nKIBANA_PASSWORD=given-by-user\n")
    env = {**os.environ, "ENV_FILE": str(project / ".env"), "SECRETS_DIR": str(tmp_path / "secrets"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    for _ in range(2):  # a second run changes nothing
        proc = subprocess.run(["sh", str(ROOT / "deploy" / "secrets.sh")], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    values = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines())
    assert len(values["ELASTIC_PASSWORD"]) >= 32 and values["KIBANA_PASSWORD"] == "given-by-user"
    assert len(values["KIBANA_ENCRYPTION_KEY"]) >= 32
    assert (tmp_path / "secrets" / "elastic_password").read_text() == values["ELASTIC_PASSWORD"]
    assert (tmp_path / "secrets" / "kibana_password").read_text() == "given-by-user"


def test_kibana_saved_objects_parse_and_reference_existing_data_views():
    lines = (ROOT / "deploy" / "kibana" / "netsword.ndjson").read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert objects == saved_objects("netsword")  # the shipped file is the generator's output
    by_type: dict[str, dict[str, dict]] = {}
    for o in objects:
        by_type.setdefault(o["type"], {})[o["id"]] = o
    views = by_type["index-pattern"]
    assert set(views) == {f"netsword-{k}" for k in KINDS if k != "users"}  # one per index, no password hashes
    for vid, view in views.items():  # the time field exists in the index template, as a date
        props = index_template(vid.removeprefix("netsword-"))[1]["template"]["mappings"]["properties"]
        assert props[view["attributes"]["timeFieldName"]]["type"] == "date", vid
    findings = index_template("findings")[1]["template"]["mappings"]["properties"]
    for vis in by_type["visualization"].values():
        (ref,) = vis["references"]
        assert ref["id"] in views and ref["type"] == "index-pattern"
        state = json.loads(vis["attributes"]["visState"])
        for agg in state["aggs"]:
            field = agg["params"].get("field")
            if field:
                top, _, sub = field.partition(".")
                assert top in findings and (not sub or sub in findings[top]["fields"]), field
    (dash,) = by_type["dashboard"].values()
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dash["references"]}
    assert len(panels) == 3
    for p in panels:
        ref = refs[f"{p['panelIndex']}:{p['panelRefName']}"]
        assert ref["id"] in by_type["visualization"]
    assert set(DATA_VIEWS) == {k for k in KINDS if k != "users"}
