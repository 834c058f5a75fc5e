"""A minimal pipelined Redis client (RESP2) for the data plane's hot path: the limit and budget counters and the
response cache. redis-py's asyncio client costs ~60-100 µs of CPU per command (a pool checkout under an asyncio
timeout, a connection's lock, its parser); here a command is one write and one future.

One connection per event loop, shared by every caller on it (RespClient.shared: the counters and the cache of a
call share it too): the commands of one turn of the loop are written together (concurrent calls share a syscall)
and replies matched to them in order (Redis answers a connection's commands in the order it got them). Lazy
commands, whose reply nobody waits for on an answer's path (settlements, cache writes), wait up to LAZY_WRITE for
another write to go with. No asyncio timeout per command: one timer per connection, running only while replies
are awaited, fails each command that has waited longer than its own timeout (its late reply is read past when it
comes), and drops the connection once the oldest reply is DROP_AFTER times the longest timeout late (Redis hung,
or a connection gone without a reset). A broken or refused connection fails its commands at once; the next
command opens a new one. No retries: the callers decide what a failure means (a cache miss, the tenant's
fail-open setting).

Not for anything else: no pub/sub, no transactions, no cluster; the control plane uses redis-py."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from typing import cast
from urllib.parse import unquote, urlsplit

Arg = str | bytes | int
Reply = str | bytes | int | None | list["Reply"]


class RespError(Exception):
    """An error reply of Redis (`-ERR …`, `-NOSCRIPT …`): the command reached Redis, which refused it."""


class RespConnectionError(ConnectionError):
    """Redis cannot be reached: the connection was refused, broken or closed."""


class RespTimeout(TimeoutError):
    """Redis did not connect or answer within the client's timeout: slow, not necessarily down."""


class Script:
    """A Lua script run by EVALSHA: loaded into Redis the first time it is missing there (NOSCRIPT)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


def encode(args: Sequence[Arg]) -> bytes:
    if not any(arg.__class__ is bytes for arg in args):
        # Text and numbers only (keys, scripts' arguments): formatted as one string, encoded once.
        texts = [arg if arg.__class__ is str else f"{arg:d}" for arg in args]
        body = "".join([f"${len(text)}\r\n{text}\r\n" for text in texts])
        if body.isascii():  # so that len() counted bytes
            return f"*{len(texts)}\r\n{body}".encode()
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else arg.encode() if isinstance(arg, str) else b"%d" % arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


DROP_AFTER = 5  # timeouts
LAZY_WRITE = 0.002  # seconds a lazy command may wait for another write to go with
_INCOMPLETE = object()  # a reply not yet whole in the buffer


def parse(buffer: bytearray, pos: int) -> tuple[object, int]:
    """The reply starting at `pos` and the position after it, or (_INCOMPLETE, pos) when more bytes are needed. An
    error reply is returned as a RespError (inside an array too); the caller raises it."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        return _INCOMPLETE, pos
    kind, line = buffer[pos], buffer[pos + 1 : end]
    if kind == 0x24:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(buffer) < stop + 2:
            return _INCOMPLETE, pos
        return bytes(buffer[end + 2 : stop]), stop + 2
    if kind == 0x3A:  # : integer
        return int(line), end + 2
    if kind == 0x2A:  # * array
        count = int(line)
        if count < 0:
            return None, end + 2
        items: list[object] = []
        at = end + 2
        for _ in range(count):
            if buffer[at : at + 1] == b":":  # an integer, the usual item of the scripts' replies: no call
                stop = buffer.find(b"\r\n", at)
                if stop < 0:
                    return _INCOMPLETE, pos
                items.append(int(buffer[at + 1 : stop]))
                at = stop + 2
                continue
            item, at = parse(buffer, at)
            if item is _INCOMPLETE:
                return _INCOMPLETE, pos
            items.append(item)
        return items, at
    if kind == 0x2B:  # + simple string
        return line.decode(), end + 2
    if kind == 0x2D:  # - error
        return RespError(line.decode(errors="replace")), end + 2
    raise RespConnectionError(f"not a RESP reply from Redis: {bytes(buffer[pos : end + 2])!r}")


