"""Limit usage counted from the call log: the reader the usage pages fall back to when no gateway registered its
live counters in this process (apps/access/selectors/limit_usage.py), and the spend the budget alerts compare.

One aggregate query however many scopes: every (scope, metric) is a COUNT or SUM FILTERed to its scope and period
over the rows of the earliest period asked for. Calls the gateway refused before admitting them (authentication,
permission, its own 429s) never counted against a limit, and are left out here too."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from apps.access.selectors.limit_usage import METRIC_PERIODS, Reading, UsageScope, period_bounds
from apps.analytics.models import CallLog

# Not counted, as the gateway's counters do not count them: calls refused before admission, and the semantic
# cache's own embedding calls (endpoint "semantic_cache": the gateway's, not the caller's).
NOT_COUNTED = Q(status__in=(401, 403, 404, 429)) | Q(endpoint="semantic_cache")


def _scope_filter(scope: UsageScope) -> Q:
    where = Q(tenant_id=scope.tenant_id)
    if scope.kind == "subscription":
        return where & Q(app_id=scope.app_id, service_id=scope.service_id)
    if scope.kind == "app":
        return where & Q(app_id=scope.app_id)
    if scope.kind == "key":
        return where & Q(key_prefix=scope.key_prefix)
    return where


def _aggregate(metric: str, where: Q) -> Count | Sum:
    if metric == "tokens_per_minute":
        return Sum(F("prompt_tokens") + F("completion_tokens"), filter=where)
    if metric.startswith("budget_"):
        return Sum("cost", filter=where)
    return Count("id", filter=where)


def call_log_limit_usage(
    *, scopes: Mapping[UsageScope, Mapping[str, Decimal]], now: datetime
) -> dict[tuple[str, int], dict[str, Reading]]:
    """{(kind, scope id): {metric: Reading}} for every scope and limit asked for (apps.access's LimitUsageReader)."""
    sums = {}
    names: dict[str, tuple[UsageScope, str, Decimal, datetime]] = {}
    earliest = now
    for index, (scope, limits) in enumerate(scopes.items()):
        scope_filter = _scope_filter(scope)
        for metric, limit in limits.items():
            start, end = period_bounds(METRIC_PERIODS[metric], now)
            earliest = min(earliest, start)
            name = f"s{index}_{metric}"
            sums[name] = _aggregate(metric, scope_filter & Q(created_at__gte=start))
            names[name] = (scope, metric, limit, end)
    if not sums:
        return {}
    tenants = {scope.tenant_id for scope in scopes}
    rows = CallLog.objects.filter(tenant_id__in=tenants, created_at__gte=earliest, created_at__lte=now)
    totals = rows.exclude(NOT_COUNTED).aggregate(**sums)
    readings: dict[tuple[str, int], dict[str, Reading]] = {}
    for name, (scope, metric, limit, end) in names.items():
        used = Decimal(totals[name] or 0)
        readings.setdefault((scope.kind, scope.scope_id), {})[metric] = Reading(metric, used, limit, end)
    return readings


class CallLogLimitUsage:
    """call_log_limit_usage as the access app's LimitUsageReader (registered by AnalyticsConfig.ready)."""

    source = "call_log"

    def __call__(
        self, *, scopes: Mapping[UsageScope, Mapping[str, Decimal]], now: datetime
    ) -> dict[tuple[str, int], dict[str, Reading]]:
        return call_log_limit_usage(scopes=scopes, now=now)
