"""The limit and budget counters in Redis, shared by every gateway process and replica: each admission is ONE
round trip (a Lua script by EVALSHA, which Redis runs atomically), so N processes admit exactly what one would.
Commands go through the hot path's own client (adapters/resp/: one pipelined connection per event loop, shared
with the response cache: a call's admission and its cache lookup go out in one write); settlements go with the
next write.

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
from apps.gateway.adapters.resp import (
    Arg,
    Prepared,
    Reply,
    RespClient,
    RespConnectionError,
    RespError,
    RespTimeout,
    Script,
)
from apps.gateway.pipeline.policies.counters import Admission, CounterSet, CounterStoreDown

logger = logging.getLogger(__name__)

# KEYS: the counters; ARGV[1]: for each, its limit and its window's end in unix ms, space-separated (one argument
# instead of two per counter: encoding them costs the gateway more than parsing them costs Redis; and the same
# for every call of the minute: keys and ARGV[1] are encoded once, see RedisCounters.admit); ARGV[2]: the
# call's clock in unix ms; ARGV[3]: the amounts, space-separated. Returns "refused used…" as one string: the index
# of the first charge that did not fit (1-based, 0 when all were added), then the value of each counter after (a
# bulk string costs the gateway a fifth of what parsing an array of integers does). Amounts stay strings for
# INCRBY: micro-dollar sums beyond 2^53 would lose digits as Lua numbers. The time to live runs from the call's
# clock to its window's end, so neither a skew with Redis's clock nor a call admitted just after its window's end
# (it arrived before) can drop a counter while its window is still being counted.
ADMIT = Script("""
local spec, amounts = {}, {}
for part in string.gmatch(ARGV[1], '%S+') do spec[#spec + 1] = tonumber(part) end
for part in string.gmatch(ARGV[3], '%S+') do amounts[#amounts + 1] = part end
local now = tonumber(ARGV[2])
local used = redis.call('MGET', unpack(KEYS))
for i = 1, #KEYS do
  used[i] = tonumber(used[i] or '0')
end
local refused = 0
for i = 1, #KEYS do
  if used[i] + tonumber(amounts[i]) > spec[2 * i - 1] then
    refused = i
    break
  end
end
if refused == 0 then
  for i = 1, #KEYS do
    used[i] = redis.call('INCRBY', KEYS[i], amounts[i])
    redis.call('PEXPIRE', KEYS[i], math.max(1, spec[2 * i] - now))
  end
end
for i = 1, #KEYS do
  used[i] = string.format('%d', used[i])
end
return refused .. ' ' .. table.concat(used, ' ')
""")
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
        if not isinstance(prepared, Prepared):
            # The EVALSHA up to its per-call arguments, encoded once for the set (the same for a minute's calls).
            limits, resets = counters.limits, counters.resets
            spec = " ".join(f"{limit} {end * 1000}" for limit, end in zip(limits, resets, strict=True))
            fixed: list[Arg] = ["EVALSHA", ADMIT.sha, len(counters.keys), *counters.keys, spec]
            prepared = counters.prepared = Prepared(fixed, 2)
        payload = prepared.encode(int(now * 1000), " ".join([str(amount) for amount in amounts]))
        reply = await self._call(self._client.run_script(ADMIT, payload, within=self._timeout))
        refused, *used = map(int, cast(bytes, reply).split())  # the script returns "refused used…"
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