def _copy(source: asyncio.Future[Reply], target: asyncio.Future[Reply]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (exc := source.exception()) is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.open = False
        self._tick = max(timeout / 4, 0.001)  # a command fails between its timeout and 1.25 of the shortest
        self._longest = timeout  # of the commands sent: the connection is dropped DROP_AFTER of it late
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        # (reply, sent at, timeout), in sent order
        self._waiting: deque[tuple[asyncio.Future[Reply], float, float]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._unsent: list[bytes] = []  # written together at the end of this turn of the loop: one syscall
        self._write_soon = False  # a write is due at the end of this turn
        self._write_later: asyncio.TimerHandle | None = None  # only lazy commands wait: a write within LAZY_WRITE

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses
        self.open = True

    def send(
        self, payload: bytes, count: int = 1, *, timeout: float, lazy: bool = False
    ) -> list[asyncio.Future[Reply]]:
        """Write `count` commands (encoded in `payload`); their replies, in order, each failing after `timeout`
        seconds without one. Lazy commands (nobody waits for their reply on an answer's path) go with the next
        write, or within LAZY_WRITE when none comes."""
        if not self.open or self._transport is None:
            raise RespConnectionError("the connection to Redis is closed")
        now = self.loop.time()
        futures: list[asyncio.Future[Reply]] = []
        for _ in range(count):
            future: asyncio.Future[Reply] = self.loop.create_future()
            self._waiting.append((future, now, timeout))
            futures.append(future)
        self._longest = max(self._longest, timeout)
        if timeout / 4 < self._tick:  # checked more often from now on, starting one tick from now
            self._tick = max(timeout / 4, 0.001)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._unsent.append(payload)
        if not self._write_soon:
            if not lazy:
                self._write_soon = True
                self.loop.call_soon(self._write)
            elif self._write_later is None:
                self._write_later = self.loop.call_later(LAZY_WRITE, self._write)
        if self._timer is None:
            self._timer = self.loop.call_later(self._tick, self._check_deadline)
        return futures

    async def drain(self) -> None:
        """Write what waits to be written, and wait for every reply (each fails at its own timeout at the latest)."""
        if self._unsent:
            self._write()
        await asyncio.gather(*(future for future, _, _ in self._waiting), return_exceptions=True)

    def _write(self) -> None:
        self._write_soon = False
        if self._write_later is not None:
            self._write_later.cancel()
            self._write_later = None
        unsent, self._unsent = self._unsent, []
        if self.open and self._transport is not None:
            self._transport.write(b"".join(unsent))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        pos = 0
        try:
            while pos < len(buffer):
                reply, pos = parse(buffer, pos)
                if reply is _INCOMPLETE:
                    break
                if not self._waiting:
                    raise RespConnectionError("Redis sent a reply no command was waiting for")
                future, _, _ = self._waiting.popleft()
                if future.done():  # its caller was cancelled; the reply still had to be read past
                    continue
                if isinstance(reply, RespError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)  # type: ignore[arg-type]  # parse returns only Reply values here
        except (RespConnectionError, ValueError) as exc:
            self.close(RespConnectionError(f"unreadable reply from Redis: {exc}"))
            return
        del buffer[:pos]

    def _check_deadline(self) -> None:
        self._timer = None
        if not self._waiting:
            return  # idle: the next command starts the timer again
        now = self.loop.time()
        if now - self._waiting[0][1] > self._longest * DROP_AFTER:
            self.close(RespTimeout(f"Redis has not answered for {self._longest * DROP_AFTER:g} s"))
            return
        for future, sent, timeout in self._waiting:  # a handful, unless Redis is stuck (then dropped soon)
            if now - sent > timeout and not future.done():
                future.set_exception(RespTimeout(f"Redis did not answer within {timeout:g} s"))
        self._timer = self.loop.call_later(self._tick, self._check_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(RespConnectionError(f"the connection to Redis was lost: {exc or 'closed by Redis'}"))

    def close(self, error: Exception) -> None:
        """Fail every waiting command with `error` and drop the connection."""
        self.open = False
        for timer in (self._timer, self._write_later):
            if timer is not None:
                timer.cancel()
        self._timer = self._write_later = None
        while self._waiting:
            future, _, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self._transport is not None:
            self._transport.abort()
            self._transport = None


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
        self._connections: dict[int, _Connection] = {}
        self._connecting: dict[int, asyncio.Task[_Connection]] = {}

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
        timeout = self._timeout if within is None else within
        loop = asyncio.get_running_loop()
        connection = self._connections.get(id(loop))
        if connection is None or not connection.open or connection.loop is not loop:
            connection = await self._connection(loop, timeout)
        return await connection.send(encode(args), timeout=timeout, lazy=lazy)[0]

    def submit(self, *args: Arg, lazy: bool = False, within: float | None = None) -> asyncio.Future[Reply]:
        """The command, sent with this turn's others without waiting for its reply: the future of the reply, to
        await or to leave (its error is then the caller's to retrieve). Commands sent later on this loop reach
        Redis after it, even while the connection is still opening."""
        timeout = self._timeout if within is None else within
        loop = asyncio.get_running_loop()
        connection = self._connections.get(id(loop))
        if connection is not None and connection.open and connection.loop is loop:
            return connection.send(encode(args), timeout=timeout, lazy=lazy)[0]
        reply: asyncio.Future[Reply] = loop.create_future()
        payload = encode(args)

        def send(opening: asyncio.Task[_Connection]) -> None:
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
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args, lazy=lazy, within=within)
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        # Not in this Redis yet (a restart or SCRIPT FLUSH empties its cache): load it, then run it.
        await self.execute("SCRIPT", "LOAD", script.source, within=within)
        return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args, within=within)

    async def _connection(self, loop: asyncio.AbstractEventLoop, within: float) -> _Connection:
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

    def _opening(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[_Connection]:
        """The connection being opened on `loop`, started now when none is: callers arriving meanwhile share it."""
        opening = self._connecting.get(id(loop))
        if opening is None or opening.get_loop() is not loop:
            opening = self._connecting[id(loop)] = loop.create_task(self._connect(loop))
            opening.add_done_callback(self._connected)
        return opening

    def _connected(self, task: asyncio.Task[_Connection]) -> None:
        loop = task.get_loop()
        if self._connecting.get(id(loop)) is task:
            del self._connecting[id(loop)]
        if not task.cancelled() and task.exception() is None:  # exception(): retrieved even with no one waiting
            self._connections[id(loop)] = task.result()

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        connection = _Connection(loop, self._timeout)
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
