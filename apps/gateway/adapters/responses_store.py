"""Where `POST /v1/responses` keeps its responses for `previous_response_id` and `GET /v1/responses/{id}`
(surfaces/openai_responses_serve.py: ResponseStore), for GATEWAY_RESPONSES_RETENTION_SECONDS.

With REDIS_URL: one key per response (`gw:resp:<id>`) with the retention as its TTL, shared by every process and
replica, through the hot path's Redis client (adapters/resp/). The embedded default keeps them in this process's
memory (least recently used first out past MEMORY_MAX_RESPONSES): another process, or a restart, does not know them.

A record is the tenant's id, the response and the conversation's items, as zlib-compressed JSON in both stores.
A response of another tenant is answered like one that does not exist."""

from __future__ import annotations

import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from apps.gateway.adapters.resp import RespClient, RespConnectionError, RespError, RespTimeout
from apps.gateway.surfaces.openai_responses_serve import ResponseStoreUnavailable

MEMORY_MAX_RESPONSES = 10_000


@dataclass(frozen=True, slots=True)
class Stored:
    response: dict[str, Any]
    items: list[dict[str, Any]]


def _pack(tenant_id: int, response: dict[str, Any], items: list[dict[str, Any]]) -> bytes:
    return zlib.compress(orjson.dumps({"tenant_id": tenant_id, "response": response, "items": items}), 1)


def _unpack(value: bytes | None, tenant_id: int) -> Stored | None:
    if value is None:
        return None
    record = orjson.loads(zlib.decompress(value))
    if record["tenant_id"] != tenant_id:
        return None
    return Stored(response=record["response"], items=record["items"])


class MemoryResponseStore:
    def __init__(
        self,
        *,
        retention_seconds: float,
        max_responses: int = MEMORY_MAX_RESPONSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._retention = retention_seconds
        self._max = max_responses
        self._clock = clock
        self._records: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def _get(self, response_id: str) -> bytes | None:
        found = self._records.get(response_id)
        if found is None:
            return None
        expires, value = found
        if expires <= self._clock():
            del self._records[response_id]
            return None
        self._records.move_to_end(response_id)
        return value

    async def load(self, response_id: str, *, tenant_id: int) -> Stored | None:
        return _unpack(self._get(response_id), tenant_id)

    async def save(self, *, tenant_id: int, response: dict[str, Any], items: list[dict[str, Any]]) -> None:
        self._records[response["id"]] = (self._clock() + self._retention, _pack(tenant_id, response, items))
        self._records.move_to_end(response["id"])
        while len(self._records) > self._max:
            self._records.popitem(last=False)

    async def delete(self, response_id: str, *, tenant_id: int) -> bool:
        if _unpack(self._get(response_id), tenant_id) is None:
            return False
        del self._records[response_id]
        return True


_ERRORS = (RespConnectionError, RespTimeout, RespError)


class RedisResponseStore:
    def __init__(self, *, url: str, retention_seconds: int, prefix: str = "gw:resp:", timeout: float = 1.0) -> None:
        self._client = RespClient(url, timeout=timeout)
        self._retention = retention_seconds
        self._prefix = prefix

    async def load(self, response_id: str, *, tenant_id: int) -> Stored | None:
        try:
            value = await self._client.execute("GET", self._prefix + response_id)
        except _ERRORS as exc:
            raise _unavailable() from exc
        return _unpack(value if isinstance(value, bytes) else None, tenant_id)

    async def save(self, *, tenant_id: int, response: dict[str, Any], items: list[dict[str, Any]]) -> None:
        value = _pack(tenant_id, response, items)
        await self._client.execute("SET", self._prefix + response["id"], value, "EX", self._retention)

    async def delete(self, response_id: str, *, tenant_id: int) -> bool:
        if await self.load(response_id, tenant_id=tenant_id) is None:
            return False
        try:
            return bool(await self._client.execute("DEL", self._prefix + response_id))
        except _ERRORS as exc:
            raise _unavailable() from exc


def _unavailable() -> ResponseStoreUnavailable:
    return ResponseStoreUnavailable("The store of responses cannot be reached; try again shortly.", retry_after=1)
