"""What the analytics dashboard shows, read from CallRollup alone (never the raw call log).

Three grouped queries, whatever the amount of data: sums per time bucket, sums per (service, app, model),
calls per error type. The database adds everything up, the latency histograms too (one column per bucket:
models/rollups.py); Python merges a few hundred groups at most. bench/dashboard.py measures the whole page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connections
from django.db.models import QuerySet, Sum

from apps.analytics import histogram
from apps.analytics.models import CallRollup
from apps.analytics.models.rollups import LATENCY_COLUMNS, SUMMED_FIELDS
from apps.analytics.periods import Period
from apps.analytics.selectors.scope import NO_MODEL, AnalyticsScope

TOP = 10


@dataclass
class Totals:
    """Sums and the merged latency histogram of a set of rollup rows."""

    calls: int = 0
    errors: int = 0
    server_errors: int = 0
    cache_hits: int = 0
    streams: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    latency_sum_ms: float = 0.0
    overhead_sum_ms: float = 0.0
    latency_histogram: list[int] = field(default_factory=histogram.empty)

    def percentile(self, q: float) -> float | None:
        return histogram.percentile(self.latency_histogram, q)

    def summary(self) -> dict[str, Any]:
        """The figures every table row and chart point shows."""
        return {
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": _rate(self.errors, self.calls),
            "p50_ms": self.percentile(0.50),
            "p95_ms": self.percentile(0.95),
            "p99_ms": self.percentile(0.99),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens": self.prompt_tokens + self.completion_tokens,
            "cost": self.cost,
        }

    def kpis(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "server_errors": self.server_errors,
            "server_error_rate": _rate(self.server_errors, self.calls),
            "cache_hits": self.cache_hits,
            "cache_hit_rate": _rate(self.cache_hits, self.calls),
            "streams": self.streams,
            "avg_overhead_ms": self.overhead_sum_ms / self.calls if self.calls else None,
        }


@dataclass
class Dashboard:
    """The dashboard's figures for one period and set of filters (the read API serializes it as is)."""

    period: Period
    kpis: dict[str, Any]
    series: list[dict[str, Any]]
    top_services: list[dict[str, Any]]
    top_apps: list[dict[str, Any]]
    top_models: list[dict[str, Any]]
    error_types: list[dict[str, Any]]
    models: list[str]  # every model in the period, for the filter's suggestions


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def call_rollup_list(*, scope: AnalyticsScope, period: Period, filters: dict[str, Any] | None = None) -> QuerySet:
    """The rollup rows of the period at its granularity that the scope may see, narrowed by service, app and
    model; unordered (callers group or order them)."""
    filters = filters or {}
    rows = CallRollup.objects.filter(
        scope.rows(), granularity=period.granularity, bucket__gte=period.start, bucket__lt=period.end
    )
    narrowing = {
        name: filters[name] for name in ("service_id", "app_id", "model") if filters.get(name) not in (None, "")
    }
    return rows.filter(**narrowing).order_by()


def _sums(group: dict[str, Any]) -> Totals:
    return Totals(
        **{name: group[f"{name}_sum"] or 0 for name in SUMMED_FIELDS},
        latency_histogram=[group[f"{column}_sum"] or 0 for column in LATENCY_COLUMNS],
    )


def _summed(rows: QuerySet, *keys: str) -> QuerySet:
    # "<field>_sum": an annotation may not take the name of a field.
    return rows.values(*keys).annotate(**{f"{name}_sum": Sum(name) for name in (*SUMMED_FIELDS, *LATENCY_COLUMNS)})


def _error_types(rows: QuerySet) -> list[dict[str, Any]]:
    """Calls per error type, summed by the database from each row's {type: count} (a Python merge of the
    parsed dicts cost ~50 ms for a month of daily rows of 600 series)."""
    inner, params = rows.filter(errors__gt=0).values("error_types").query.sql_with_params()
    connection = connections[rows.db]
    if connection.vendor == "postgresql":
        pairs, count = "jsonb_each_text(r.error_types)", "CAST(e.value AS bigint)"
    else:
        pairs, count = "json_each(r.error_types)", "e.value"
    # Only code-chosen SQL is formatted in; every value stays a parameter of the inner query.
    sql = f"SELECT e.key, SUM({count}) FROM ({inner}) AS r, {pairs} AS e GROUP BY e.key ORDER BY 2 DESC, 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [{"error_type": name, "count": int(total)} for name, total in cursor.fetchall()]


