"""The scopes whose limits apply to a call — its tenant, app, key, and the subscription it is made under (counted
per subscription with its plan's limits) — shared by the limit and budget steps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from apps.gateway.pipeline.errors import LimitsUnavailable
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.policies.counters import Charge, Counters, CounterStoreDown
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


class Settler:
    """Settling and giving back, off the answer's path: with a store a round trip away (Redis), the amounts are
    added by a background task, so the caller does not wait for them; until it runs, a call's reservation simply
    stands a moment longer. A task still pending when the process ends is lost with it (its reservation expires
    with its window). In-process counters are added at once: a task would cost more than the addition."""

    def __init__(self, counters: Counters, report: StoreErrorReport) -> None:
        self._counters = counters
        self._report = report
        self._pending: set[asyncio.Task[None]] = set()

    async def add(self, ctx: CallContext, charges: Sequence[Charge]) -> None:
        if not self._counters.remote:
            await self._add(ctx, charges)
            return
        task = asyncio.get_running_loop().create_task(self._add(ctx, charges))
        self._pending.add(task)  # a strong reference until it ends
        task.add_done_callback(self._pending.discard)

    async def _add(self, ctx: CallContext, charges: Sequence[Charge]) -> None:
        try:
            await self._counters.add(charges, ctx.now)
        except CounterStoreDown as exc:
            store_down(ctx, self._report, exc, admitting=False)

    async def settled(self) -> None:
        """Wait for this loop's pending additions (tests, and a clean shutdown)."""
        loop = asyncio.get_running_loop()
        while pending := [task for task in self._pending if task.get_loop() is loop]:
            await asyncio.gather(*pending)
