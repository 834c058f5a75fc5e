"""The response cache's store on Redis (apps/gateway/pipeline/policies/cache.py: CacheStore), shared by every
gateway process and replica.

A lookup is a GET and a store a SET with EX inside the script that carries a turn of the event loop's
commands (redis_turn.py); nobody waits for a store (a failure is counted when the reply comes). Values of 1 KB or
more are zlib-compressed (answers are JSON text, which shrinks several times at level 1 for a few µs). The
semantic cache's vectors of a scope are one list: LRANGE to read it, LPUSH + LTRIM + EXPIRE in one round trip to
add to it.

Commands go through the hot path's own client (adapters/resp/: one pipelined connection per event loop, shared
with the limit counters). Redis never fails a call: a lookup that fails is a miss and a store that fails is
skipped, each counted in `gateway_cache_errors_total` and logged at most once a minute. Short timeouts and no
retries, so an unreachable Redis costs a call milliseconds, not seconds."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Generator
from typing import Any

from apps.analytics.metrics import CACHE_ERRORS
from apps.gateway.adapters.redis_turn import TurnScript
from apps.gateway.adapters.resp import Reply, RespClient, RespConnectionError, RespError, RespTimeout
from apps.gateway.pipeline.policies.cache import Throttled

logger = logging.getLogger(__name__)

_ERRORS = (RespConnectionError, RespTimeout, RespError, zlib.error)


COMPRESS_FROM = 1024  # bytes: a shorter value is stored as it is (compressing it costs more than it saves)


def packed(value: bytes) -> bytes:
    """A value as stored: a marker byte, then the value compressed (b"z") or as it is (b"=")."""
    return b"z" + zlib.compress(value, 1) if len(value) >= COMPRESS_FROM else b"=" + value


def unpacked(stored: bytes) -> bytes | None:
    """The value; None (a miss) for what this format did not store."""
    marker = stored[:1]
    if marker == b"=":
        return stored[1:]
    return zlib.decompress(stored[1:]) if marker == b"z" else None


def _retrieved(reply: asyncio.Future[Reply]) -> None:
    """A lookup nobody awaits (its call was refused after it was sent) must not log its failure as unretrieved:
    a failure is counted where the lookup is awaited."""
    if not reply.cancelled():
        reply.exception()


class _Lookup:
    """A lookup's reply as the value it holds: awaited, a miss for whatever failed (counted), never an error."""

    __slots__ = ("_reply", "_store")

    def __init__(self, reply: asyncio.Future[Reply], store: RedisCacheStore) -> None:
        self._reply = reply
        self._store = store

    def __await__(self) -> Generator[Any, None, bytes | None]:
        try:
            raw = yield from self._reply.__await__()
            return unpacked(raw) if isinstance(raw, bytes) else None
        except _ERRORS as exc:
            self._store._failed("get", exc)
            return None


class RedisCacheStore:
    remote = True

    def __init__(self, *, url: str, prefix: str = "gw:cache:", timeout: float = 0.25) -> None:
        self._prefix = prefix
        self._timeout = timeout
        self._client = RespClient.shared(url)
        self._turns = TurnScript.shared(url)
        self._failures = Throttled(60.0)

    def get(self, key: str) -> Awaitable[bytes | None]:
        """The lookup, sent at the end of this turn of the loop in one script with the turn's other lookups and
        the counters' admissions (redis_turn.py): awaiting it reads the value."""
        reply = self._turns.get(self._prefix + key, within=self._timeout)
        reply.add_done_callback(_retrieved)
        return _Lookup(reply, self)

    def put(self, key: str, value: bytes, ttl: int) -> None:
        self._turns.put(self._prefix + key, packed(value), ttl, within=self._timeout, failed=self._not_stored)

    def _not_stored(self, error: BaseException) -> None:
        self._failed("set", error)

    async def recent(self, scope: str) -> list[bytes]:
        try:
            items = await self._client.execute("LRANGE", self._prefix + scope, 0, -1, within=self._timeout)
        except _ERRORS as exc:
            self._failed("recent", exc)
            return []
        return [item for item in items if isinstance(item, bytes)] if isinstance(items, list) else []

    async def remember(self, scope: str, item: bytes, *, ttl: int, cap: int) -> bool:
        name = self._prefix + scope
        try:
            await self._client.pipeline(
                ("LPUSH", name, item), ("LTRIM", name, 0, cap - 1), ("EXPIRE", name, ttl), within=self._timeout
            )
        except _ERRORS as exc:
            self._failed("remember", exc)
            return False
        return True

    async def aclose(self) -> None:
        await self._turns.drain()
        await self._client.aclose()

    def _failed(self, operation: str, exc: BaseException) -> None:
        CACHE_ERRORS.labels(operation).inc()
        if (suppressed := self._failures.due()) is not None:
            logger.warning(
                "response cache: Redis %s failed (%s); %d more failures not logged", operation, exc, suppressed
            )
