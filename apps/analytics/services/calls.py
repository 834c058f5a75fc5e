"""Writing call records: the one place that turns the data plane's records into CallLog (and CallBody) rows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from apps.access.models import ApiKey
from apps.analytics.models import CallBody, CallLog
from apps.analytics.services.partitions import call_log_partitions_ensure
from apps.analytics.services.rollups import rollups_catch_up

# Columns written for each record, in order; `created_at` comes from the record's unix time `created`.
_COLUMNS = [f.column for f in CallLog._meta.concrete_fields if not f.primary_key]
_RECORD_FIELDS = [("created" if name == "created_at" else name) for name in _COLUMNS]
_JSON_FIELDS = {f.column for f in CallLog._meta.concrete_fields if f.get_internal_type() == "JSONField"}
_CREATED = _RECORD_FIELDS.index("created")
_DEFAULTS = {f.column: f.get_default() for f in CallLog._meta.concrete_fields}  # "" for text, None for ids


def _insert_sql(model, conflict: str) -> str:
    quote = connection.ops.quote_name
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    names = ", ".join(quote(c) for c in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    # Identifiers come from the model and are quoted; every value is a parameter.
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING"
    )


def _value(record: Mapping[str, Any], name: str, created: datetime) -> Any:
    if name == "created":
        return created
    value = record.get(name, _DEFAULTS.get(name))
    if name in _JSON_FIELDS:
        return json.dumps(value or {})
    return value


def call_logs_record(*, records: Iterable[Mapping[str, Any]], catch_up: bool = True) -> int:
    """Store a batch of call records and note when each key was last used; returns the rows handed over.

    A record has CallLog's fields, with `created` as unix time; one seen before (same request id and time:
    a retried batch) is skipped, so writing a batch twice never doubles it. Records older than the log's
    retention are dropped: their partition is gone. Written with one executemany of plain tuples: building
    a model instance per record cost ~250 µs of the GIL the gateway's event loop shares with this thread,
    about 2.5x the plain insert (bench/, README "Performance"). Records older than the rollup refresh's
    look-back get their rollups recomputed, unless the caller does that once for many batches (`catch_up`)."""
    cutoff = datetime.now(UTC) - timedelta(days=settings.ANALYTICS_LOG_RETENTION_DAYS)
    rows, bodies = [], []
    days: set[date] = set()
    last_used: dict[str, datetime] = {}
    for record in records:
        created = datetime.fromtimestamp(record["created"], tz=UTC)
        if created < cutoff:
            continue
        days.add(created.date())
        rows.append(tuple(_value(record, name, created) for name in _RECORD_FIELDS))
        if record.get("bodies"):
            bodies.append(_body_row(record, created))
        if record["key_prefix"]:
            lookup_id = record["key_prefix"].removeprefix("gwk_")
            last_used[lookup_id] = max(created, last_used.get(lookup_id, created))
    if not rows:
        return 0
    oldest = min(row[_CREATED] for row in rows)
    with transaction.atomic():
        call_log_partitions_ensure(days)
        with connection.cursor() as cursor:
            cursor.executemany(_insert_sql(CallLog, "request_id, created_at"), rows)
            if bodies:
                cursor.executemany(_insert_sql(CallBody, "request_id, created_at"), bodies)
        for lookup_id, when in last_used.items():
            stale = Q(last_used_at__lt=when) | Q(last_used_at__isnull=True)  # a late batch never moves it back
            ApiKey.objects.filter(stale, lookup_id=lookup_id).update(last_used_at=when)
    if catch_up:
        rollups_catch_up(oldest=oldest)
    return len(rows)


def _body_row(record: Mapping[str, Any], created: datetime) -> tuple:
    request_body, response_body, retention_days = record["bodies"]
    return (
        record["request_id"],
        created,
        record["tenant_id"],
        record.get("service_id"),
        request_body,
        response_body,
        created + timedelta(days=retention_days),
    )
