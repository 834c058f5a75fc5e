"""Reading the call log: filtered pages, one call, and rows for export.

Every query is bounded by a created_at range, so PostgreSQL reads only the day partitions in it. Pages are
keyset-paginated on (created_at, id), newest first: a page costs the same on the millionth row as on the
first, where OFFSET would read and drop every row before it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404

from apps.analytics.models import CallBody, CallLog
from apps.analytics.periods import Period
from apps.analytics.selectors.scope import NO_MODEL, AnalyticsScope

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ROW_ID = 2**63 - 1  # bigint: a larger id in a query is a database error, not an empty page
STATUS_CLASSES = {"2xx": (200, 300), "4xx": (400, 500), "5xx": (500, 600)}


@dataclass(frozen=True)
class Cursor:
    """A position in the log, newest first: the (created_at, id) of a row, as an opaque token for URLs."""

    created_at: datetime
    id: int

    def token(self) -> str:
        micros = (self.created_at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}_{self.id}"

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """The cursor a token names; ValueError when it names none."""
        micros, _, row_id = token.partition("_")
        if not (micros.isascii() and micros.isdigit() and row_id.isascii() and row_id.isdigit()):
            raise ValueError(f"not a page cursor: {token!r}")
        if int(row_id) > MAX_ROW_ID:
            raise ValueError(f"not a page cursor: {token!r}")
        try:
            return cls(created_at=EPOCH + timedelta(microseconds=int(micros)), id=int(row_id))
        except OverflowError:  # past the year 9999
            raise ValueError(f"not a page cursor: {token!r}") from None

    @classmethod
    def of(cls, log: CallLog) -> Cursor:
        return cls(created_at=log.created_at, id=log.pk)


@dataclass(frozen=True)
class LoggedCall:
    """One call as the scope may see it: names instead of ids, and nothing of another tenant but its app.

    A subscriber's call to one of the tenant's services shows no key prefix; the tenant's own call to another
    tenant's service shows none of that tenant's route, provider or deployment."""

    log: CallLog
    service: str
    app: str
    key_prefix: str
    is_foreign: bool
    shows_internals: bool

    @property
    def model(self) -> str:
        return self.log.model or NO_MODEL


@dataclass(frozen=True)
class LogPage:
    calls: list[LoggedCall]
    older: Cursor | None  # the next page, further back in time
    newer: Cursor | None  # the page before, None on the newest


def _retention_window(now: datetime) -> tuple[datetime, datetime]:
    """Every day the log may still hold (a request id is looked up there, whatever the period)."""
    return now - timedelta(days=settings.ANALYTICS_LOG_RETENTION_DAYS + 1), now + timedelta(minutes=5)


def call_log_list(
    *, scope: AnalyticsScope, period: Period, filters: dict[str, Any] | None = None, now: datetime
) -> QuerySet[CallLog]:
    """The calls the scope may see in the period, newest first; filters: service_id, app_id, model,
    status_class (2xx/4xx/5xx), error_type, request_id (exact; then the period is the log's whole retention)."""
    filters = filters or {}
    start, end = _retention_window(now) if filters.get("request_id") else (period.start, period.end)
    calls = CallLog.objects.filter(scope.rows(), created_at__gte=start, created_at__lt=end)
    for name in ("service_id", "app_id", "model", "error_type", "request_id"):
        if filters.get(name) not in (None, ""):
            calls = calls.filter(**{name: filters[name]})
    if filters.get("status_class"):
        low, high = STATUS_CLASSES[filters["status_class"]]
        calls = calls.filter(status__gte=low, status__lt=high)
    return calls.order_by("-created_at", "-id")


def _present(log: CallLog, scope: AnalyticsScope) -> LoggedCall:
    foreign = scope.is_foreign(log.tenant_id)
    return LoggedCall(
        log=log,
        service=scope.service_name(log.service_id),
        app=scope.app_name(log.app_id),
        key_prefix="" if foreign else log.key_prefix,
        is_foreign=foreign,
        shows_internals=not log.service_id or log.service_id in scope.own_service_ids,
    )


def call_log_page(
    *,
    scope: AnalyticsScope,
    period: Period,
    filters: dict[str, Any] | None = None,
    after: Cursor | None = None,
    before: Cursor | None = None,
    now: datetime,
    size: int = PAGE_SIZE,
) -> LogPage:
    """One page of `call_log_list`: the `size` calls older than `after`, or newer than `before`, or the newest."""
    calls = call_log_list(scope=scope, period=period, filters=filters, now=now)
    if before is not None:
        newer_first = calls.filter(
            Q(created_at__gt=before.created_at) | Q(created_at=before.created_at, id__gt=before.id)
        ).order_by("created_at", "id")
        rows = list(newer_first[: size + 1])
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        return LogPage(
            calls=[_present(row, scope) for row in rows],
            older=Cursor.of(rows[-1]) if rows else None,
            newer=Cursor.of(rows[0]) if rows and has_newer else None,
        )
    if after is not None:
        calls = calls.filter(Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, id__lt=after.id))
    rows = list(calls[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    return LogPage(
        calls=[_present(row, scope) for row in rows],
        older=Cursor.of(rows[-1]) if rows and has_older else None,
        newer=Cursor.of(rows[0]) if rows and after is not None else None,
    )


def call_log_get(*, scope: AnalyticsScope, request_id: str, now: datetime) -> LoggedCall:
    """The call with this request id (within the log's retention) if the scope may see it; else 404."""
    start, end = _retention_window(now)
    log = (
        CallLog.objects.filter(scope.rows(), request_id=request_id, created_at__gte=start, created_at__lt=end)
        .order_by("-created_at", "-id")
        .first()
    )
    if log is None:
        raise Http404("No such call.")
    return _present(log, scope)


def call_body_get(*, scope: AnalyticsScope, call: LoggedCall) -> CallBody | None:
    """The captured request and response of the call, when its service captures them and they are still kept."""
    return CallBody.objects.filter(scope.rows(), request_id=call.log.request_id, created_at=call.log.created_at).first()


LOG_EXPORT_FIELDS = [
    "created_at",
    "request_id",
    "endpoint",
    "service",
    "app",
    "key_prefix",
    "route",
    "model",
    "status",
    "error_type",
    "stream",
    "cache_hit",
    "attempts",
    "latency_ms",
    "upstream_ms",
    "overhead_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost",
]


def call_log_export_rows(
    *, scope: AnalyticsScope, period: Period, filters: dict[str, Any] | None = None, now: datetime, limit: int
) -> Iterator[list[Any]]:
    """Up to `limit` calls as rows of LOG_EXPORT_FIELDS, newest first, streamed from the database in chunks;
    one more row than `limit` is read so the caller can tell the export was cut."""
    calls = call_log_list(scope=scope, period=period, filters=filters, now=now)[: limit + 1]
    for log in calls.iterator(chunk_size=2000):
        call = _present(log, scope)
        yield [
            log.created_at.isoformat(),
            log.request_id,
            log.endpoint,
            call.service,
            call.app,
            call.key_prefix,
            log.route if call.shows_internals else "",
            log.model,
            log.status,
            log.error_type,
            log.stream,
            log.cache_hit,
            log.attempts,
            log.latency_ms,
            log.upstream_ms,
            log.overhead_ms,
            log.ttft_ms,
            log.prompt_tokens,
            log.completion_tokens,
            Decimal(log.cost),
        ]


@dataclass(frozen=True)
class Segment:
    label: str
    ms: float
    offset_pct: float
    width_pct: float


@dataclass(frozen=True)
class Marker:
    label: str
    ms: float
    offset_pct: float


def call_timeline(log: CallLog) -> tuple[list[Segment], list[Marker]]:
    """The call's time, received to done, as proportional segments: the gateway's own overhead, the wait for
    the upstream answer (its first token for streams) and, for streams, the relay of the rest.

    The gateway measures its overhead as one total (before and after the upstream call), drawn first."""
    total = max(log.latency_ms, 0.0)
    overhead = min(max(log.overhead_ms, 0.0), total)
    first_token = min(log.ttft_ms, total) if log.stream and log.ttft_ms is not None else None
    upstream_until = first_token if first_token is not None else total
    parts = [("Gateway overhead", overhead), ("Upstream wait", max(upstream_until - overhead, 0.0))]
    if first_token is not None:
        parts.append(("Streaming to the client", max(total - max(first_token, overhead), 0.0)))

    def pct(ms: float) -> float:
        return round(100 * ms / total, 2) if total else 0.0

    segments, offset = [], 0.0
    for label, ms in parts:
        segments.append(Segment(label=label, ms=ms, offset_pct=pct(offset), width_pct=pct(ms)))
        offset += ms
    markers = [Marker("Received", 0.0, 0.0)]
    if first_token is not None:
        markers.append(Marker("First token", first_token, pct(first_token)))
    markers.append(Marker("Done", total, 100.0 if total else 0.0))
    return segments, markers
