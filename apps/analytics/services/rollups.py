"""Rollups: calls aggregated per minute, hour and day by (tenant, app, service, model).

Minutes come from the raw call log, hours from minutes and days from hours (never re-reading logs): in each
case the database does the grouping and the summing, histogram included (one column per latency bucket),
and Python only adds the percentiles and the error types before the rows are written back with COPY.
Each computation replaces the buckets of its period in one transaction, so running it again, or for any past
period, is always safe."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Trunc

from apps.analytics import histogram
from apps.analytics.models import CallLog, CallRollup, Granularity
from apps.analytics.models.rollups import LATENCY_COLUMNS, SUMMED_FIELDS

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


# Rollup columns in the order _rollup_row() gives them (and COPY / INSERT take them).
_ROLLUP_COLUMNS = [f.column for f in CallRollup._meta.concrete_fields if not f.primary_key]
_DIMENSIONS = ("tenant_id", "app_id", "service_id", "model")


def _latency_counts() -> dict[str, Count]:
    """One conditional count per histogram bucket: the histogram of a group in the same GROUP BY pass."""
    bounds = (0.0, *histogram.LATENCY_BOUNDS_MS)
    counts = {}
    for i, column in enumerate(LATENCY_COLUMNS):
        within = Q(latency_ms__gte=bounds[i]) if i else Q()
        if i < len(histogram.LATENCY_BOUNDS_MS):
            within &= Q(latency_ms__lt=bounds[i + 1])
        counts[column] = Count("id", filter=within) if within else Count("id")
    return counts


def _rollup_row(granularity: str, dims: tuple, sums: list, counts: list[int], error_types: dict[str, int]) -> list:
    bucket, tenant_id, app_id, service_id, model = dims
    values = {
        "granularity": granularity,
        "bucket": _aware(bucket),
        "tenant_id": tenant_id,
        "app_id": app_id or 0,
        "service_id": service_id or 0,
        "model": model or "",
        **{name: value or 0 for name, value in zip(SUMMED_FIELDS, sums, strict=True)},
        "error_types": orjson.dumps(error_types).decode(),
        **dict(zip(LATENCY_COLUMNS, counts, strict=True)),
    }
    values["p50_ms"], values["p95_ms"], values["p99_ms"] = histogram.percentiles(counts, (0.50, 0.95, 0.99))
    return [values[column] for column in _ROLLUP_COLUMNS]


def _rows(queryset) -> Iterator[tuple]:
    """A queryset's rows as plain tuples straight from the cursor (no model or dict per row)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(10_000):
            yield from chunk


def _minutes_from_logs(start: datetime, end: datetime) -> list[list]:
    """One GROUP BY over the logs gives every sum and the histogram; a second one the error types."""
    # Calls that never reached a tenant (a bad key) have no dashboard to go to: /metrics counts them.
    logs = CallLog.objects.filter(created_at__gte=start, created_at__lt=end, tenant_id__isnull=False).annotate(
        minute=Trunc("created_at", "minute", tzinfo=UTC)
    )
    keys = ("minute", *_DIMENSIONS)
    errors: dict[tuple, dict[str, int]] = defaultdict(dict)
    by_error = logs.exclude(error_type="").values_list(*keys, "error_type").annotate(calls=Count("id")).order_by()
    for *dims, error_type, calls in _rows(by_error):
        errors[_key(dims)][error_type] = calls
    groups = (
        logs.values_list(*keys)
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
            **_latency_counts(),
        )
        .order_by()
    )
    width = len(keys) + len(SUMMED_FIELDS)
    return [
        _rollup_row(
            Granularity.MINUTE, row[: len(keys)], row[len(keys) : width], row[width:], errors.get(_key(row), {})
        )
        for row in _rows(groups)
    ]


def _merge_finer(granularity: str, start: datetime, end: datetime) -> list[list]:
    """Hours from minutes, days from hours: the database sums the columns; only rows with errors bring their
    error types to Python."""
    finer = CallRollup.objects.filter(granularity=FINER[granularity], bucket__gte=start, bucket__lt=end).annotate(
        period=Trunc("bucket", granularity, tzinfo=UTC)
    )
    keys = ("period", *_DIMENSIONS)
    errors: dict[tuple, dict[str, int]] = defaultdict(dict)
    for *dims, error_types in _rows(finer.filter(errors__gt=0).values_list(*keys, "error_types").order_by()):
        merged = errors[_key(dims)]
        for error_type, count in _json(error_types).items():
            merged[error_type] = merged.get(error_type, 0) + count
    sums = {f"{name}_total": Sum(name) for name in (*SUMMED_FIELDS, *LATENCY_COLUMNS)}
    width = len(keys) + len(SUMMED_FIELDS)
    return [
        _rollup_row(granularity, row[: len(keys)], row[len(keys) : width], row[width:], errors.get(_key(row), {}))
        for row in _rows(finer.values_list(*keys).annotate(**sums).order_by())
    ]


def _key(row) -> tuple:
    bucket, tenant_id, app_id, service_id, model = row[:5]
    return (_aware(bucket), tenant_id, app_id or 0, service_id or 0, model or "")


def _aware(moment: datetime | str) -> datetime:
    # Raw cursors give SQLite's datetimes as text and PostgreSQL's as aware datetimes.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _insert(rows: list[list]) -> None:
    table = connection.ops.quote_name(CallRollup._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _ROLLUP_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: a day of minute rollups is up to one row per call; INSERT would spend most of the time.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(_ROLLUP_COLUMNS))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from the model
            cursor.executemany(sql, rows)


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
            rows = _minutes_from_logs(start, end)
        else:
            rows = _merge_finer(granularity, start, end)
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
