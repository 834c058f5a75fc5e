"""The response cache's store on Redis (apps/gateway/pipeline/policies/cache.py: CacheStore), shared by every
gateway process and replica.

One GET per lookup; a store is one SET with EX. Values are zlib-compressed (answers are JSON text, which shrinks
several times at level 1 for a few µs). The semantic cache's vectors of a scope are one list: LRANGE to read it,
LPUSH + LTRIM + EXPIRE in one round trip to add to it.

Redis never fails a call: a lookup that fails is a miss and a store that fails is skipped, each counted in
`gateway_cache_errors_total` and logged at most once a minute. Short timeouts and no retries inside redis-py, so
an unreachable Redis costs a call milliseconds, not seconds."""

from __future__ import annotations

import asyncio
import logging
import zlib

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from apps.analytics.metrics import CACHE_ERRORS
from apps.gateway.pipeline.policies.cache import Throttled

logger = logging.getLogger(__name__)

_ERRORS = (redis.RedisError, OSError, zlib.error)


class RedisCacheStore:
    def __init__(self, *, url: str, prefix: str = "gw:cache:", timeout: float = 0.25) -> None:
        self._url = url
        self._prefix = prefix
        self._timeout = timeout
        self._clients: dict[int, aioredis.Redis] = {}
        self._failures = Throttled(60.0)

    def _client(self) -> aioredis.Redis:
        # A redis.asyncio connection belongs to the loop that opened it (tests run several loops).
        key = id(asyncio.get_running_loop())
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = aioredis.Redis.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 0),
            )
        return client

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client().get(self._prefix + key)
            return zlib.decompress(value) if value is not None else None
        except _ERRORS as exc:
            self._failed("get", exc)
            return None

    async def set(self, key: str, value: bytes, ttl: int) -> bool:
        try:
            await self._client().set(self._prefix + key, zlib.compress(value, 1), ex=ttl)
        except _ERRORS as exc:
            self._failed("set", exc)
            return False
        return True

    async def recent(self, scope: str) -> list[bytes]:
        try:
            items: list[bytes] = await self._client().lrange(self._prefix + scope, 0, -1)
        except _ERRORS as exc:
            self._failed("recent", exc)
            return []
        return items

    async def remember(self, scope: str, item: bytes, *, ttl: int, cap: int) -> bool:
        name = self._prefix + scope
        try:
            async with self._client().pipeline(transaction=False) as pipe:
                pipe.lpush(name, item).ltrim(name, 0, cap - 1).expire(name, ttl)
                await pipe.execute()
        except _ERRORS as exc:
            self._failed("remember", exc)
            return False
        return True

    async def aclose(self) -> None:
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()

    def _failed(self, operation: str, exc: BaseException) -> None:
        CACHE_ERRORS.labels(operation).inc()
        if (suppressed := self._failures.due()) is not None:
            logger.warning(
                "response cache: Redis %s failed (%s); %d more failures not logged", operation, exc, suppressed
            )
