"""The control plane's reader of the live counters: what a scope used of each configured limit, what remains and
when it resets, from Redis or the in-process counters, and the call log while Redis is away."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.access.selectors import limit_usage
from apps.access.selectors.limit_usage import LimitUsageUnavailable, UsageScope
from apps.gateway.adapters.limit_usage import GatewayLimitUsage, limit_usage_read
from apps.gateway.adapters.redis_counters import RedisCounters
from apps.gateway.pipeline.policies.admission import CountersStep
from apps.gateway.pipeline.policies.budgets import BudgetPolicy
from apps.gateway.pipeline.policies.counters import window_bounds
from apps.gateway.pipeline.policies.limits import LimitPolicy
from apps.gateway.pipeline.snapshot import Limits
from tests.gateway.policies.conftest import NOW, PLAN, SUB, closed_port, context, snapshot

PLAN_LIMITS = Limits(requests_per_minute=10, requests_per_day=100, budget_per_month=Decimal("2.50"))


async def test_a_subscriptions_usage_is_read_in_its_current_windows(counters, reports):
    snap = snapshot({("plan", PLAN): PLAN_LIMITS})
    limits, budget = (
        CountersStep(counters, [LimitPolicy()], on_store_error=reports),
        CountersStep(counters, [BudgetPolicy()], on_store_error=reports),
    )
    for _ in range(3):
        ctx = context(snap, subscribed=True, body={"model": "smart", "messages": [], "max_tokens": 0})
        await limits.admit(ctx)
        await budget.admit(ctx)
        ctx.cost = Decimal("0.125")
        await budget.after_call(ctx)
        await budget.settled()

    usage = limit_usage_read(scope="subscription", scope_id=SUB, limits=PLAN_LIMITS, now=NOW, counters=counters)
    assert usage == {
        "requests_per_minute": {"used": 3, "limit": 10, "remaining": 7, "resets_at": window_bounds("minute", NOW)[1]},
        "requests_per_day": {"used": 3, "limit": 100, "remaining": 97, "resets_at": window_bounds("day", NOW)[1]},
        "budget_per_month": {
            "used": Decimal("0.375"),
            "limit": Decimal("2.50"),
            "remaining": Decimal("2.125"),
            "resets_at": window_bounds("month", NOW)[1],
        },
    }
    later = window_bounds("minute", NOW)[1] + 1  # the next minute: the minute's count starts again
    fields = {"requests_per_minute": 10, "tokens_per_minute": None}
    assert limit_usage_read(scope="subscription", scope_id=SUB, limits=fields, now=later, counters=counters) == {
        "requests_per_minute": {"used": 0, "limit": 10, "remaining": 10, "resets_at": window_bounds("minute", later)[1]}
    }


async def test_the_access_apps_reader_gets_readings_for_every_scope_asked(counters, reports):
    snap = snapshot({("plan", PLAN): PLAN_LIMITS})
    await CountersStep(counters, [LimitPolicy()], on_store_error=reports).admit(context(snap, subscribed=True))
    scope = UsageScope(kind="subscription", scope_id=SUB, tenant_id=1, app_id=7, service_id=5)
    asked = {scope: {"requests_per_day": Decimal(100), "budget_per_month": Decimal("2.50")}}
    readings = GatewayLimitUsage(counters)(scopes=asked, now=datetime.fromtimestamp(NOW, tz=UTC))
    day, month = (
        readings[("subscription", SUB)]["requests_per_day"],
        readings[("subscription", SUB)]["budget_per_month"],
    )
    assert (day.used, day.limit, day.remaining) == (1, 100, 99)
    assert day.resets_at == datetime.fromtimestamp(window_bounds("day", NOW)[1], tz=UTC)
    assert (month.used, month.remaining) == (0, Decimal("2.50"))


@pytest.mark.django_db
def test_while_the_store_is_unreachable_the_port_answers_from_the_call_log(monkeypatch):
    scope = UsageScope(kind="app", scope_id=7, tenant_id=1, app_id=7)
    reader = GatewayLimitUsage(RedisCounters(url=f"redis://127.0.0.1:{closed_port()}/0"))
    asked, now = {scope: {"requests_per_day": Decimal(5)}}, datetime.fromtimestamp(NOW, tz=UTC)
    with pytest.raises(LimitUsageUnavailable):
        reader(scopes=asked, now=now)
    monkeypatch.setattr(limit_usage, "_readers", {**limit_usage._readers, "live": reader})
    source, readings = limit_usage.limit_usage_read(scopes=asked, now=now)
    assert (source, readings[("app", 7)]["requests_per_day"].used) == ("call_log", 0)  # no calls logged
