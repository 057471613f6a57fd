"""The Elasticsearch stand-in for tests: the ``noida-db`` binary (PyPI) speaking the ES 8 HTTP API.

It is a test double for a real Elasticsearch, which cannot be installed on these machines: it
reports version 8.15 and serves bulk, mappings, templates, aliases, aggregations, PIT. It keeps
its data in memory and writes it to ``--data-dir`` on a graceful stop (SIGTERM/SIGINT), so a
restart on the same directory finds what was acknowledged. Set ``NETSWORD_TEST_ES_URL`` to run
the same tests against a real Elasticsearch instead. The real engine the tests start themselves is
OpenSearch (``realengine``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REAL_ES_URL = os.environ.get("NETSWORD_TEST_ES_URL", "")


class StandInUnavailable(RuntimeError):
    """The stand-in binary is missing or does not start on this machine."""


def binary() -> Path:
    try:
        from importlib.resources import files

        path = Path(str(files("noida_db").joinpath("noida-db")))
    except ModuleNotFoundError as e:
        raise StandInUnavailable("the noida-db package is not installed (pip install -e '.[test]')") from e
    if not path.is_file():
        raise StandInUnavailable(f"noida-db binary not found at {path}")
    path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    """One stand-in process on 127.0.0.1:<port> with its data in ``data_dir``; restartable."""

    scheme = "elasticsearch"
    name = "noida-db stand-in"

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.data_dir / "standin.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> StandIn:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(binary()), "start", "--only", "elasticsearch", "--data-dir", str(self.data_dir),
               "--host", "127.0.0.1", "--elasticsearch-port", str(self.port)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StandInUnavailable(f"noida-db exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise StandInUnavailable(f"noida-db did not answer on {self.url} within {timeout:.0f} s: "
                                 f"{self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Stop the process (SIGTERM: graceful, the data is written to the data dir)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def es_store_url(es_url: str, prefix: str, spool, scheme: str = "elasticsearch") -> str:
    """``elasticsearch://...`` (or ``opensearch://``) for ``es_url`` (http[s]://[user:pass@]host:port) with an
    index prefix."""
    http, rest = es_url.split("://", 1)
    query = f"?spool={spool}" + ("&scheme=https&verify_certs=0" if http == "https" else "")
    return f"{scheme}://{rest}/{prefix}{query}"


def store_url(server, prefix: str, spool) -> str:
    """The store URL for ``server`` (anything with ``url`` and ``scheme``) and an index prefix."""
    return es_store_url(server.url, prefix, spool, server.scheme)


def drop_prefix(s, prefix: str) -> None:
    """Delete the indices and templates of ``prefix`` on the server of store ``s``."""
    from pipelines.store.elastic.admin import drop_all
    from pipelines.store.elastic.flavour import make_client

    cfg = s.config
    es = make_client(cfg.flavour, cfg.hosts, username=cfg.username, password=cfg.password, timeout=30,
                     verify_certs=cfg.verify_certs, ca_certs=cfg.ca_certs)
    try:
        drop_all(es, prefix)
    finally:
        es.close()
