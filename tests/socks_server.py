"""A real SOCKS5 proxy on 127.0.0.1 for the identity tests: pproxy's own server (the package netsword's
HTTP-to-SOCKS bridge uses), on its own event loop in a thread. ``connections`` lists the targets it
opened ("127.0.0.1:PORT"), so a test can tell what went through it."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any


class SocksServer:
    def __init__(self) -> None:
        self.connections: list[str] = []
        self._lock = threading.Lock()

    def _verbose(self, line: str) -> None:
        m = re.search(r"-> (\S+)$", str(line))
        if m:
            with self._lock:
                self.connections.append(m.group(1))

    def __enter__(self) -> SocksServer:
        import pproxy

        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._handler: Any = None

        async def start() -> None:
            server = pproxy.Server("socks5://127.0.0.1:0")
            self._handler = await server.start_server({"rserver": [], "verbose": self._verbose})
            self.port = self._handler.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the SOCKS5 test proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        def stop() -> None:
            self._handler.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(stop)
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"
