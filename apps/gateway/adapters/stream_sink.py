"""The call-record sink with Redis: records go to a Redis stream that Celery workers drain into the database
(apps/analytics/services/ingest.py), so a crashed or restarted web process loses at most the records of its
last few milliseconds, and a database outage only makes the stream longer.

A batch leaves every `flush_seconds` (or sooner when it fills) as ONE stream entry holding its records: an
XADD per record cost ~100 µs of redis-py on the event loop, an XADD per batch ~1 µs a record. While
Redis is unreachable the records wait in memory and are retried with backoff; at exit what is left goes to
Redis, or straight to the database when Redis is still away."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import redis
import redis.asyncio as aioredis

from apps.analytics.services.ingest import RECORD_FIELD, records_encode
from apps.gateway.adapters.sink import BufferedCallSink


class RedisStreamCallSink(BufferedCallSink):
    retry_on = (redis.RedisError, OSError)

    def __init__(
        self,
        *,
        url: str,
        stream: str,
        maxlen: int,  # entries (batches), trimmed approximately
        fallback_write: Callable[[list[Mapping[str, Any]]], int] | None,
        flush_seconds: float = 0.05,
        max_batch: int = 500,
        max_buffer: int = 200_000,
    ) -> None:
        super().__init__(flush_seconds=flush_seconds, max_batch=max_batch, max_buffer=max_buffer)
        self._url = url
        self._stream = stream
        self._maxlen = maxlen
        self._fallback_write = fallback_write
        self._clients: dict[int, aioredis.Redis] = {}

    def _client(self) -> aioredis.Redis:
        # A redis.asyncio connection belongs to the loop that opened it (tests run several loops).
        key = id(asyncio.get_running_loop())
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = aioredis.Redis.from_url(self._url, socket_timeout=5)
        return client

    async def _send(self, batch: list[dict[str, Any]]) -> int:
        await self._client().xadd(self._stream, {RECORD_FIELD: records_encode(batch)}, maxlen=self._maxlen)
        return len(batch)

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            client = self._clients.pop(id(asyncio.get_running_loop()), None)
            if client is not None:
                await client.aclose()

    def _send_at_exit(self, batch: list[dict[str, Any]]) -> None:
        try:
            client = redis.Redis.from_url(self._url, socket_timeout=5)
            client.xadd(self._stream, {RECORD_FIELD: records_encode(batch)}, maxlen=self._maxlen)
        except (redis.RedisError, OSError):
            if self._fallback_write is None:
                raise
            # Redis is still away: the database directly, so that the records outlive this process.
            self._fallback_write(batch)
