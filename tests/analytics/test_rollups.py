"""Rollups against the raw logs they summarise: sums exact, percentiles within one histogram bucket, any
period recomputable, hours and days equal to the minutes they are made of."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from apps.analytics import histogram
from apps.analytics.models import CallLog, CallRollup
from apps.analytics.services.calls import call_logs_record
from apps.analytics.services.rollups import rollups_catch_up, rollups_compute, rollups_recompute, rollups_refresh
from tests.clock import days_ago_at

pytestmark = pytest.mark.django_db

NOW = days_ago_at(2, 15, 42, 30)
SERVICES = [None, 11, 12]
APPS = [1, 2]
MODELS = ["gpt-4o-mini", "claude-3-5-haiku"]


def _records(count: int, *, start: datetime, span: timedelta, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        created = start + span * rng.random()
        status = rng.choice([200] * 8 + [429, 502])
        records.append(
            {
                "request_id": f"req-{seed}-{i}",
                "created": created.timestamp(),
                "endpoint": "chat",
                "stream": rng.random() < 0.3,
                "tenant_id": rng.choice([1, 1, 1, 2]),
                "app_id": rng.choice(APPS),
                "key_prefix": "",
                "service_id": rng.choice(SERVICES),
                "model": rng.choice(MODELS),
                "status": status,
                "error_type": {429: "rate_limited", 502: "upstream_error"}.get(status, ""),
                "latency_ms": rng.lognormvariate(5, 1.2),
                "overhead_ms": rng.random() * 3,
                "prompt_tokens": rng.randint(1, 4000),
                "completion_tokens": rng.randint(0, 800),
                "cost": Decimal(rng.randint(0, 10**6)) / Decimal(10**8),
                "cache_hit": rng.random() < 0.1,
            }
        )
    return records


def _exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@pytest.fixture
def logs(settings):
    settings.ANALYTICS_LOG_RETENTION_DAYS = 3650  # NOW is two days back: keep its logs
    records = _records(3000, start=NOW - timedelta(hours=3), span=timedelta(hours=3))
    records.append({**records[0], "request_id": "no-tenant", "tenant_id": None, "status": 401})
    call_logs_record(records=records, catch_up=False)  # the tests roll up themselves, at NOW
    return records


def _totals_by(rows, key):
    totals = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        entry = totals[key(row)]
        entry["calls"] += 1
        entry["errors"] += row["status"] >= 400
        entry["server_errors"] += row["status"] >= 500
        entry["prompt_tokens"] += row["prompt_tokens"]
        entry["completion_tokens"] += row["completion_tokens"]
        entry["cost"] += row["cost"]
        entry["cache_hits"] += row["cache_hit"]
        entry["streams"] += row["stream"]
    return totals


@pytest.mark.parametrize("granularity", ["minute", "hour", "day"])
def test_rollups_match_the_raw_logs_exactly_for_counts_tokens_and_cost(logs, settings, granularity):
    settings.ANALYTICS_ROLLUP_RETENTION_DAYS = {"minute": 3650, "hour": 3650, "day": 3650}
    rollups_recompute(start=NOW - timedelta(hours=4), end=NOW, now=NOW)
    tenant_rows = [r for r in logs if r["tenant_id"] is not None]

    def dims(row):
        return (row["tenant_id"], row["app_id"], row["service_id"] or 0, row["model"])

    expected = _totals_by(tenant_rows, dims)
    actual = defaultdict(lambda: defaultdict(Decimal))
    for rollup in CallRollup.objects.filter(granularity=granularity):
        entry = actual[(rollup.tenant_id, rollup.app_id, rollup.service_id, rollup.model)]
        for name in ("calls", "errors", "server_errors", "prompt_tokens", "completion_tokens", "cost", "cache_hits"):
            entry[name] += getattr(rollup, name)
        entry["streams"] += rollup.streams
        assert sum(rollup.latency_histogram) == rollup.calls
        assert sum(rollup.error_types.values()) == rollup.errors
    assert {k: dict(v) for k, v in actual.items()} == {k: dict(v) for k, v in expected.items()}


def test_percentiles_are_within_one_bucket_of_the_exact_value(logs, settings):
    rollups_compute(granularity="minute", start=NOW - timedelta(hours=4), end=NOW, now=NOW)
    rollups_compute(granularity="hour", start=NOW - timedelta(hours=4), end=NOW, now=NOW)
    latencies = defaultdict(list)
    for row in logs:
        if row["tenant_id"] == 1:
            latencies[datetime.fromtimestamp(row["created"], UTC).replace(minute=0, second=0, microsecond=0)].append(
                row["latency_ms"]
            )
    hours = CallRollup.objects.filter(granularity="hour", tenant_id=1)
    for hour, values in latencies.items():
        merged = histogram.merge(r.latency_histogram for r in hours if r.bucket == hour)
        for q in (0.5, 0.95, 0.99):
            estimate, exact = histogram.percentile(merged, q), _exact_percentile(values, q)
            assert abs(histogram.bucket_index(estimate) - histogram.bucket_index(exact)) <= 1, (hour, q)


def test_hours_are_the_sum_of_their_minutes_and_days_of_their_hours(logs):
    rollups_recompute(start=NOW - timedelta(hours=4), end=NOW, now=NOW)
    by_granularity = {
        g: sorted(
            (r.tenant_id, r.calls, r.prompt_tokens, r.cost, tuple(r.latency_histogram))
            for r in CallRollup.objects.filter(granularity=g)
        )
        for g in ("minute", "hour", "day")
    }
    totals = {g: sum(row[1] for row in rows) for g, rows in by_granularity.items()}
    assert totals == {"minute": 3000, "hour": 3000, "day": 3000}
    assert histogram.merge(r[4] for r in by_granularity["minute"]) == histogram.merge(
        r[4] for r in by_granularity["day"]
    )


def test_recomputing_a_period_replaces_its_buckets_and_keeps_the_others(logs):
    rollups_compute(granularity="minute", start=NOW - timedelta(hours=4), end=NOW, now=NOW)
    before = CallRollup.objects.count()
    assert rollups_compute(granularity="minute", start=NOW - timedelta(hours=4), end=NOW, now=NOW) == before
    assert CallRollup.objects.count() == before  # idempotent: no doubles
    CallLog.objects.filter(created_at__gte=NOW - timedelta(minutes=30)).delete()
    rollups_compute(granularity="minute", start=NOW - timedelta(minutes=30), end=NOW, now=NOW)
    assert not CallRollup.objects.filter(bucket__gte=NOW - timedelta(minutes=29)).exists()
    assert CallRollup.objects.filter(bucket__lt=NOW - timedelta(minutes=31)).exists()


def test_a_period_past_log_retention_keeps_its_rollups(logs, settings):
    rollups_compute(granularity="minute", start=NOW - timedelta(hours=4), end=NOW, now=NOW)
    count = CallRollup.objects.count()
    CallLog.objects.all().delete()
    settings.ANALYTICS_LOG_RETENTION_DAYS = 1
    # Ten days later the logs of that day are gone: recomputing must not turn their rollups into nothing.
    assert rollups_compute(granularity="minute", start=NOW - timedelta(hours=4), end=NOW, now=NOW + timedelta(10)) == 0
    assert CallRollup.objects.count() == count


def test_refresh_covers_the_look_back_and_late_records_are_caught_up(settings):
    settings.ANALYTICS_LOG_RETENTION_DAYS = 3650
    settings.ANALYTICS_ROLLUP_LOOKBACK_MINUTES = 10
    recent = _records(100, start=NOW - timedelta(minutes=5), span=timedelta(minutes=4))
    call_logs_record(records=recent, catch_up=False)  # the clock of this test is NOW, not the writer's
    assert rollups_refresh(now=NOW).keys() == {"minute", "hour"}
    assert sum(r.calls for r in CallRollup.objects.filter(granularity="minute")) == 100
    assert sum(r.calls for r in CallRollup.objects.filter(granularity="hour")) == 100
    assert not CallRollup.objects.filter(granularity="day").exists()  # days have their own, slower beat
    rollups_refresh(granularities=("day",), now=NOW)
    assert sum(r.calls for r in CallRollup.objects.filter(granularity="day")) == 100
    # The database was away for an hour: records of 40-50 minutes ago arrive now, past the look-back.
    late = _records(50, start=NOW - timedelta(minutes=50), span=timedelta(minutes=10), seed=9)
    call_logs_record(records=late, catch_up=False)
    rollups_catch_up(oldest=NOW - timedelta(minutes=50), now=NOW)
    assert sum(r.calls for r in CallRollup.objects.filter(granularity="minute")) == 150
    assert sum(r.calls for r in CallRollup.objects.filter(granularity="hour")) == 150


def test_the_command_recomputes_a_period(logs, settings):
    settings.ANALYTICS_LOG_RETENTION_DAYS = 3650
    call_command("rollups_recompute", "--from", (NOW - timedelta(hours=4)).isoformat(), "--to", NOW.isoformat())
    assert sum(r.calls for r in CallRollup.objects.filter(granularity="minute")) == 3000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "not an ISO 8601 time"),
        (["--from", "2026-11-02", "--to", "2026-11-01"], "--from must be before --to"),
        (["--from", "2020-01-01", "--to", "2026-01-01"], "longer than 400 days"),
    ],
)
def test_the_command_refuses_impossible_periods(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rollups_recompute", *args)
