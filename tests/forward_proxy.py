"""A small real HTTP forward proxy on 127.0.0.1 (plain http, no CONNECT): what a site sees through a
proxy in the identity tests. It forwards ``GET http://host:port/path`` to the host and adds
``Via: 1.1 <name>``, so the site can tell which proxy a request came through. ``refuse=True``: it
answers 429 itself, as a proxy whose address the site has blocked."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

from crawler.demo.serving import QuietHandler, ThreadedSite

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade"}


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self.send_error(400, "absolute http:// URL expected")
            return
        proxy = self.server.site
        with proxy.lock:
            proxy.count += 1
        if proxy.refuse:  # a proxy the site has blocked: what such a proxy passes on
            body = b"too many requests from this address"
            self.send_response(429)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Via"] = f"1.1 {proxy.name}"
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        try:
            conn.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            self.send_error(502, str(exc))
            return
        finally:
            conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class ForwardProxy(ThreadedSite):
    """``with ForwardProxy("p1") as proxy:`` -> ``proxy.url``; ``count`` is the requests it passed on (or refused)."""

    handler = _Handler

    def __init__(self, name: str, refuse: bool = False) -> None:
        self.name, self.refuse = name, refuse
        self.count = 0
        self.lock = threading.Lock()
