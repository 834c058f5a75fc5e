"""The scopes whose limits apply to a call — its tenant, app, key, and the subscription it is made under (counted
per subscription with its plan's limits) — shared by the limit and budget steps."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from apps.gateway.pipeline.errors import LimitsUnavailable
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.policies.counters import Counters, CounterStoreDown
from apps.gateway.pipeline.snapshot import Limits

# (tenant slug, "open" | "closed", the error): counted and logged by the adapters
StoreErrorReport = Callable[[str, str, BaseException], None]


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str  # the counters' scope: "tenant", "app", "key" or "subscription"
    id: int
    limits: Limits


def call_scopes(ctx: CallContext) -> list[Scope]:
    """The scopes of the call that have limits configured; empty (and cheap) when the snapshot has none."""
    table = ctx.snapshot.limits
    if not table:
        return []
    scopes = []
    if (limits := table.get(("tenant", ctx.tenant_id))) is not None:
        scopes.append(Scope("tenant", ctx.tenant_id, limits))
    if ctx.key is not None:
        if (limits := table.get(("app", ctx.key.app_id))) is not None:
            scopes.append(Scope("app", ctx.key.app_id, limits))
        if (limits := table.get(("key", ctx.key.key_id))) is not None:
            scopes.append(Scope("key", ctx.key.key_id, limits))
    sub = ctx.subscription
    if sub is not None and (limits := table.get(("plan", sub.plan_id))) is not None:
        scopes.append(Scope("subscription", sub.subscription_id, limits))
    return scopes


def scope_label(ctx: CallContext, scope: Scope) -> str:
    """How a refusal names the scope to the caller (only names the caller already knows)."""
    if scope.kind == "tenant":
        return f"tenant '{ctx.snapshot.tenant_slugs.get(scope.id, scope.id)}'"
    if scope.kind == "app" and ctx.key is not None:
        return f"app '{ctx.key.app_slug}'"
    if scope.kind == "key" and ctx.key is not None:
        return f"API key '{ctx.key.prefix}'"
    service = f" of service '{ctx.service.slug}'" if ctx.service is not None else ""
    plan = ctx.subscription.plan_slug if ctx.subscription is not None else ""
    return f"your plan '{plan}'{service}" if plan else f"your plan{service}"


def store_down(ctx: CallContext, report: StoreErrorReport, error: CounterStoreDown, *, admitting: bool) -> None:
    """The store is unreachable: serve by the tenant's setting (missing: fail open), or refuse with 503 when
    admitting a call of a tenant that fails closed. Settling never refuses: the call has been served."""
    fail_open = ctx.snapshot.limits_fail_open.get(ctx.tenant_id, True)
    report(ctx.snapshot.tenant_slugs.get(ctx.tenant_id, ""), "open" if fail_open else "closed", error)
    if admitting and not fail_open:
        raise LimitsUnavailable(
            "The gateway cannot check this call's limits right now; try again shortly.", retry_after=1
        ) from error


@dataclass(slots=True)
class _Queue:
    """The settlements of one counter store waiting on one event loop, and the flushes under way."""

    counters: Counters
    entries: list[tuple[CallContext, Sequence[str], Sequence[int], StoreErrorReport]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    flushing: set[asyncio.Task[None]] = field(default_factory=set)


# Per loop (tests run several) and per counter store: the limit and budget steps share one queue, so one flush
# carries both. Weak: a closed loop's queue goes with it.
_QUEUES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, _Queue]] = weakref.WeakKeyDictionary()


class Settler:
    """Settling and giving back, off the answer's path: with a store a round trip away (Redis), the amounts are
    queued and flushed together every `delay` seconds (or at once when `batch` settlements wait) as ONE addition,
    amounts summed per counter, so a call costs the store no round trip of its own; until then, a reservation
    simply stands a few milliseconds longer. Settlements still queued when the process ends are lost with it
    (their reservations expire with their windows). In-process counters are added at once: queueing would cost
    more than the addition."""

    def __init__(self, counters: Counters, report: StoreErrorReport, *, delay: float = 0.005, batch: int = 256) -> None:
        self._counters = counters
        self._report = report
        self._delay = delay
        self._batch = batch
        self._last: tuple[asyncio.AbstractEventLoop, _Queue] | None = None  # the loop of the last call, its queue

    async def add(self, ctx: CallContext, keys: Sequence[str], amounts: Sequence[int]) -> None:
        if not self._counters.remote:
            try:
                await self._counters.add(keys, amounts, ctx.now)
            except CounterStoreDown as exc:
                store_down(ctx, self._report, exc, admitting=False)
            return
        if not keys:
            return
        loop = asyncio.get_running_loop()
        last = self._last
        queue = last[1] if last is not None and last[0] is loop else self._queue(loop)
        queue.entries.append((ctx, keys, amounts, self._report))
        if len(queue.entries) >= self._batch:
            _flush(loop, queue)
        elif queue.timer is None:
            queue.timer = loop.call_later(self._delay, _flush, loop, queue)

    def _queue(self, loop: asyncio.AbstractEventLoop) -> _Queue:
        queues = _QUEUES.setdefault(loop, {})
        queue = queues.get(id(self._counters))
        if queue is None or queue.counters is not self._counters:
            queue = queues[id(self._counters)] = _Queue(self._counters)
        # Kept for the next calls: the loop of a server's worker is the same for its life (a closed one is held
        # until another loop settles).
        self._last = (loop, queue)
        return queue

    async def settled(self) -> None:
        """Flush this loop's queue now and wait for every flush under way (tests, and a clean shutdown)."""
        loop = asyncio.get_running_loop()
        queue = _QUEUES.get(loop, {}).get(id(self._counters))
        while queue is not None and (queue.entries or queue.flushing):
            _flush(loop, queue)
            await asyncio.gather(*queue.flushing)


def _flush(loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
    if queue.timer is not None:
        queue.timer.cancel()
        queue.timer = None
    entries, queue.entries = queue.entries, []
    if entries:
        task = loop.create_task(_send(queue.counters, entries))
        queue.flushing.add(task)  # a strong reference until it ends
        task.add_done_callback(queue.flushing.discard)


async def _send(
    counters: Counters, entries: list[tuple[CallContext, Sequence[str], Sequence[int], StoreErrorReport]]
) -> None:
    totals: dict[str, int] = {}
    for _, keys, amounts, _ in entries:
        for key, amount in zip(keys, amounts, strict=True):
            totals[key] = totals.get(key, 0) + amount
    keys = [key for key, total in totals.items() if total]
    if not keys:
        return
    try:
        await counters.add(keys, [totals[key] for key in keys], max(ctx.now for ctx, _, _, _ in entries))
    except CounterStoreDown as exc:
        for ctx, _, _, report in entries:  # counted per settlement, as if each had been sent alone
            store_down(ctx, report, exc, admitting=False)
