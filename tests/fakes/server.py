"""The plumbing the fake upstreams share: an aiohttp app on its own event loop in a background thread, so a fake
works the same under pytest-asyncio's per-test loops, Django's sync test client and the providers' official SDKs;
a random local port; and the modes a test queues with `script` (then `mode` again)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Self

import orjson
from aiohttp import web
from multidict import CIMultiDict


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]  # case-insensitive: headers["authorization"]
    body: Any  # the parsed JSON body, or None


class FakeServer:
    """Subclasses add their routes in `routes`; `thread_name` names the server's thread."""

    thread_name = "fake-upstream"
    backlog = 128  # aiohttp's default

    def __init__(self) -> None:
        self.mode = "ok"
        self.port = 0
        self._queue: deque[str] = deque()  # deque appends and pops are atomic: no lock for the two threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *modes: str) -> None:
        """Use these modes for the next requests, in order; then `self.mode` again."""
        self._queue.extend(modes)

    def next_mode(self) -> str:
        return self._queue.popleft() if self._queue else self.mode

    def routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        self.routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=self.backlog).start()

    async def _shutdown(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body, or None when there is none or it is not JSON (each fake answers that its own way)."""
    raw = await request.read()
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
