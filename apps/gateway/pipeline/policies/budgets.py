"""Budgets: spend per UTC day and calendar month, in USD, for each scope of the call (tenant, app, key,
subscription by its plan), counted in integer micro-dollars.

Concurrent calls cannot overspend: admission reserves the call's maximum cost atomically — the prompt's tokens
at the highest input price among the route's deployments, plus the most output tokens it may produce (the body's
`max_completion_tokens` or `max_tokens`, else DEFAULT_MAX_OUTPUT_TOKENS) at the highest output price — and the
real cost replaces the reservation after the call; a failed call releases it. Only a provider that counts more
prompt tokens than the gateway's estimate can make a call cost more than its reservation.

A reached budget refuses with 429 budget_exceeded, or, when its scope names an over-budget route of the route's
tenant, sends the call there instead, without counting it against the budget that was reached. The budgets'
charges are admitted in one atomic step with the limits' (admission.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from apps.gateway.pipeline.errors import BudgetExceeded
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.policies.counters import Charge, counter_key, window_bounds
from apps.gateway.pipeline.policies.limits import duration
from apps.gateway.pipeline.policies.scopes import PerMinute, Scope, scope_label
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
    # USD per million tokens is micro-dollars per token.
    tokens = await ctx.prompt_tokens()
    return math.ceil(route.max_input_price * tokens + route.max_output_price * max_output_tokens(ctx.body))


@dataclass(frozen=True, slots=True)
class _Budget:
    scope: Scope
    metric: str  # the Limits field, and the counters' metric
    window: str
    adjective: str
    limit: Decimal


@dataclass(slots=True)
class _Reserved:
    budgets: list[_Budget] = field(default_factory=list)  # those charged, in the charges' order
    charges: list[Charge] = field(default_factory=list)
    amount: int = 0
    reached: set[tuple[str, int, str]] = field(default_factory=set)  # (scope kind, id, metric): rerouted away from
    rerouted: bool = False
    admitted: bool = False


class BudgetPolicy:
    """Budgets: a counted policy (admission.py: CountersStep admits it)."""

    name = "budget"

    def __init__(self) -> None:
        self._templates = PerMinute(self._template)

    @staticmethod
    def _template(scope: Scope, now: float) -> list[tuple[_Budget, str, int, int]]:
        """The scope's budgets with their counters: (budget, key, limit in micro-dollars, resets at)."""
        template = []
        for metric, window, adjective in BUDGETS:
            limit = getattr(scope.limits, metric)
            if limit is not None:
                start, end = window_bounds(window, now)
                key = counter_key(scope.kind, scope.id, metric, start)
                template.append((_Budget(scope, metric, window, adjective, limit), key, micro_dollars(limit), end))
        return template

    async def charges(self, ctx: CallContext, scopes: Sequence[Scope]) -> list[Charge]:
        reserved: _Reserved | None = ctx.state.get(self.name)
        if reserved is None:
            reserved = ctx.state[self.name] = _Reserved()
        reserved.budgets, reserved.charges = [], []
        amount = -1  # not computed yet: only calls with a budget pay for it
        for scope in scopes:
            for budget, key, limit, resets_at in self._templates.get(scope, ctx.now):
                if (scope.kind, scope.id, budget.metric) in reserved.reached:
                    continue
                if amount < 0:
                    reserved.amount = amount = await max_cost(ctx, ctx.route)
                reserved.budgets.append(budget)
                reserved.charges.append(Charge(key, limit, amount, resets_at))
        return reserved.charges

    def admitted(self, ctx: CallContext, used: Sequence[int]) -> None:
        ctx.state[self.name].admitted = True

    def refused(self, ctx: CallContext, index: int, used: Sequence[int]) -> None:
        reserved: _Reserved = ctx.state[self.name]
        reached, charge = reserved.budgets[index], reserved.charges[index]
        alias = reached.scope.limits.over_budget_route
        cheaper = ctx.snapshot.routes.get((ctx.route.tenant_id, alias)) if alias else None
        if reserved.rerouted or cheaper is None or cheaper.route_id == ctx.route.route_id:
            raise BudgetExceeded(
                f"The {reached.adjective} budget of {scope_label(ctx, reached.scope)} (${reached.limit} USD) is "
                f"reached; it resets in {duration(charge.resets_at - ctx.now)}.",
                retry_after=charge.resets_at - ctx.now,
            )
        # The cheaper route, without counting the call against the budget it reached.
        ctx.route = cheaper
        reserved.rerouted = True
        reserved.reached.add((reached.scope.kind, reached.scope.id, reached.metric))
        ctx.outcome(self.name, f"rerouted:{cheaper.alias}")

    def settlement(self, ctx: CallContext, *, succeeded: bool) -> list[Charge]:
        reserved: _Reserved | None = ctx.state.get(self.name)
        if reserved is None or not reserved.admitted or not reserved.charges:
            return []
        # Succeeded: the real cost instead of the reservation. Failed: the reservation back.
        amount = micro_dollars(ctx.cost) - reserved.amount if succeeded else -reserved.amount
        if amount == 0:
            return []
        return [Charge(c.key, c.limit, amount, c.resets_at) for c in reserved.charges]
