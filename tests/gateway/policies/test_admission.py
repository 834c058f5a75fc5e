"""The counted policies' step (policies/admission.py): limits and budgets of a call admitted in ONE atomic step of
the counters, a refused call counted nowhere, and a budget's reroute admitted again with every policy's charges
(the plan's allowed models included); on Redis and on the in-process counters."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.gateway.pipeline.errors import BudgetExceeded, LimitExceeded, ModelNotAllowed
from apps.gateway.pipeline.policies.admission import CountersStep
from apps.gateway.pipeline.policies.budgets import BudgetPolicy
from apps.gateway.pipeline.policies.counters import counter_key, window_bounds
from apps.gateway.pipeline.policies.limits import LimitPolicy
from apps.gateway.pipeline.snapshot import Limits
from apps.providers.clients.base import Usage
from tests.gateway.policies.conftest import APP, CHEAP, KEY_ID, NOW, PLAN, SUB, TENANT, context, snapshot

CHAT = {"model": "smart", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 100}


class CountedAdmissions:
    """The counters as they are, with a count of their admissions (each one round trip on Redis)."""

    def __init__(self, counters) -> None:
        self._counters = counters
        self.remote = counters.remote
        self.admissions: list[int] = []  # how many counters each admission carried

    async def admit(self, counters, amounts, now):
        self.admissions.append(len(amounts))
        return await self._counters.admit(counters, amounts, now)

    async def add(self, keys, amounts, now):
        await self._counters.add(keys, amounts, now)

    def read(self, keys, now):
        return self._counters.read(keys, now)


def step_of(counters, reports) -> CountersStep:
    return CountersStep(counters, [LimitPolicy(), BudgetPolicy()], on_store_error=reports)


def minute(scope: str, scope_id: int, metric: str = "requests_per_minute") -> str:
    return counter_key(scope, scope_id, metric, window_bounds("minute", NOW)[0])


def day(scope: str, scope_id: int, metric: str = "budget_per_day") -> str:
    return counter_key(scope, scope_id, metric, window_bounds("day", NOW)[0])


async def test_limits_and_budgets_of_every_scope_are_one_admission(counters, reports):
    counted = CountedAdmissions(counters)
    step = step_of(counted, reports)
    everything = Limits(requests_per_minute=10, tokens_per_minute=10_000, budget_per_day=Decimal("1"))
    snap = snapshot({("tenant", TENANT): everything, ("app", APP): everything, ("plan", PLAN): everything})
    ctx = context(snap, body=dict(CHAT), subscribed=True)
    await step.admit(ctx)
    assert counted.admissions == [9]  # 3 scopes, each with requests, tokens and a budget: one round trip
    assert counters.read([minute("tenant", TENANT), minute("app", APP), minute("subscription", SUB)], NOW) == [1] * 3
    assert ctx.headers["X-RateLimit-Remaining-Requests"] == "9"

    ctx.usage, ctx.cost = Usage(5, 7), Decimal("0.000010")
    await step.after_call(ctx)
    await step.settled()  # the real tokens and cost instead of the estimate and the reservation, together
    assert counters.read([day("tenant", TENANT), day("app", APP), day("subscription", SUB)], NOW) == [10] * 3
    tokens = [minute(scope, scope_id, "tokens_per_minute") for scope, scope_id in (("app", APP), ("subscription", SUB))]
    assert counters.read(tokens, NOW) == [12, 12]


async def test_a_call_refused_by_a_budget_counts_against_no_limit(counters, reports):
    step = step_of(counters, reports)
    snap = snapshot(
        {
            ("key", KEY_ID): Limits(requests_per_minute=10, requests_per_day=100),
            ("app", APP): Limits(budget_per_day=Decimal("0.0001")),  # 100 micro-dollars: less than one call
        }
    )
    with pytest.raises(BudgetExceeded):
        await step.admit(context(snap, body=dict(CHAT)))
    requests_per_day = counter_key("key", KEY_ID, "requests_per_day", window_bounds("day", NOW)[0])
    assert counters.read([minute("key", KEY_ID), requests_per_day, day("app", APP)], NOW) == [0, 0, 0]


async def test_a_reroute_is_admitted_once_with_every_policys_charges_for_the_cheaper_route(counters, reports):
    counted = CountedAdmissions(counters)
    step = step_of(counted, reports)
    snap = snapshot(
        {
            ("tenant", TENANT): Limits(budget_per_day=Decimal("0.0001"), over_budget_route="cheap"),
            ("app", APP): Limits(requests_per_minute=5, budget_per_month=Decimal("5")),
        }
    )
    ctx = context(snap, body=dict(CHAT))
    await step.admit(ctx)
    assert ctx.route is CHEAP
    assert ctx.record.policy_outcomes == {"budget": "rerouted:cheap"}
    assert counted.admissions == [3, 2]  # refused whole, then again without the tenant's reached daily budget
    month = counter_key("app", APP, "budget_per_month", window_bounds("month", NOW)[0])
    # Counted once; CHEAP's input is free: 100 output tokens at $2 per million reserved, not on the tenant's day.
    assert counters.read([minute("app", APP), month, day("tenant", TENANT)], NOW) == [1, 200, 0]


async def test_a_reroute_to_a_model_the_plan_does_not_allow_is_refused(counters, reports):
    step = step_of(counters, reports)
    snap = snapshot(
        {
            ("tenant", TENANT): Limits(budget_per_day=Decimal("0.0001"), over_budget_route="cheap"),
            ("plan", PLAN): Limits(requests_per_minute=5, allowed_models=frozenset({"smart"})),
        }
    )
    with pytest.raises(ModelNotAllowed) as refused:
        await step.admit(context(snap, body=dict(CHAT), subscribed=True))
    assert "The model 'cheap' is not allowed by your plan 'free'" in refused.value.message
    assert counters.read([minute("subscription", SUB)], NOW) == [0]


async def test_a_new_snapshot_within_the_minute_applies_its_limits_to_the_next_call(counters, reports):
    # The step keeps what the policies declare for a minute: a new snapshot must not reuse it.
    step = step_of(counters, reports)
    loose = snapshot({("key", KEY_ID): Limits(requests_per_minute=5)})
    for _ in range(3):
        await step.admit(context(loose))
    tight = snapshot({("key", KEY_ID): Limits(requests_per_minute=3)})
    with pytest.raises(LimitExceeded) as refused:
        await step.admit(context(tight, now=NOW + 1))
    assert refused.value.code == "requests_per_minute_exceeded"
    ctx = context(snapshot({("key", KEY_ID): Limits(requests_per_minute=10)}), now=NOW + 2)
    await step.admit(ctx)
    assert ctx.headers["X-RateLimit-Limit-Requests"] == "10"
    assert ctx.headers["X-RateLimit-Remaining-Requests"] == "6"


async def test_the_next_minute_counts_on_new_counters(counters, reports):
    step = step_of(counters, reports)
    snap = snapshot({("key", KEY_ID): Limits(requests_per_minute=1)})
    await step.admit(context(snap))
    with pytest.raises(LimitExceeded):
        await step.admit(context(snap, now=NOW + 1))
    await step.admit(context(snap, now=window_bounds("minute", NOW)[1]))  # the first instant of the next minute


async def test_every_call_over_a_reached_budget_is_rerouted_and_every_call_of_a_refused_model_refused(
    counters, reports
):
    # What is kept for a minute is what the first round declares: a reroute and a refusal are decided per call.
    step = step_of(counters, reports)
    snap = snapshot({("tenant", TENANT): Limits(budget_per_day=Decimal("0.0001"), over_budget_route="cheap")})
    for _ in range(3):
        ctx = context(snap, body=dict(CHAT))
        await step.admit(ctx)
        assert ctx.route is CHEAP
    plan = snapshot({("plan", PLAN): Limits(allowed_models=frozenset({"cheap"}))})
    for _ in range(2):
        with pytest.raises(ModelNotAllowed):
            await step.admit(context(plan, body=dict(CHAT), subscribed=True))
