"""The budget step called directly: the maximum cost reserved at admission, settled to the real cost or released,
a reached budget refused or sent to the over-budget route; on Redis and on the in-process counters."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from apps.gateway.pipeline.errors import BudgetExceeded, ModelNotAllowed
from apps.gateway.pipeline.policies.admission import CountersStep
from apps.gateway.pipeline.policies.budgets import DEFAULT_MAX_OUTPUT_TOKENS, BudgetPolicy, max_cost, max_output_tokens
from apps.gateway.pipeline.policies.counters import counter_key, window_bounds
from apps.gateway.pipeline.policies.limits import LimitPolicy
from apps.gateway.pipeline.snapshot import Limits, RouteEntry
from apps.providers.clients.tokens import prompt_tokens_at_most
from tests.gateway.policies.conftest import (
    APP,
    CHEAP,
    KEY_ID,
    NOW,
    PLAN,
    SUB,
    TENANT,
    context,
    deployment,
    snapshot,
)

# SMART's deployment costs $1 per million input tokens and $2 per million output tokens: 1 and 2 micro-dollars.
CHAT = {"model": "smart", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 100}
PROMPT_AT_MOST = 22  # tokens: what a budget reserves CHAT's prompt at (tokens.prompt_tokens_at_most)


def day_key(scope: str, scope_id: int) -> str:
    return counter_key(scope, scope_id, "budget_per_day", window_bounds("day", NOW)[0])


@pytest.mark.parametrize(
    ("prices", "body"),
    [
        ([("1.00", "2.00")], CHAT),
        ([("0.150000", "0.600000"), ("2.500000", "10.000000")], CHAT),  # the highest of each, not of one deployment
        ([("0.000001", "0.000003")], CHAT),  # a sixth of a cent per billion tokens: still rounded up to 1
        ([("0.0000004", "0.0000001")], CHAT),  # more decimals than prices are stored with: never reserved less
        ([("3.75", "15")], {"model": "smart", "messages": [{"role": "user", "content": "héllo ✓" * 40}]}),
        ([("0.02", "0")], {"model": "smart", "input": ["one", "two"]}),  # embeddings: no output
    ],
)
def test_the_reservation_in_integers_is_the_exact_price_rounded_up(prices, body):
    deployments = tuple(deployment(i, input_price=p_in, output_price=p_out) for i, (p_in, p_out) in enumerate(prices))
    route = RouteEntry(route_id=9, tenant_id=TENANT, alias="smart", deadline=10, retries=0, deployments=deployments)
    input_price = max(Decimal(p_in) for p_in, _ in prices)
    output_price = max(Decimal(p_out) for _, p_out in prices)
    exact = input_price * prompt_tokens_at_most(body) + output_price * max_output_tokens(body)  # micro-dollars
    assert exact <= max_cost(body, route) < exact + 1


async def test_the_maximum_cost_is_reserved_then_settled_to_the_real_cost(counters, reports):
    step = CountersStep(counters, [BudgetPolicy()], on_store_error=reports)
    snap = snapshot({("app", APP): Limits(budget_per_day=Decimal("1.00"), budget_per_month=Decimal("10"))})
    ctx = context(snap, body=dict(CHAT))
    await step.admit(ctx)
    # The prompt at most (3 to prime the reply, 4 for the message, the 4 bytes of "user" and the 11 of "hello
    # there") at $1 per million, and 100 output tokens at $2.
    reserved = PROMPT_AT_MOST * 1 + 100 * 2
    month = counter_key("app", APP, "budget_per_month", window_bounds("month", NOW)[0])
    assert counters.read([day_key("app", APP), month], NOW) == [reserved, reserved]

    ctx.cost = Decimal("0.0000421")  # 42.1 micro-dollars: counted as 43, never less than spent
    await step.after_call(ctx)
    await step.settled()
    assert counters.read([day_key("app", APP), month], NOW) == [43, 43]


async def test_a_failed_call_releases_its_reservation(counters, reports):
    step = CountersStep(counters, [BudgetPolicy()], on_store_error=reports)
    snap = snapshot({("key", KEY_ID): Limits(budget_per_day=Decimal("1.00"))})
    ctx = context(snap, body={"model": "smart", "messages": [{"role": "user", "content": "hi"}]})
    await step.admit(ctx)
    assert counters.read([day_key("key", KEY_ID)], NOW) == [3 + 4 + 4 + 2 + DEFAULT_MAX_OUTPUT_TOKENS * 2]
    await step.on_failure(ctx, RuntimeError("upstream broke"))
    await step.settled()
    assert counters.read([day_key("key", KEY_ID)], NOW) == [0]


async def test_a_call_that_could_overspend_is_refused_with_budget_exceeded(counters, reports):
    step = CountersStep(counters, [BudgetPolicy()], on_store_error=reports)
    snap = snapshot({("plan", PLAN): Limits(budget_per_day=Decimal("0.0005"))})  # 500 micro-dollars
    first = context(snap, body=dict(CHAT), subscribed=True)
    await step.admit(first)
    first.cost = Decimal("0.0003")
    await step.after_call(first)
    await step.settled()
    with pytest.raises(BudgetExceeded) as refused:  # 300 spent + 222 reserved > 500
        await step.admit(context(snap, body=dict(CHAT), subscribed=True))
    error = refused.value
    assert (error.status, error.code, error.type) == (429, "budget_exceeded", "rate_limit_error")
    assert "daily budget of your plan 'free' of service 'summarize' ($0.0005 USD)" in error.message
    assert error.retry_after == window_bounds("day", NOW)[1] - NOW
    assert counters.read([counter_key("subscription", SUB, "budget_per_day", window_bounds("day", NOW)[0])], NOW) == [
        300
    ]
    # A smaller answer still fits.
    await step.admit(context(snap, body={**CHAT, "max_completion_tokens": 10}, subscribed=True))


async def test_a_reached_budget_sends_the_call_to_its_over_budget_route_without_reserving_against_it(counters, reports):
    step = CountersStep(counters, [BudgetPolicy()], on_store_error=reports)
    snap = snapshot(
        {
            ("tenant", TENANT): Limits(budget_per_day=Decimal("0.0001"), over_budget_route="cheap"),
            ("app", APP): Limits(budget_per_month=Decimal("5")),
        }
    )
    ctx = context(snap, body=dict(CHAT))
    await step.admit(ctx)
    assert ctx.route is CHEAP
    assert ctx.record.policy_outcomes == {"budget": "rerouted:cheap"}
    month = counter_key("app", APP, "budget_per_month", window_bounds("month", NOW)[0])
    # CHEAP's input is free: only the 100 output tokens at $2 per million are reserved, and not on the tenant's day.
    assert counters.read([day_key("tenant", TENANT), month], NOW) == [0, 200]


@pytest.mark.parametrize(
    ("allowed", "rerouted"), [(None, True), (frozenset({"smart", "cheap"}), True), (frozenset({"smart"}), False)]
)
async def test_a_plans_reached_budget_sends_its_subscriptions_calls_to_the_plans_over_budget_route(
    counters, reports, allowed, rerouted
):
    # The plan's models allowed still hold on the cheaper route: outside them the call is refused (403).
    step = CountersStep(counters, [LimitPolicy(), BudgetPolicy()], on_store_error=reports)
    plan = Limits(budget_per_day=Decimal("0.0001"), over_budget_route="cheap", allowed_models=allowed)
    ctx = context(snapshot({("plan", PLAN): plan}), body=dict(CHAT), subscribed=True)
    if rerouted:
        await step.admit(ctx)
        assert ctx.route is CHEAP
        assert ctx.record.policy_outcomes == {"budget": "rerouted:cheap"}
    else:
        with pytest.raises(ModelNotAllowed, match="'cheap' is not allowed by your plan 'free'"):
            await step.admit(ctx)
    assert counters.read([day_key("subscription", SUB)], NOW) == [0]  # the budget it reached was not charged


async def test_without_an_over_budget_route_of_the_tenant_the_call_is_refused(counters, reports):
    step = CountersStep(counters, [BudgetPolicy()], on_store_error=reports)
    snap = snapshot({("tenant", TENANT): Limits(budget_per_day=Decimal("0.0001"), over_budget_route="gone")})
    with pytest.raises(BudgetExceeded) as refused:
        await step.admit(context(snap, body=dict(CHAT)))
    assert "daily budget of tenant 'acme'" in refused.value.message


async def test_concurrent_calls_never_reserve_more_than_the_budget(counters, reports):
    step = CountersStep(counters, [BudgetPolicy()], on_store_error=reports)
    snap = snapshot({("app", APP): Limits(budget_per_day=Decimal("0.01"))})  # 10,000 micro-dollars
    calls = [context(snap, body=dict(CHAT)) for _ in range(200)]
    outcomes = await asyncio.gather(*(step.admit(ctx) for ctx in calls), return_exceptions=True)
    admitted = [ctx for ctx, outcome in zip(calls, outcomes, strict=True) if outcome is None]
    per_call = PROMPT_AT_MOST + 200
    assert len(admitted) == 10_000 // per_call
    assert all(isinstance(o, BudgetExceeded) for o in outcomes if o is not None)
    assert counters.read([day_key("app", APP)], NOW) == [len(admitted) * per_call]
    assert reports == []  # the store answered every one
