"""Budgets: spend per UTC day and calendar month, in USD, for each scope of the call (tenant, app, key,
subscription by its plan), counted in integer micro-dollars.

Concurrent calls cannot overspend: admission reserves the call's maximum cost atomically — the prompt's tokens
at the highest input price among the route's deployments, plus the most output tokens it may produce (the body's
`max_completion_tokens` or `max_tokens`, else DEFAULT_MAX_OUTPUT_TOKENS) at the highest output price — and the
real cost replaces the reservation after the call; a failed call releases it. Only a provider that counts more
prompt tokens than the gateway's estimate can make a call cost more than its reservation.

A reached budget refuses with 429 budget_exceeded, or, when its scope names an over-budget route of the route's
tenant, sends the call there instead, without counting it against the budget that was reached."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from apps.gateway.pipeline.errors import BudgetExceeded
from apps.gateway.pipeline.policies.base import CallContext, PolicyStep
from apps.gateway.pipeline.policies.counters import (
    Admission,
    Charge,
    Counters,
    CounterStoreDown,
    counter_key,
    window_bounds,
)
from apps.gateway.pipeline.policies.limits import duration
from apps.gateway.pipeline.policies.scopes import Scope, Settler, StoreErrorReport, call_scopes, scope_label, store_down
from apps.gateway.pipeline.snapshot import RouteEntry

DEFAULT_MAX_OUTPUT_TOKENS = 4096  # a chat call that sets no output limit is reserved at this many output tokens
BUDGETS = (("budget_per_day", "day", "daily"), ("budget_per_month", "month", "monthly"))
MICRO = Decimal(1_000_000)


def micro_dollars(usd: Decimal) -> int:
    """Rounded up: the counters never hold less than was spent."""
    return math.ceil(usd * MICRO)


def max_output_tokens(body: dict[str, object]) -> int:
    if "messages" not in body:  # embeddings produce no output tokens
        return 0
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return DEFAULT_MAX_OUTPUT_TOKENS


async def max_cost(ctx: CallContext, route: RouteEntry) -> int:
    """The most the call may cost on `route`, in micro-dollars."""
    if not route.deployments:
        return 0
    input_price = max(d.input_price_per_mtok for d in route.deployments)
    output_price = max(d.output_price_per_mtok for d in route.deployments)
    usd = (input_price * await ctx.prompt_tokens() + output_price * max_output_tokens(ctx.body)) / MICRO
    return micro_dollars(usd)


@dataclass(frozen=True, slots=True)
class _Budget:
    scope: Scope
    field: str
    window: str
    adjective: str
    limit: Decimal


@dataclass(slots=True)
class _Reserved:
    charges: list[Charge]
    amount: int


class BudgetStep(PolicyStep):
    name = "budget"

    def __init__(self, counters: Counters, *, on_store_error: StoreErrorReport) -> None:
        self._counters = counters
        self._on_store_error = on_store_error
        self._settler = Settler(counters, on_store_error)

    async def admit(self, ctx: CallContext) -> None:
        budgets = [
            _Budget(scope, field, window, adjective, limit)
            for scope in call_scopes(ctx)
            for field, window, adjective in BUDGETS
            if (limit := getattr(scope.limits, field)) is not None
        ]
        if not budgets:
            return
        try:
            await self._reserve(ctx, budgets, rerouted=False)
        except CounterStoreDown as exc:
            store_down(ctx, self._on_store_error, exc, admitting=True)
            ctx.outcome(self.name, "store unreachable: served")

    async def _reserve(self, ctx: CallContext, budgets: list[_Budget], *, rerouted: bool) -> None:
        if not budgets:  # rerouted away from the only budget that applied
            return
        amount = await max_cost(ctx, ctx.route)
        charges = []
        for budget in budgets:
            start, end = window_bounds(budget.window, ctx.now)
            key = counter_key(budget.scope.kind, budget.scope.id, budget.field, start)
            charges.append(Charge(key=key, limit=micro_dollars(budget.limit), amount=amount, resets_at=end))
        admission: Admission = await self._counters.admit(charges, ctx.now)
        if admission.refused is None:
            ctx.state[self.name] = _Reserved(charges=charges, amount=amount)
            return
        reached, charge = budgets[admission.refused], charges[admission.refused]
        alias = reached.scope.limits.over_budget_route
        cheaper = ctx.snapshot.routes.get((ctx.route.tenant_id, alias)) if alias else None
        if rerouted or cheaper is None or cheaper.route_id == ctx.route.route_id:
            raise BudgetExceeded(
                f"The {reached.adjective} budget of {scope_label(ctx, reached.scope)} (${reached.limit} USD) is "
                f"reached; it resets in {duration(charge.resets_at - ctx.now)}.",
                retry_after=charge.resets_at - ctx.now,
            )
        ctx.route = cheaper
        ctx.outcome(self.name, f"rerouted:{cheaper.alias}")
        await self._reserve(ctx, [b for b in budgets if b is not reached], rerouted=True)

    async def _add(self, ctx: CallContext, amount: int) -> None:
        reserved: _Reserved | None = ctx.state.get(self.name)
        if reserved is None or amount == 0 or not reserved.charges:
            return
        settle = [Charge(key=c.key, limit=c.limit, amount=amount, resets_at=c.resets_at) for c in reserved.charges]
        await self._settler.add(ctx, settle)

    async def after_call(self, ctx: CallContext) -> None:
        reserved: _Reserved | None = ctx.state.get(self.name)
        if reserved is not None:  # the real cost instead of the reservation
            await self._add(ctx, micro_dollars(ctx.cost) - reserved.amount)

    async def on_failure(self, ctx: CallContext, error: BaseException | None) -> None:
        reserved: _Reserved | None = ctx.state.get(self.name)
        if reserved is not None:
            await self._add(ctx, -reserved.amount)

    async def settled(self) -> None:
        """Wait for the settlements still running in the background (Settler)."""
        await self._settler.settled()
