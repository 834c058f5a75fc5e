"""Rollups: calls aggregated per minute, hour and day by (tenant, app, service, model).

Minutes come from the raw call log (two GROUP BY queries, the database does the scanning), hours from
minutes and days from hours (merging rollup rows, never re-reading logs). Each computation replaces the
buckets of its period in one transaction, so running it again, or for any past period, is always safe."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Trunc

from apps.analytics import histogram
from apps.analytics.models import CallLog, CallRollup, Granularity

logger = logging.getLogger(__name__)

STEP = {
    Granularity.MINUTE: timedelta(minutes=1),
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(days=1),
}
# Each granularity is merged from the next finer one.
FINER = {Granularity.HOUR: Granularity.MINUTE, Granularity.DAY: Granularity.HOUR}
# How long the source of each granularity is kept: a period older than that cannot be recomputed.
SOURCE_RETENTION_SETTING = {Granularity.MINUTE: "log", Granularity.HOUR: "minute", Granularity.DAY: "hour"}

Dims = tuple[datetime, int, int, int, str]  # bucket, tenant, app (0: none), service (0: none), model


def floor_time(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC)
    if granularity == Granularity.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if granularity == Granularity.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_time(moment: datetime, granularity: str) -> datetime:
    floored = floor_time(moment, granularity)
    return floored if floored == moment else floored + STEP[granularity]


class LatencyBucket(models.Func):
    """The histogram bucket of a latency in ms (apps/analytics/histogram.py): width_bucket on PostgreSQL,
    a CASE elsewhere."""

    output_field = models.IntegerField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        bounds = histogram.LATENCY_BOUNDS_MS
        whens = " ".join(f"WHEN {sql} < %s THEN {i}" for i in range(len(bounds)))
        return f"CASE {whens} ELSE {len(bounds)} END", [p for bound in bounds for p in (*params, bound)]

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"width_bucket({sql}, %s::double precision[])", [*params, list(histogram.LATENCY_BOUNDS_MS)]


# Rollup columns in the order _Totals.row() gives them (and COPY / INSERT take them).
_ROLLUP_COLUMNS = [f.column for f in CallRollup._meta.concrete_fields if not f.primary_key]
_SUMMED = (
    "calls",
    "errors",
    "server_errors",
    "cache_hits",
    "streams",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "latency_sum_ms",
    "overhead_sum_ms",
)

_COST = _SUMMED.index("cost")


class _Totals:
    """One rollup being summed. Plain lists and dicts: a day of sparse traffic is a million of these."""

    __slots__ = ("error_types", "latency_histogram", "sums")

    def __init__(self) -> None:
        self.sums = [0, 0, 0, 0, 0, 0, 0, Decimal(0), 0.0, 0.0]
        self.error_types: dict[str, int] = {}
        self.latency_histogram = histogram.empty()

    def add(self, values: list) -> None:
        sums = self.sums
        for i, value in enumerate(values):
            if value:
                sums[i] += value
        if not isinstance(sums[_COST], Decimal):  # SQLite's raw cursor gives sums of decimals as floats
            sums[_COST] = Decimal(str(sums[_COST]))

    def row(self, granularity: str, dims: Dims) -> dict[str, Any]:
        bucket, tenant_id, app_id, service_id, model = dims
        p50, p95, p99 = histogram.percentiles(self.latency_histogram, (0.50, 0.95, 0.99))
        return {
            "granularity": granularity,
            "bucket": bucket,
            "tenant_id": tenant_id,
            "app_id": app_id,
            "service_id": service_id,
            "model": model,
            **dict(zip(_SUMMED, self.sums, strict=True)),
            "error_types": orjson.dumps(self.error_types).decode(),
            "latency_histogram": orjson.dumps(self.latency_histogram).decode(),
            "p50_ms": p50,
            "p95_ms": p95,
            "p99_ms": p99,
        }


def _rows(queryset) -> Iterator[tuple]:
    """A queryset's rows as plain tuples straight from the cursor (no model or dict per row)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(10_000):
            yield from chunk


def _minutes_from_logs(start: datetime, end: datetime) -> dict[Dims, _Totals]:
    # Calls that never reached a tenant (a bad key) have no dashboard to go to: /metrics counts them.
    logs = CallLog.objects.filter(created_at__gte=start, created_at__lt=end, tenant_id__isnull=False).annotate(
        minute=Trunc("created_at", "minute", tzinfo=UTC)
    )
    dimensions = ("minute", "tenant_id", "app_id", "service_id", "model")
    totals: dict[Dims, _Totals] = {}
    by_latency = (
        logs.annotate(latency_bucket=LatencyBucket("latency_ms"))
        .values_list(*dimensions, "latency_bucket")
        .annotate(
            calls=Count("id"),
            errors=Count("id", filter=Q(status__gte=400)),
            server_errors=Count("id", filter=Q(status__gte=500)),
            cache_hits=Count("id", filter=Q(cache_hit=True)),
            streams=Count("id", filter=Q(stream=True)),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost=Sum("cost"),
            latency_sum_ms=Sum("latency_ms"),
            overhead_sum_ms=Sum("overhead_ms"),
        )
        .order_by()
    )
    for minute, tenant_id, app_id, service_id, model, latency_bucket, *sums in _rows(by_latency):
        dims = (_aware(minute), tenant_id, app_id or 0, service_id or 0, model)
        entry = totals.get(dims)
        if entry is None:
            entry = totals[dims] = _Totals()
        entry.add(sums)
        entry.latency_histogram[latency_bucket] += sums[0]
    by_error = logs.exclude(error_type="").values_list(*dimensions, "error_type").annotate(calls=Count("id")).order_by()
    for minute, tenant_id, app_id, service_id, model, error_type, calls in _rows(by_error):
        totals[(_aware(minute), tenant_id, app_id or 0, service_id or 0, model)].error_types[error_type] = calls
    return totals


