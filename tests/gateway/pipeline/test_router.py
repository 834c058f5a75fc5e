from __future__ import annotations

import random
from collections import Counter

import pytest

from apps.gateway.pipeline.errors import (
    InvalidRequest,
    NoHealthyDeployment,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from apps.gateway.pipeline.router import CircuitBreaker, RouteOutcome, Router
from apps.providers.clients.base import ProviderError
from tests.gateway.pipeline.fakes import deployment, route


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def failing(kind: str, *, retryable: bool = True, status: int | None = None) -> ProviderError:
    return ProviderError(f"{kind} failure", kind=kind, retryable=retryable, status=status)


def script(outcomes: dict[int, list]):
    """call() that answers per deployment id from a list of results or exceptions; records the order."""
    calls: list[int] = []

    async def call(attempt):
        dep_id = attempt.deployment.deployment_id
        calls.append(dep_id)
        result = outcomes[dep_id].pop(0) if outcomes[dep_id] else "ok"
        if isinstance(result, Exception):
            raise result
        return f"{result}-{dep_id}"

    return call, calls


async def test_weighted_choice_follows_the_weights():
    router = Router(rng=random.Random(1))
    r = route(deployment(1, weight=3), deployment(2, weight=1))
    picks = Counter(router.plan(r)[0].deployment_id for _ in range(4000))
    assert 0.70 < picks[1] / 4000 < 0.80


async def test_fallback_priority_is_tried_only_after_the_first_group():
    router = Router(rng=random.Random(2))
    r = route(deployment(1, priority=1), deployment(2, priority=0), deployment(3, priority=0))
    for _ in range(50):
        assert router.plan(r)[-1].deployment_id == 1


@pytest.mark.parametrize("kind", ["timeout", "connect", "rate_limited", "server_error", "bad_response"])
async def test_retryable_failure_is_retried_then_fails_over(kind, monkeypatch):
    monkeypatch.setattr("apps.gateway.pipeline.router.BACKOFF_BASE", 0.001)
    router = Router(rng=random.Random(3))
    call, calls = script({1: [failing(kind), failing(kind)], 2: []})
    outcome = RouteOutcome()
    result = await router.run(
        route(deployment(1, priority=0), deployment(2, priority=1), retries=1), call, outcome=outcome
    )
    assert result == "ok-2"
    assert calls == [1, 1, 2]
    assert outcome.attempts == 3
    assert outcome.deployment.deployment_id == 2


async def test_client_error_from_provider_is_a_400_and_not_retried():
    router = Router()
    call, calls = script({1: [failing("bad_request", retryable=False, status=400)], 2: []})
    with pytest.raises(InvalidRequest):
        await router.run(route(deployment(1), deployment(2, priority=1)), call, outcome=RouteOutcome())
    assert calls == [1]


async def test_auth_failure_skips_to_the_next_deployment_without_retry():
    router = Router()
    call, calls = script({1: [failing("auth", retryable=False, status=401)], 2: []})
    assert await router.run(route(deployment(1), deployment(2, priority=1)), call, outcome=RouteOutcome()) == "ok-2"
    assert calls == [1, 2]


@pytest.mark.parametrize(
    ("kind", "error"),
    [("timeout", UpstreamTimeout), ("rate_limited", RateLimited), ("server_error", UpstreamError)],
)
async def test_all_deployments_failing_maps_to_the_right_error(kind, error, monkeypatch):
    monkeypatch.setattr("apps.gateway.pipeline.router.BACKOFF_BASE", 0.001)
    router = Router(breaker=CircuitBreaker(threshold=100))
    call, _ = script({1: [failing(kind)] * 5, 2: [failing(kind)] * 5})
    with pytest.raises(error):
        await router.run(route(deployment(1), deployment(2, priority=1)), call, outcome=RouteOutcome())


async def test_breaker_opens_after_threshold_and_probes_after_cooldown():
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    router = Router(breaker=breaker)
    r = route(deployment(1), retries=0)
    for _ in range(2):
        call, _ = script({1: [failing("server_error")]})
        with pytest.raises(UpstreamError):
            await router.run(r, call, outcome=RouteOutcome())
    assert breaker.state(1) == "open"
    call, calls = script({1: []})
    with pytest.raises(NoHealthyDeployment):
        await router.run(r, call, outcome=RouteOutcome())
    assert calls == []  # an open breaker keeps traffic away
    clock.now += 31
    assert breaker.state(1) == "half_open"
    assert breaker.acquire(1) is True
    assert breaker.acquire(1) is False  # one probe at a time
    breaker.record_success(1)
    assert breaker.state(1) == "closed"


async def test_failed_probe_reopens_the_breaker():
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.record_failure(1)
    clock.now += 11
    assert breaker.acquire(1)
    breaker.record_failure(1)
    assert breaker.state(1) == "open"


async def test_deadline_bounds_every_attempt():
    clock = FakeClock()
    timeouts = []

    async def call(attempt):
        timeouts.append(attempt.timeout)
        clock.now += 4
        raise failing("timeout")

    router = Router(breaker=CircuitBreaker(threshold=100))
    r = route(deployment(1, timeout=30), deployment(2, timeout=30, priority=1), deadline=10, retries=0)
    with pytest.raises(UpstreamTimeout):
        await router.run(r, call, outcome=RouteOutcome(), clock=clock)
    assert timeouts == [10, 6]


async def test_a_refused_credential_is_not_quoted_to_the_caller():
    router = Router()
    leak = ProviderError("Incorrect API key provided: sk-proj-abcd1234", kind="auth", retryable=False, status=401)
    call, _ = script({1: [leak]})
    with pytest.raises(UpstreamError) as excinfo:
        await router.run(route(deployment(1)), call, outcome=RouteOutcome())
    assert "sk-proj" not in excinfo.value.message
    assert "refused its credentials" in excinfo.value.message