def _aggregate(rows: QuerySet) -> tuple[dict[datetime, Totals], dict[tuple, Totals]]:
    """(totals per bucket, totals per (service_id, app_id, model))."""
    by_bucket = {group["bucket"]: _sums(group) for group in _summed(rows, "bucket")}
    combos = {
        (group["service_id"], group["app_id"], group["model"]): _sums(group)
        for group in _summed(rows, "service_id", "app_id", "model")
    }
    return by_bucket, combos


def _top(totals: dict[Any, Totals], name_of: Callable[[Any], str], known: Container) -> list[dict[str, Any]]:
    """The TOP groups by calls; `filterable` tells whether the filters accept the group's id."""
    ranked = sorted(totals.items(), key=lambda item: (-item[1].calls, str(item[0])))[:TOP]
    return [{"id": key, "name": name_of(key), "filterable": key in known, **group.summary()} for key, group in ranked]


def _combined(parts: list[Totals]) -> Totals:
    sums = {name: sum(getattr(part, name) for part in parts) for name in SUMMED_FIELDS}
    return Totals(**sums, latency_histogram=histogram.merge(part.latency_histogram for part in parts))


def _merged_by(combos: dict[tuple, Totals], position: int) -> dict[Any, Totals]:
    """The combos' totals merged per service (position 0), app (1) or model (2)."""
    parts: defaultdict[Any, list[Totals]] = defaultdict(list)
    for key, totals in combos.items():
        parts[key[position]].append(totals)
    return {key: _combined(group) for key, group in parts.items()}


def dashboard_get(*, scope: AnalyticsScope, period: Period, filters: dict[str, Any] | None = None) -> Dashboard:
    """KPIs, a zero-filled series per bucket, the top services, apps and models, and the error types."""
    rows = call_rollup_list(scope=scope, period=period, filters=filters)
    by_bucket, combos = _aggregate(rows)
    total = _combined(list(by_bucket.values()))
    series = [{"bucket": bucket, **by_bucket.get(bucket, Totals()).summary()} for bucket in period.buckets()]
    by_model = _merged_by(combos, 2)
    return Dashboard(
        period=period,
        kpis=total.kpis(),
        series=series,
        top_services=_top(_merged_by(combos, 0), scope.service_name, scope.services),
        top_apps=_top(_merged_by(combos, 1), scope.app_name, scope.apps),
        top_models=_top(by_model, lambda model: model or NO_MODEL, set(by_model) - {""}),
        error_types=_error_types(rows),
        models=sorted(model for model in by_model if model),
    )


ROLLUP_EXPORT_FIGURES = [
    "calls",
    "errors",
    "server_errors",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost",
]
ROLLUP_EXPORT_FIELDS = ["bucket", "granularity", "service", "app", "model", *ROLLUP_EXPORT_FIGURES]


def call_rollup_export_rows(
    *, scope: AnalyticsScope, period: Period, filters: dict[str, Any] | None = None, limit: int
) -> Iterator[list[Any]]:
    """Up to `limit` rollup rows of the period as rows of ROLLUP_EXPORT_FIELDS, oldest bucket first, streamed
    in chunks; one more row than `limit` is read so the caller can tell the export was cut."""
    rows = call_rollup_list(scope=scope, period=period, filters=filters).order_by(
        "bucket", "service_id", "app_id", "model", "tenant_id"
    )
    columns = ["bucket", "service_id", "app_id", "model", *ROLLUP_EXPORT_FIGURES]
    for bucket, service_id, app_id, model, *figures in rows.values_list(*columns)[: limit + 1].iterator(2000):
        yield [
            bucket.isoformat(),
            period.granularity,
            scope.service_name(service_id),
            scope.app_name(app_id),
            model,
            *figures,
        ]
