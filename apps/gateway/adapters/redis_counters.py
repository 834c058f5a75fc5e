"""The limit and budget counters in Redis, shared by every gateway process and replica: each admission is ONE
round trip and atomic (a Lua script, which Redis runs whole), so N processes admit exactly what one would. The
admissions of a turn of the event loop go out as one script run with the turn's cache lookups (redis_turn.py:
the TURN script, which holds the admission's Lua); settlements go with the next write, through the hot path's
own client (adapters/resp/).

Timeouts short next to an LLM call, long enough for a loaded machine (a timeout answers by the tenant's
fail-open setting, and failing open under load would let a burst through): 1 s to connect or to answer. After a
refused or broken connection (Redis down) the store is not tried for a second, so calls answer at once instead
of each trying again."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Sequence
from typing import cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry as SyncRetry

from apps.analytics.metrics import LIMIT_STORE_ERRORS
from apps.gateway.adapters.redis_turn import PreparedAdmission, TurnScript
from apps.gateway.adapters.resp import Reply, RespClient, RespConnectionError, RespError, RespTimeout, Script
from apps.gateway.pipeline.policies.counters import Admission, CounterSet, CounterStoreDown

logger = logging.getLogger(__name__)

# Settling or giving back only touches live counters: an expired window is not brought back without its expiry.
# ARGV[1]: the amounts, space-separated.
ADD = Script("""
local i = 0
for amount in string.gmatch(ARGV[1], '%S+') do
  i = i + 1
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], amount) end
end
return 0
""")


class RedisCounters:
    remote = True

    def __init__(self, *, url: str, timeout: float = 1.0, pause_seconds: float = 1.0) -> None:
        self._url = url
        self._pause_seconds = pause_seconds
        self._down_until = 0.0  # monotonic: no attempt before then
        self._timeout = timeout
        self._client = RespClient.shared(url)
        self._turns = TurnScript.shared(url)
        self._sync: redis.Redis | None = None

    def _ensure_up(self) -> None:
        if time.monotonic() < self._down_until:
            raise CounterStoreDown("the limit store was unreachable less than a second ago")

    async def _call(self, command: Awaitable[Reply]) -> Reply:
        try:
            reply = await command
        except RespTimeout as exc:  # slow, not down: the next call tries again
            raise CounterStoreDown(f"the limit store is unreachable: {exc}") from exc
        except (RespConnectionError, RespError) as exc:
            self._down_until = time.monotonic() + self._pause_seconds
            raise CounterStoreDown(f"the limit store is unreachable: {exc}") from exc
        return reply

    async def admit(self, counters: CounterSet, amounts: Sequence[int], now: float) -> Admission:
        if not counters.keys:
            return Admission(refused=None, used=())
        self._ensure_up()
        prepared = counters.prepared
        if not isinstance(prepared, PreparedAdmission):  # made once for the set (the same for a minute's calls)
            prepared = counters.prepared = PreparedAdmission(counters.keys, counters.limits, counters.resets)
        joined = " ".join([str(amount) for amount in amounts])
        reply = await self._call(self._turns.admit(prepared, int(now * 1000), joined, within=self._timeout))
        refused, *used = map(int, cast(bytes, reply).split())  # "refused used…" (redis_turn.TURN)
        return Admission(refused=refused - 1 if refused else None, used=tuple(used))

    async def add(self, keys: Sequence[str], amounts: Sequence[int], now: float) -> None:
        if not keys:
            return
        self._ensure_up()
        # Settling: nobody waits for it, so it goes with the next admission's write.
        joined = " ".join([str(amount) for amount in amounts])
        await self._call(self._client.evalsha(ADD, list(keys), [joined], lazy=True, within=self._timeout))

    def read(self, keys: Sequence[str], now: float) -> list[int]:
        if self._sync is None:
            self._sync = redis.Redis.from_url(
                self._url, socket_timeout=1, socket_connect_timeout=1, retry=SyncRetry(NoBackoff(), 0)
            )
        try:
            values = self._sync.mget(list(keys)) if keys else []
        except (redis.RedisError, OSError) as exc:
            raise CounterStoreDown(f"the limit store is unreachable: {exc}") from exc
        return [int(v) if v is not None else 0 for v in values]

    async def aclose(self) -> None:
        await self._turns.drain()
        await self._client.aclose()


class StoreErrorReport:
    """What the steps call when the store is unreachable: counted in /metrics every time, logged at most once per
    `log_every` seconds in this process (a Redis outage would otherwise write a line per call)."""

    def __init__(self, *, log_every: float = 10.0) -> None:
        self._log_every = log_every
        self._logged_at = -log_every

    def __call__(self, tenant: str, mode: str, error: BaseException) -> None:
        LIMIT_STORE_ERRORS.labels(tenant=tenant, mode=mode).inc()
        now = time.monotonic()
        if now - self._logged_at >= self._log_every:
            self._logged_at = now
            served = "serving without limits" if mode == "open" else "refusing with 503"
            logger.warning("limit store unreachable (%s): %s (tenant %r fails %s)", error, served, tenant, mode)