def _aware(moment: datetime | str) -> datetime:
    # Raw cursors give SQLite's datetimes as text and PostgreSQL's as aware datetimes.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _merge_finer(granularity: str, start: datetime, end: datetime) -> dict[Dims, _Totals]:
    finer = CallRollup.objects.filter(granularity=FINER[granularity], bucket__gte=start, bucket__lt=end).values_list(
        "bucket", "tenant_id", "app_id", "service_id", "model", *_SUMMED, "error_types", "latency_histogram"
    )
    totals: dict[Dims, _Totals] = {}
    for bucket, tenant_id, app_id, service_id, model, *rest in _rows(finer.order_by()):
        dims = (floor_time(_aware(bucket), granularity), tenant_id, app_id, service_id, model)
        entry = totals.get(dims)
        if entry is None:
            entry = totals[dims] = _Totals()
        *sums, error_types, latency_histogram = rest
        entry.add(sums)
        histogram.add_into(entry.latency_histogram, _json(latency_histogram))
        for error_type, count in _json(error_types).items():
            entry.error_types[error_type] = entry.error_types.get(error_type, 0) + count
    return totals


def _insert(rows: list[dict[str, Any]]) -> None:
    table = connection.ops.quote_name(CallRollup._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _ROLLUP_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: a day of minute rollups is up to one row per call; INSERT would spend most of the time.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in _ROLLUP_COLUMNS])
        else:
            placeholders = ", ".join(["%s"] * len(_ROLLUP_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608 - names from the model
                [[row[c] for c in _ROLLUP_COLUMNS] for row in rows],
            )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Up to a million small objects that all live until the end: the cyclic collector would re-walk them
    again and again as they pile up (half the time of a day's minute rollups, measured: bench/rollup.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def source_horizon(granularity: str, now: datetime | None = None) -> datetime:
    """The oldest time whose source data still exists for this granularity."""
    now = now or datetime.now(UTC)
    source = SOURCE_RETENTION_SETTING[granularity]
    retention = settings.ANALYTICS_ROLLUP_RETENTION_DAYS
    days = settings.ANALYTICS_LOG_RETENTION_DAYS if source == "log" else retention[source]
    return ceil_time(now - timedelta(days=days), granularity)


def rollups_compute(*, granularity: str, start: datetime, end: datetime, now: datetime | None = None) -> int:
    """Recompute the `granularity` buckets that overlap [start, end); returns how many rollup rows now exist.

    The period is widened to whole buckets and clipped to what its source still holds: buckets whose logs
    (or finer rollups) are past retention keep their rollups rather than being recomputed from nothing."""
    start = max(floor_time(start, granularity), source_horizon(granularity, now))
    end = ceil_time(end, granularity)
    if start >= end:
        return 0
    with _collector_paused():
        if granularity == Granularity.MINUTE:
            totals = _minutes_from_logs(start, end)
        else:
            totals = _merge_finer(granularity, start, end)
        rows = [entry.row(granularity, dims) for dims, entry in totals.items()]
    with transaction.atomic():
        CallRollup.objects.filter(granularity=granularity, bucket__gte=start, bucket__lt=end).delete()
        _insert(rows)
    return len(rows)


def rollups_recompute(*, start: datetime, end: datetime, now: datetime | None = None) -> dict[str, int]:
    """Minutes, then the hours and days that contain them, for a period (the command and late records)."""
    counts = {Granularity.MINUTE.value: rollups_compute(granularity=Granularity.MINUTE, start=start, end=end, now=now)}
    for granularity in (Granularity.HOUR, Granularity.DAY):
        counts[granularity.value] = rollups_compute(granularity=granularity, start=start, end=end, now=now)
    return counts


def rollups_refresh(
    *, granularities: tuple[str, ...] = ("minute", "hour"), now: datetime | None = None
) -> dict[str, int]:
    """The beat tasks' job: the last few minutes again (records arrive a little late) and the hours they are
    in, every minute; the days, from those hours, every few minutes (a day of sparse traffic has hundreds of
    thousands of hour rows: re-merging them every minute would keep a worker busy, bench/rollup.py).

    A day's refresh looks back over its own interval too, so that the last minutes before midnight reach
    yesterday's row."""
    now = now or datetime.now(UTC)
    lookback = timedelta(minutes=settings.ANALYTICS_ROLLUP_LOOKBACK_MINUTES)
    counts = {}
    for granularity in granularities:
        start = now - lookback
        if granularity == Granularity.DAY:
            start -= timedelta(seconds=settings.CELERY_BEAT_SCHEDULE["rollups-refresh-days"]["schedule"])
        counts[granularity] = rollups_compute(granularity=granularity, start=start, end=now, now=now)
    return counts


def rollups_catch_up(*, oldest: datetime, now: datetime | None = None) -> dict[str, int]:
    """After records older than the refresh's look-back were written (the database was away, a worker
    was down), recompute the rollups they belong to; the refresh covers the recent part."""
    now = now or datetime.now(UTC)
    recent = floor_time(now - timedelta(minutes=settings.ANALYTICS_ROLLUP_LOOKBACK_MINUTES), Granularity.MINUTE)
    if oldest >= recent:
        return {}
    logger.info("recomputing rollups from %s: late call records", oldest.isoformat())
    return rollups_recompute(start=oldest, end=recent, now=now)
