"""A real RFC 3161 time-stamping authority on 127.0.0.1 for tests: OpenSSL's own ``openssl ts -reply``.

At start it makes, with the ``openssl`` command in a temporary folder, a test CA (self-signed) and
a TSA certificate issued by it with ``extendedKeyUsage = critical, timeStamping``, writes a
minimal ``[tsa]`` section for ``openssl ts -reply``, and serves ``POST /`` on 127.0.0.1 at a free
port: the body (an ``application/timestamp-query``) goes to ``openssl ts -reply`` and its output
comes back as ``application/timestamp-reply``. ``chain`` is the PEM file a verifier trusts (the CA).

    with TestTSA() as tsa:
        tsa.url, tsa.chain
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_TSA_EXT = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

# the signer's certificate goes into each token (the client asks for it); the CA's does not: a
# verifier has it in its trusted chain file
_TS_CONFIG = """[ tsa ]
default_tsa = test_tsa

[ test_tsa ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tsa_files(folder: Path, name: str = "netsword test") -> None:
    """CA key and certificate, TSA key and certificate, serial file and ``ts.cnf`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", f"/CN={name} CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", f"/CN={name} TSA", cwd=folder)
    (folder / "tsa.ext").write_text(_TSA_EXT, encoding="ascii")
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tsa.crt", "-days", "3650", "-extfile", "tsa.ext", cwd=folder)
    (folder / "serial").write_text("01\n", encoding="ascii")
    (folder / "ts.cnf").write_text(_TS_CONFIG.format(dir=folder), encoding="ascii")


class TestTSA:
    """``openssl ts -reply`` behind a tiny HTTP server on 127.0.0.1."""

    __test__ = False  # not a test class

    def __init__(self, name: str = "netsword test") -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="netsword-tsa-")
        self.dir = Path(self._tmp.name)
        make_tsa_files(self.dir, name)
        self.chain = self.dir / "ca.crt"
        self.requests = 0
        self._lock = threading.Lock()
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415, "want application/timestamp-query")
                    return
                try:
                    reply = tsa.reply(body)
                except subprocess.CalledProcessError as exc:
                    self.send_error(500, exc.stderr.decode(errors="replace")[:200])
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-tsa", daemon=True)

    def reply(self, query: bytes) -> bytes:
        """``openssl ts -reply`` to one query (one at a time: the serial file is shared)."""
        with self._lock:
            self.requests += 1
            n = self.requests
            (self.dir / f"q{n}.tsq").write_bytes(query)
            subprocess.run(["openssl", "ts", "-reply", "-config", str(self.dir / "ts.cnf"), "-queryfile", f"q{n}.tsq",
                            "-out", f"r{n}.tsr"], cwd=self.dir, check=True, capture_output=True)
            return (self.dir / f"r{n}.tsr").read_bytes()

    def __enter__(self) -> TestTSA:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._tmp.cleanup()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a TSA that is down)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
