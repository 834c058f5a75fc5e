"""The client the data plane's adapters share: one Connection per event loop, opened on first use (callers arriving
meanwhile wait for the same one), commands sent with `execute`, `submit`, `pipeline` and `evalsha`."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from apps.gateway.adapters.resp.connection import Connection
from apps.gateway.adapters.resp.protocol import Arg, Reply, RespConnectionError, RespError, RespTimeout, Script, encode


def _copy(source: asyncio.Future[Reply], target: asyncio.Future[Reply]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (exc := source.exception()) is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


_SHARED: dict[str, RespClient] = {}


class RespClient:
    """Commands to one Redis (`redis://[[user]:password@]host[:port][/db]`, `rediss://…` for TLS,
    `unix:///path.sock[?db=N]`). Raises RespConnectionError, RespTimeout, or RespError for an error reply."""

    def __init__(self, url: str, *, timeout: float = 1.0, connect_timeout: float | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a Redis URL: {url!r}")
        self._host = parts.hostname or "localhost"
        self._port = parts.port or 6379
        self._path = unquote(parts.path) if parts.scheme == "unix" else None
        self._ssl = ssl.create_default_context() if parts.scheme == "rediss" else None
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        db = query.get("db") or (parts.path.strip("/") if parts.scheme != "unix" else "")
        self._db = int(db or 0)
        self._timeout = timeout
        self._connect_timeout = connect_timeout if connect_timeout is not None else timeout
        # Per event loop (tests run several), keyed by id: the entry's own loop is checked on use.
        self._connections: dict[int, Connection] = {}
        self._connecting: dict[int, asyncio.Task[Connection]] = {}

    @classmethod
    def shared(cls, url: str) -> RespClient:
        """This process's client of `url`, shared by the data plane's adapters: one connection per event loop, so
        that the commands of one call (the counters' admission, the cache's lookup) go out in one write. Each
        adapter gives its commands their own timeout."""
        client = _SHARED.get(url)
        if client is None:
            client = _SHARED[url] = cls(url)
        return client

    async def execute(self, *args: Arg, lazy: bool = False, within: float | None = None) -> Reply:
        """The command's reply, failing with RespTimeout after `within` seconds (the client's timeout)."""
        return await self.execute_encoded(encode(args), lazy=lazy, within=within)

    async def execute_encoded(self, payload: bytes, *, lazy: bool = False, within: float | None = None) -> Reply:
        """`execute` of one command already encoded."""
        timeout = self._timeout if within is None else within
        loop = asyncio.get_running_loop()
        connection = self._connections.get(id(loop))
        if connection is None or not connection.open or connection.loop is not loop:
            connection = await self._connection(loop, timeout)
        return await connection.send(payload, timeout=timeout, lazy=lazy)[0]

    def submit(self, *args: Arg, lazy: bool = False, within: float | None = None) -> asyncio.Future[Reply]:
        """The command, sent with this turn's others without waiting for its reply: the future of the reply, to
        await or to leave (its error is then the caller's to retrieve). Commands sent later on this loop reach
        Redis after it, even while the connection is still opening."""
        return self.submit_encoded(encode(args), lazy=lazy, within=within)

    def submit_encoded(
        self, payload: bytes, *, lazy: bool = False, at_once: bool = False, within: float | None = None
    ) -> asyncio.Future[Reply]:
        """`submit` of one command already encoded; `at_once`: written now (Connection.send)."""
        timeout = self._timeout if within is None else within
        loop = asyncio.get_running_loop()
        connection = self._connections.get(id(loop))
        if connection is not None and connection.open and connection.loop is loop:
            return connection.send(payload, timeout=timeout, lazy=lazy, at_once=at_once)[0]
        reply: asyncio.Future[Reply] = loop.create_future()

        def send(opening: asyncio.Task[Connection]) -> None:
            # A done callback of the opening, added now: it runs before the callers that wait for it later.
            if reply.done():
                return
            if opening.cancelled() or opening.exception() is not None:
                reply.set_exception(opening.exception() or RespConnectionError("connecting to Redis was cancelled"))
                return
            try:
                sent = opening.result().send(payload, timeout=timeout, lazy=lazy)[0]
            except RespConnectionError as exc:
                reply.set_exception(exc)
                return
            sent.add_done_callback(lambda done: _copy(done, reply))

        self._opening(loop).add_done_callback(send)
        return reply

    async def pipeline(self, *commands: Sequence[Arg], within: float | None = None) -> list[Reply]:
        """Several commands in one write; their replies, or the first error once every reply is in."""
        timeout = self._timeout if within is None else within
        loop = asyncio.get_running_loop()
        connection = self._connections.get(id(loop))
        if connection is None or not connection.open or connection.loop is not loop:
            connection = await self._connection(loop, timeout)
        futures = connection.send(b"".join(encode(c) for c in commands), len(commands), timeout=timeout)
        results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results  # type: ignore[return-value]  # no exception left among them

    async def evalsha(
        self,
        script: Script,
        keys: Sequence[Arg],
        args: Sequence[Arg],
        *,
        lazy: bool = False,
        within: float | None = None,
    ) -> Reply:
        payload = encode(["EVALSHA", script.sha, len(keys), *keys, *args])
        return await self.run_script(script, payload, lazy=lazy, within=within)

    async def run_script(
        self, script: Script, payload: bytes, *, lazy: bool = False, within: float | None = None
    ) -> Reply:
        """`payload`, an EVALSHA of `script` already encoded, loading the script first when Redis lacks it."""
        try:
            return await self.execute_encoded(payload, lazy=lazy, within=within)
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        # Not in this Redis yet (a restart or SCRIPT FLUSH empties its cache): load it, then run it.
        await self.execute("SCRIPT", "LOAD", script.source, within=within)
        return await self.execute_encoded(payload, within=within)

    async def _connection(self, loop: asyncio.AbstractEventLoop, within: float) -> Connection:
        # Shielded, so a caller that gives up does not cancel the others' connection.
        opening = asyncio.shield(self._opening(loop))
        if within >= self._connect_timeout:
            return await opening
        try:
            async with asyncio.timeout(within):
                return await opening
        except RespTimeout:
            raise
        except TimeoutError as exc:
            raise RespTimeout(f"connecting to Redis took more than {within:g} s") from exc

    def _opening(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[Connection]:
        """The connection being opened on `loop`, started now when none is: callers arriving meanwhile share it."""
        opening = self._connecting.get(id(loop))
        if opening is None or opening.get_loop() is not loop:
            opening = self._connecting[id(loop)] = loop.create_task(self._connect(loop))
            opening.add_done_callback(self._connected)
        return opening

    def _connected(self, task: asyncio.Task[Connection]) -> None:
        loop = task.get_loop()
        if self._connecting.get(id(loop)) is task:
            del self._connecting[id(loop)]
        if not task.cancelled() and task.exception() is None:  # exception(): retrieved even with no one waiting
            self._connections[id(loop)] = task.result()

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> Connection:
        connection = Connection(loop, self._timeout)
        where = self._path or f"{self._host}:{self._port}"
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._path is not None:
                    await loop.create_unix_connection(lambda: connection, self._path)
                else:
                    await loop.create_connection(lambda: connection, self._host, self._port, ssl=self._ssl)
                setup: list[list[Arg]] = []
                if self._password is not None:
                    auth: list[Arg] = ["AUTH", self._password]
                    setup.append(auth if self._user is None else ["AUTH", self._user, self._password])
                if self._db:
                    setup.append(["SELECT", self._db])
                if setup:
                    payload = b"".join(encode(c) for c in setup)
                    await asyncio.gather(*connection.send(payload, len(setup), timeout=self._connect_timeout))
        except TimeoutError as exc:
            connection.close(RespTimeout("closed"))
            raise RespTimeout(f"connecting to Redis at {where} took more than {self._connect_timeout:g} s") from exc
        except OSError as exc:
            connection.close(RespConnectionError("closed"))
            raise RespConnectionError(f"cannot connect to Redis at {where}: {exc}") from exc
        except BaseException:
            connection.close(RespConnectionError("closed"))
            raise
        return connection

    async def aclose(self) -> None:
        """Close this event loop's connection once the commands sent on it are answered (or have timed out): lazy
        ones included, so that a loop about to end loses no settlement or cache write."""
        connection = self._connections.pop(id(asyncio.get_running_loop()), None)
        if connection is not None:
            await connection.drain()
            connection.close(RespConnectionError("the client was closed"))
