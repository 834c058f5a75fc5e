"""The limit step called directly: requests and tokens per minute, daily and monthly quotas, several scopes, the
plan's allowed models, X-RateLimit-* headers; on Redis and on the in-process counters."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from apps.gateway.adapters.redis_counters import RedisCounters, StoreErrorReport
from apps.gateway.pipeline.errors import LimitExceeded, LimitsUnavailable, ModelNotAllowed
from apps.gateway.pipeline.policies.admission import CountersStep
from apps.gateway.pipeline.policies.counters import counter_key, window_bounds
from apps.gateway.pipeline.policies.limits import LimitPolicy, duration
from apps.gateway.pipeline.snapshot import Limits
from apps.providers.clients.base import Usage
from tests.gateway.policies.conftest import APP, KEY_ID, NOW, PLAN, SUB, TENANT, closed_port, context, snapshot


async def test_requests_per_minute_admits_the_limit_then_refuses_until_the_minute_ends(counters, reports):
    step = CountersStep(counters, [LimitPolicy()], on_store_error=reports)
    snap = snapshot({("key", KEY_ID): Limits(requests_per_minute=2)})
    first, second = context(snap), context(snap)
    await step.admit(first)
    await step.admit(second)
    assert first.headers["X-RateLimit-Remaining-Requests"] == "1"
    assert second.headers["X-RateLimit-Remaining-Requests"] == "0"

    with pytest.raises(LimitExceeded) as refused:
        await step.admit(context(snap, now=NOW + 5))
    error = refused.value
    assert (error.status, error.code) == (429, "requests_per_minute_exceeded")
    assert "API key 'gwk_abcd1234'" in error.message
    assert error.retry_after == 45  # NOW is 10 s into its minute, this call 15 s
    assert error.headers() == {
        "Retry-After": "45",
        "X-RateLimit-Limit-Requests": "2",
        "X-RateLimit-Remaining-Requests": "0",
        "X-RateLimit-Reset-Requests": "45s",
    }
    assert error.envelope()["error"]["type"] == "rate_limit_error"

    next_minute = window_bounds("minute", NOW)[1] + 0.02
    again = context(snap, now=next_minute)
    await step.admit(again)
    assert again.headers["X-RateLimit-Remaining-Requests"] == "1"
    assert again.headers["X-RateLimit-Reset-Requests"] == "59.98s"
    assert reports == []


@pytest.mark.parametrize(
    ("field", "window", "code"),
    [("requests_per_day", "day", "daily_quota_exceeded"), ("requests_per_month", "month", "monthly_quota_exceeded")],
)
async def test_plan_quotas_count_per_subscription_and_reset_with_their_period(counters, reports, field, window, code):
    step = CountersStep(counters, [LimitPolicy()], on_store_error=reports)
    snap = snapshot({("plan", PLAN): Limits(**{field: 3})})
    for _ in range(3):
        await step.admit(context(snap, subscribed=True))
    with pytest.raises(LimitExceeded) as refused:
        await step.admit(context(snap, subscribed=True))
    end = window_bounds(window, NOW)[1]
    assert refused.value.code == code
    assert "your plan 'free' of service 'summarize'" in refused.value.message
    assert refused.value.retry_after == end - NOW
    assert refused.value.headers()["X-RateLimit-Reset-Requests"] == duration(end - NOW)
    assert counters.read([counter_key("subscription", SUB, field, window_bounds(window, NOW)[0])], NOW) == [3]

    await step.admit(context(snap, now=end, subscribed=True))  # the first instant of the next period
    # The same key without the subscription is not counted against the plan.
    await step.admit(context(snap))


async def test_the_tightest_of_several_scopes_refuses_and_fills_the_headers(counters, reports):
    step = CountersStep(counters, [LimitPolicy()], on_store_error=reports)
    snap = snapshot(
        {
            ("tenant", TENANT): Limits(requests_per_minute=100, requests_per_day=1000),
            ("app", APP): Limits(requests_per_minute=3),
            ("key", KEY_ID): Limits(requests_per_minute=50, tokens_per_minute=10_000),
            ("plan", PLAN): Limits(requests_per_month=20, tokens_per_minute=500),
        }
    )
    ctx = context(snap, subscribed=True)
    await step.admit(ctx)
    prompt = await ctx.prompt_tokens()
    assert ctx.headers == {
        "X-RateLimit-Limit-Requests": "3",
        "X-RateLimit-Remaining-Requests": "2",
        "X-RateLimit-Reset-Requests": "50s",
        "X-RateLimit-Limit-Tokens": "500",
        "X-RateLimit-Remaining-Tokens": str(500 - prompt),
        "X-RateLimit-Reset-Tokens": "50s",
    }
    await step.admit(context(snap, subscribed=True))
    await step.admit(context(snap, subscribed=True))
    with pytest.raises(LimitExceeded) as refused:
        await step.admit(context(snap, subscribed=True))
    assert refused.value.code == "requests_per_minute_exceeded"
    assert "app 'bot'" in refused.value.message
    # Nothing of the refused call was counted in any scope.
    day = counter_key("tenant", TENANT, "requests_per_day", window_bounds("day", NOW)[0])
    assert counters.read([day], NOW) == [3]


async def test_tokens_per_minute_admit_the_estimate_and_settle_on_the_real_usage(counters, reports):
    step = CountersStep(counters, [LimitPolicy()], on_store_error=reports)
    snap = snapshot({("app", APP): Limits(tokens_per_minute=1000)})
    key = counter_key("app", APP, "tokens_per_minute", window_bounds("minute", NOW)[0])

    served = context(snap)
    await step.admit(served)
    estimate = await served.prompt_tokens()
    assert counters.read([key], NOW) == [estimate]
    served.usage = Usage(prompt_tokens=40, completion_tokens=560)
    await step.after_call(served)
    await step.settled()
    assert counters.read([key], NOW) == [600]

    failed = context(snap)
    await step.admit(failed)
    assert counters.read([key], NOW) == [600 + estimate]
    await step.on_failure(failed, RuntimeError("upstream broke"))
    await step.settled()
    assert counters.read([key], NOW) == [600]

    big = context(snap, body={"model": "smart", "messages": [{"role": "user", "content": "word " * 500}]})
    with pytest.raises(LimitExceeded) as refused:
        await step.admit(big)
    assert refused.value.code == "tokens_per_minute_exceeded"
    assert refused.value.headers()["X-RateLimit-Remaining-Tokens"] == "400"


async def test_a_plan_refuses_a_model_it_does_not_allow(counters, reports):
    step = CountersStep(counters, [LimitPolicy()], on_store_error=reports)
    snap = snapshot({("plan", PLAN): Limits(allowed_models=frozenset({"cheap"}))})
    with pytest.raises(ModelNotAllowed) as refused:
        await step.admit(context(snap, subscribed=True))
    assert (refused.value.status, refused.value.code, refused.value.param) == (403, "model_not_allowed", "model")
    assert "'smart'" in refused.value.message
    assert "your plan 'free' of service 'summarize'" in refused.value.message


async def test_nothing_configured_for_the_call_never_reaches_the_store(reports):
    # An unreachable store: any attempt would be reported.
    step = CountersStep(
        RedisCounters(url=f"redis://127.0.0.1:{closed_port()}/0"), [LimitPolicy()], on_store_error=reports
    )
    for snap in (snapshot({}), snapshot({("app", APP + 1): Limits(requests_per_minute=1)})):
        ctx = context(snap)
        await step.admit(ctx)
        await step.after_call(ctx)
        assert ctx.headers == {}
    assert reports == []


@pytest.mark.parametrize("fail_open", [None, True, False])
async def test_an_unreachable_store_serves_or_refuses_by_the_tenants_setting(reports, fail_open):
    step = CountersStep(
        RedisCounters(url=f"redis://127.0.0.1:{closed_port()}/0"), [LimitPolicy()], on_store_error=reports
    )
    ctx = context(snapshot({("key", KEY_ID): Limits(requests_per_minute=5)}, fail_open=fail_open))
    if fail_open is False:
        with pytest.raises(LimitsUnavailable) as refused:
            await step.admit(ctx)
        assert (refused.value.status, refused.value.code) == (503, "limits_unavailable")
        assert reports == [("acme", "closed")]
    else:  # missing: fail open
        await step.admit(ctx)
        assert ctx.record.policy_outcomes == {"limits": "store unreachable: served"}
        assert reports == [("acme", "open")]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.02, "20ms"), (0, "0ms"), (1, "1s"), (1.5, "1.5s"), (360, "6m0s"), (86_399, "23h59m59s"), (3_600, "1h0m0s")],
)
def test_reset_durations_are_written_as_openai_writes_them(seconds, text):
    assert duration(seconds) == text


def test_store_errors_are_counted_each_time_and_logged_at_most_once_per_ten_seconds(caplog):
    report = StoreErrorReport()
    sample = {"tenant": "report-test", "mode": "closed"}
    before = REGISTRY.get_sample_value("gateway_limit_store_errors_total", sample) or 0
    with caplog.at_level(logging.WARNING, logger="apps.gateway.adapters.redis_counters"):
        for _ in range(3):
            report("report-test", "closed", ConnectionError("refused"))
    assert REGISTRY.get_sample_value("gateway_limit_store_errors_total", sample) == before + 3
    assert [r.getMessage() for r in caplog.records] == [
        "limit store unreachable (refused): refusing with 503 (tenant 'report-test' fails closed)"
    ]
