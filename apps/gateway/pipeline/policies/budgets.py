"""Budgets: spend per UTC day and calendar month, in USD, for each scope of the call (tenant, app, key,
subscription by its plan), counted in integer micro-dollars.

Concurrent calls cannot overspend: admission reserves the call's maximum cost atomically — the prompt's tokens
at most (the UTF-8 bytes of its texts: no byte-level tokenizer makes more tokens than that) at the highest input
price among the route's deployments, plus the most output tokens it may produce (the body's
`max_completion_tokens` or `max_tokens`, else DEFAULT_MAX_OUTPUT_TOKENS) at the highest output price — and the
real cost replaces the reservation after the call; a failed call releases it. Only what the bound does not see
can make a call cost more than its reservation: images beyond the estimate's 85 tokens, audio and files, and
tokens a provider adds of its own (a system prompt for tools).

A reached budget refuses with 429 budget_exceeded, or, when its scope names an over-budget route of the route's
tenant, sends the call there instead, without counting it against the budget that was reached. The budgets'
counters are admitted in one atomic step with the limits' (admission.py), which also settles them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.gateway.pipeline.errors import BudgetExceeded
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.policies.counters import MAX_COST, Counter, counter_key, window_bounds
from apps.gateway.pipeline.policies.limits import duration
from apps.gateway.pipeline.policies.scopes import Scope, scope_label
from apps.gateway.pipeline.snapshot import RouteEntry
from apps.providers.clients.tokens import prompt_tokens_at_most

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


def max_cost(body: dict[str, Any], route: RouteEntry) -> int:
    """The most the call may cost on `route`, in micro-dollars: its prompt's tokens at most (tokens.py) at the
    route's highest input price, and the most output tokens it asks for at the highest output price."""
    if not route.deployments:
        return 0
    pico = route.max_input_pico * prompt_tokens_at_most(body) + route.max_output_pico * max_output_tokens(body)
    return -(-pico // 1_000_000)  # rounded up to micro-dollars


@dataclass(frozen=True, slots=True)
class _Budget:
    scope: Scope
    metric: str  # the Limits field, and the counters' metric
    adjective: str
    limit: Decimal


class BudgetPolicy:
    """Budgets: a counted policy (admission.py: CountersStep admits it). Each of its counters is `about` a _Budget.
    Its state in a call (ctx.state) is the budget it was rerouted away from, once it was."""

    name = "budget"

    def counted(self, ctx: CallContext, scopes: Sequence[Scope]) -> list[Counter]:
        reached: tuple[str, int, str] | None = ctx.state.get(self.name)
        counters = []
        for scope in scopes:
            for metric, window, adjective in BUDGETS:
                limit = getattr(scope.limits, metric)
                if limit is None or (scope.kind, scope.id, metric) == reached:
                    continue
                start, end = window_bounds(window, ctx.now)
                key = counter_key(scope.kind, scope.id, metric, start)
                budget = _Budget(scope, metric, adjective, limit)
                counters.append(Counter(key, micro_dollars(limit), end, MAX_COST, budget))
        return counters

    def admitted(self, ctx: CallContext, counters: Sequence[Counter], used: Sequence[int]) -> None:
        return None

    def refused(self, ctx: CallContext, counters: Sequence[Counter], index: int, used: Sequence[int]) -> None:
        counter = counters[index]
        reached: _Budget = counter.about
        alias = reached.scope.limits.over_budget_route
        cheaper = ctx.snapshot.routes.get((ctx.route.tenant_id, alias)) if alias else None
        if self.name in ctx.state or cheaper is None or cheaper.route_id == ctx.route.route_id:
            raise BudgetExceeded(
                f"The {reached.adjective} budget of {scope_label(ctx, reached.scope)} (${reached.limit} USD) is "
                f"reached; it resets in {duration(counter.resets_at - ctx.now)}.",
                retry_after=counter.resets_at - ctx.now,
            )
        # The cheaper route, without counting the call against the budget it reached.
        ctx.route = cheaper
        ctx.state[self.name] = (reached.scope.kind, reached.scope.id, reached.metric)
        ctx.outcome(self.name, f"rerouted:{cheaper.alias}")
