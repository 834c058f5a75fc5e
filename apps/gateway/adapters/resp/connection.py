"""One connection to Redis on one event loop, as an asyncio protocol: commands written together at the end of
a turn of the loop (lazy ones up to LAZY_WRITE later), replies matched to them in order, one timer for every
command's timeout."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

from apps.gateway.adapters.resp.protocol import INCOMPLETE, Reply, RespConnectionError, RespError, RespTimeout, parse

DROP_AFTER = 5  # timeouts
LAZY_WRITE = 0.002  # seconds a lazy command may wait for another write to go with


class Connection(asyncio.Protocol):
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
        self, payload: bytes, count: int = 1, *, timeout: float, lazy: bool = False, at_once: bool = False
    ) -> list[asyncio.Future[Reply]]:
        """Write `count` commands (encoded in `payload`); their replies, in order, each failing after `timeout`
        seconds without one. Lazy commands (nobody waits for their reply on an answer's path) go with the next
        write, or within LAZY_WRITE when none comes; `at_once`: written now, with whatever waits (a caller that
        gathered a turn's commands itself, at the end of that turn)."""
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
        if at_once:
            self._write()
        elif not self._write_soon:
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
        if unsent and self.open and self._transport is not None:
            self._transport.write(b"".join(unsent))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        pos = 0
        try:
            while pos < len(buffer):
                reply, pos = parse(buffer, pos)
                if reply is INCOMPLETE:
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
