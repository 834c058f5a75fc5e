"""Shared by the usage tests: a clock frozen on the 15th of the current month (never a pinned date), calls
recorded through the analytics service, and the limit usage reader chosen per test."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from apps.access.selectors import limit_usage, subscription_usage
from apps.analytics.selectors.limit_usage import CallLogLimitUsage
from apps.analytics.services import call_logs_record

# Mid-month and mid-day, so "earlier this month" and "earlier today" are distinct periods, whatever today is.
NOW = datetime.now(UTC).replace(day=15, hour=12, minute=30, second=20, microsecond=0)
_ids = itertools.count()


@pytest.fixture
def frozen_now(monkeypatch, settings):
    """The usage selectors read the time as NOW; the call log keeps calls of up to ~16 days ahead or back."""
    settings.ANALYTICS_LOG_RETENTION_DAYS = 3650
    monkeypatch.setattr(subscription_usage, "timezone", SimpleNamespace(now=lambda: NOW))
    return NOW


@pytest.fixture
def call_log_reader(monkeypatch):
    """Counts from the call log only, as in a process without the gateway (its live counters unregistered)."""
    monkeypatch.setattr(limit_usage, "_readers", {"record": CallLogLimitUsage()})


def record_calls(count: int, *, at: datetime, tenant_id: int, cost: str = "0", tokens: int = 0, **fields) -> None:
    """`count` calls recorded as the gateway's sink hands them to analytics: `tokens` prompt tokens each."""
    records = [
        {
            "request_id": f"req_usage_{next(_ids)}",
            "created": (at + timedelta(milliseconds=i)).timestamp(),
            "endpoint": "invoke",
            "tenant_id": tenant_id,
            "status": 200,
            "latency_ms": 50.0,
            "prompt_tokens": tokens,
            "cost": Decimal(cost),
            "key_prefix": "",
            **fields,
        }
        for i in range(count)
    ]
    call_logs_record(records=records, catch_up=False)
