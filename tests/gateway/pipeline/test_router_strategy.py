"""The route's strategy orders each priority group: weighted (priority), lowest recent latency, cheapest first."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from decimal import Decimal

import pytest

from apps.gateway.pipeline.router import LatencyTracker, RouteOutcome, Router
from apps.providers.clients.base import ProviderError
from tests.gateway.pipeline.fakes import deployment, route


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def strategy_route(strategy: str, *deps, retries: int = 0):
    return dataclasses.replace(route(*deps, retries=retries, deadline=1000.0), strategy=strategy)


def priced(dep_id: int, input_price: str, output_price: str, **kwargs):
    return dataclasses.replace(
        deployment(dep_id, **kwargs),
        input_price_per_mtok=Decimal(input_price),
        output_price_per_mtok=Decimal(output_price),
    )


def timed(clock: FakeClock, seconds: dict[int, float], failing: set[int] = frozenset()):
    """call() that takes `seconds[id]` on the fake clock and fails for the ids in `failing`; records the order."""
    calls: list[int] = []

    async def call(attempt):
        dep_id = attempt.deployment.deployment_id
        calls.append(dep_id)
        clock.now += seconds.get(dep_id, 0.0)
        if dep_id in failing:
            raise ProviderError("down", kind="server_error", retryable=True, status=500)
        return dep_id

    return call, calls


async def test_latency_tries_each_unmeasured_deployment_then_keeps_to_the_fastest():
    clock = FakeClock()
    router = Router(rng=random.Random(4), explore=0.0)
    r = strategy_route("latency", deployment(1), deployment(2), deployment(3))
    call, calls = timed(clock, {1: 0.9, 2: 0.2, 3: 0.5})
    for _ in range(3):
        await router.run(r, call, outcome=RouteOutcome(), clock=clock)
    assert sorted(calls) == [1, 2, 3]  # each measured once before any is repeated
    calls.clear()
    for _ in range(20):
        await router.run(r, call, outcome=RouteOutcome(), clock=clock)
    assert set(calls) == {2}
    assert router.latency.average(2) == pytest.approx(0.2)


async def test_latency_prefers_a_new_unmeasured_deployment_over_a_fast_measured_one():
    latency = LatencyTracker()
    latency.record(1, 0.01)
    router = Router(rng=random.Random(5), latency=latency, explore=0.0)
    r = strategy_route("latency", deployment(1, weight=1000), deployment(2, weight=1))
    assert [d.deployment_id for d in router.plan(r)] == [2, 1]


async def test_latency_explores_a_small_share_of_calls():
    latency = LatencyTracker()
    latency.record(1, 0.1)
    latency.record(2, 5.0)
    router = Router(rng=random.Random(6), latency=latency)  # the default share: 5 %
    r = strategy_route("latency", deployment(1), deployment(2))
    firsts = Counter(router.plan(r)[0].deployment_id for _ in range(4000))
    # Exploring calls take the weighted order, which puts the slow one first half the time: ~2.5 %.
    assert 0.01 < firsts[2] / 4000 < 0.05


async def test_latency_counts_failures_as_slow_and_fails_over_fastest_first():
    clock = FakeClock()
    latency = LatencyTracker(alpha=1.0)  # the newest sample only: the arithmetic stays readable
    for dep_id, seconds in {1: 0.3, 2: 0.1, 3: 0.2}.items():
        latency.record(dep_id, seconds)
    router = Router(rng=random.Random(7), latency=latency, explore=0.0)
    r = strategy_route("latency", deployment(1), deployment(2, timeout=7.0), deployment(3), deployment(4, priority=1))
    call, calls = timed(clock, {2: 0.05}, failing={2, 3})
    outcome = RouteOutcome()
    assert await router.run(r, call, outcome=outcome, clock=clock) == 1
    assert calls == [2, 3, 1]  # the fastest first, then the rest of the group by latency; group 1 not needed
    assert outcome.attempts == 3
    assert latency.average(2) == 7.0  # a quick failure is as slow as the deployment's timeout
    assert [d.deployment_id for d in router.plan(r)] == [1, 3, 2, 4]


async def test_cost_tries_the_cheapest_first_then_by_price_then_the_next_group():
    clock = FakeClock()
    router = Router(rng=random.Random(8))
    r = strategy_route(
        "cost",
        priced(1, "2.50", "10.00", weight=100),
        priced(2, "0.15", "0.60"),
        priced(3, "1.00", "5.00"),
        priced(4, "0.01", "0.01", priority=1),  # cheapest of all, but a fallback
    )
    for _ in range(20):
        assert [d.deployment_id for d in router.plan(r)] == [2, 3, 1, 4]
    call, calls = timed(clock, {}, failing={2, 3, 1})
    assert await router.run(r, call, outcome=RouteOutcome(), clock=clock) == 4
    assert calls == [2, 3, 1, 4]


async def test_cost_breaks_ties_by_weight():
    router = Router(rng=random.Random(9))
    r = strategy_route("cost", priced(1, "1", "1", weight=3), priced(2, "1", "1", weight=1), priced(3, "5", "5"))
    firsts = Counter(router.plan(r)[0].deployment_id for _ in range(4000))
    assert 0.70 < firsts[1] / 4000 < 0.80
    assert firsts[3] == 0


async def test_priority_strategy_ignores_latency_and_price():
    latency = LatencyTracker()
    latency.record(1, 9.0)
    latency.record(2, 0.1)
    router = Router(rng=random.Random(10), latency=latency, explore=0.0)
    r = route(priced(1, "0.01", "0.01", weight=3), priced(2, "9", "9", weight=1))  # strategy defaults to priority
    assert r.strategy == "priority"
    firsts = Counter(router.plan(r)[0].deployment_id for _ in range(4000))
    assert 0.70 < firsts[1] / 4000 < 0.80
