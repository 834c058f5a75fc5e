"""The value of each alert rule's metric at one moment, read from minute rollups and the call log.

Queries per evaluation, however many rules: per tenant one aggregate over its minute rollups (every rule's sums
as FILTERed SUMs of the same scan) and, when it has p95 rules with enough calls, one read of the latency
histograms they need; plus one call-log query for every breaker rule of every tenant. Rollups lag the calls
by up to a refresh interval (apps/analytics/services/rollups.py), and so do the metrics."""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import reduce

from django.db.models import Q, Sum

from apps.analytics import histogram
from apps.analytics.models import AlertMetric, AlertRule, CallLog, CallRollup, Granularity
from apps.analytics.models.rollups import LATENCY_COLUMNS

PRECISION = Decimal("0.000001")
ROLLUP_METRICS = {AlertMetric.ERROR_RATE, AlertMetric.P95_LATENCY, AlertMetric.DAILY_SPEND}


def _decimal(value: float | Decimal) -> Decimal:
    return Decimal(value).quantize(PRECISION)


def _start(rule: AlertRule, now: datetime) -> datetime:
    """The earliest moment the rule looks at. A minute bucket is in the window when it starts after this:
    a 5-minute window at 12:30:20 reads the buckets 12:26 to 12:30 (the last one still filling)."""
    if rule.metric == AlertMetric.DAILY_SPEND:
        # The bucket of 00:00 starts exactly at midnight: one microsecond earlier keeps it in (bucket > start).
        return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(microseconds=1)
    return now - timedelta(minutes=rule.window_minutes)


def _scope(rule: AlertRule) -> Q:
    scope = Q()
    if rule.service_id:
        scope &= Q(service_id=rule.service_id)
    if rule.model:
        scope &= Q(model=rule.model)
    return scope


def _in_scope(rule: AlertRule, service_id: int | None, model: str) -> bool:
    """The same test as _scope(), on a row already read."""
    return (not rule.service_id or service_id == rule.service_id) and (not rule.model or model == rule.model)


def _tenant_rollup_sums(tenant_id: int, rules: Sequence[AlertRule], now: datetime) -> dict[str, Decimal | int]:
    """Every rule's sums over its own window and scope, in one query: SUM(...) FILTER (WHERE ...) per rule."""
    sums = {}
    for rule in rules:
        where = Q(bucket__gt=_start(rule, now)) & _scope(rule)
        if rule.metric == AlertMetric.DAILY_SPEND:
            sums[f"cost_{rule.pk}"] = Sum("cost", filter=where)
        else:
            sums[f"calls_{rule.pk}"] = Sum("calls", filter=where)
            sums[f"errors_{rule.pk}"] = Sum("server_errors", filter=where)
    earliest = min(_start(rule, now) for rule in rules)
    rows = CallRollup.objects.filter(
        tenant_id=tenant_id, granularity=Granularity.MINUTE, bucket__gt=earliest, bucket__lte=now
    )
    return {name: value or 0 for name, value in rows.aggregate(**sums).items()}


def _p95_values(tenant_id: int, rules: Sequence[AlertRule], now: datetime) -> dict[int, Decimal | None]:
    """The p95 latency of each rule over its window, from the merged histograms of the minute rows it covers."""
    earliest = min(_start(rule, now) for rule in rules)
    # The rows any of the rules reads; an unscoped rule reads them all (and Q() | Q(x) would be just Q(x)).
    scopes = [_scope(rule) for rule in rules]
    wanted = Q() if not all(scopes) else reduce(operator.or_, scopes)
    rows = list(
        CallRollup.objects.filter(
            wanted,
            tenant_id=tenant_id,
            granularity=Granularity.MINUTE,
            bucket__gt=earliest,
            bucket__lte=now,
            calls__gt=0,
        ).values_list("bucket", "service_id", "model", *LATENCY_COLUMNS)
    )
    values: dict[int, Decimal | None] = {}
    for rule in rules:
        start, merged = _start(rule, now), histogram.empty()
        for bucket, service_id, model, *counts in rows:
            if bucket > start and _in_scope(rule, service_id, model):
                histogram.add_into(merged, counts)
        p95 = histogram.percentile(merged, 0.95)
        values[rule.pk] = None if p95 is None else _decimal(p95)
    return values


def _rollup_values(tenant_id: int, rules: Sequence[AlertRule], now: datetime) -> dict[int, Decimal | None]:
    sums = _tenant_rollup_sums(tenant_id, rules, now)
    values: dict[int, Decimal | None] = {}
    latency_rules = []
    for rule in rules:
        if rule.metric == AlertMetric.DAILY_SPEND:
            values[rule.pk] = _decimal(sums[f"cost_{rule.pk}"])
            continue
        calls = sums[f"calls_{rule.pk}"]
        if calls < rule.min_calls:
            values[rule.pk] = None
        elif rule.metric == AlertMetric.ERROR_RATE:
            values[rule.pk] = _decimal(100 * sums[f"errors_{rule.pk}"] / calls)
        else:
            latency_rules.append(rule)
    if latency_rules:
        values.update(_p95_values(tenant_id, latency_rules, now))
    return values


def _breaker_values(rules: Sequence[AlertRule], now: datetime) -> dict[int, Decimal]:
    """How many calls in each rule's window (and scope) opened a deployment's circuit breaker."""
    earliest = min(_start(rule, now) for rule in rules)
    openings = CallLog.objects.filter(
        created_at__gt=earliest,
        created_at__lte=now,
        tenant_id__in={rule.tenant_id for rule in rules},
        breaker_opened_id__isnull=False,
    ).values_list("tenant_id", "created_at", "service_id", "model")
    by_tenant = defaultdict(list)
    for tenant_id, created_at, service_id, model in openings:
        by_tenant[tenant_id].append((created_at, service_id, model))
    values = {}
    for rule in rules:
        start = _start(rule, now)
        opened = sum(when > start and _in_scope(rule, *scope) for when, *scope in by_tenant[rule.tenant_id])
        values[rule.pk] = Decimal(opened)
    return values


def alert_rule_values(*, rules: Iterable[AlertRule], now: datetime) -> dict[int, Decimal | None]:
    """{rule id: the metric's value at `now`}; None when the window holds fewer than `min_calls` calls (error
    rate, p95 latency), so the rule cannot judge. Spend and breaker openings always have a value (0 when idle)."""
    rules = list(rules)
    by_tenant: dict[int, list[AlertRule]] = defaultdict(list)
    for rule in rules:
        if rule.metric in ROLLUP_METRICS:
            by_tenant[rule.tenant_id].append(rule)
    values: dict[int, Decimal | None] = {}
    for tenant_id, tenant_rules in by_tenant.items():
        values.update(_rollup_values(tenant_id, tenant_rules, now))
    breaker_rules = [rule for rule in rules if rule.metric == AlertMetric.BREAKER_OPEN]
    if breaker_rules:
        values.update(_breaker_values(breaker_rules, now))
    return values
