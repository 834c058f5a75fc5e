"""How much of each limit a scope (a subscription under its plan, an app, a key, a tenant) has used, and when it
resets: the port the usage pages read through.

Two readers may be registered. The gateway registers the live counters it enforces (Redis, or the in-process
counters of the embedded default) when it is installed; the analytics app registers a reader of the call log, the
record of calls, which serves when no gateway is (a control-plane-only process). Both sit above access in the
layers, so they register here when they start rather than being imported; the live reader wins."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

# A limit's name (the fields of catalog.Plan and access.LimitSet, and of the gateway's Limits) → its period.
METRIC_PERIODS = {
    "requests_per_minute": "minute",
    "tokens_per_minute": "minute",
    "requests_per_day": "day",
    "requests_per_month": "month",
    "budget_per_day": "day",
    "budget_per_month": "month",
}
BUDGET_METRICS = ("budget_per_day", "budget_per_month")
METRIC_UNITS = {"tokens_per_minute": "tokens", "budget_per_day": "USD", "budget_per_month": "USD"}  # else requests
METRIC_ORDER = tuple(METRIC_PERIODS)
METRIC_LABELS = {
    "requests_per_minute": "Requests this minute",
    "tokens_per_minute": "Tokens this minute",
    "requests_per_day": "Requests today",
    "requests_per_month": "Requests this month",
    "budget_per_day": "Spend today",
    "budget_per_month": "Spend this month",
}


@dataclass(frozen=True)
class UsageScope:
    """Whose calls count against a set of limits. `kind` is "subscription", "app", "key" or "tenant"; `scope_id`
    the row's id. The call log needs the rest to find the calls: the caller's tenant always, the app (for an app,
    key or subscription), the service (a subscription) and the key's prefix (a key)."""

    kind: str
    scope_id: int
    tenant_id: int
    app_id: int | None = None
    service_id: int | None = None
    key_prefix: str = ""


@dataclass(frozen=True)
class Reading:
    """One limit of a scope: the amount used in the current period, the limit, what remains, and when the period
    ends (UTC). Amounts are requests, tokens or USD, by metric."""

    metric: str
    used: Decimal
    limit: Decimal
    resets_at: datetime

    @property
    def remaining(self) -> Decimal:
        return max(self.limit - self.used, Decimal(0))

    @property
    def percent(self) -> float:
        return float(self.used * 100 / self.limit) if self.limit else 100.0

    @property
    def period(self) -> str:
        return METRIC_PERIODS[self.metric]

    @property
    def unit(self) -> str:
        return METRIC_UNITS.get(self.metric, "requests")

    @property
    def label(self) -> str:
        return METRIC_LABELS[self.metric]


class LimitUsageReader(Protocol):
    """Readings of the configured limits of many scopes at `now`: {(kind, scope id): {metric: Reading}}. `limits`
    holds, per scope, only the metrics that have a limit; a reader answers for each of them."""

    source: str  # "gateway" (the live counters) or "call_log", shown to whoever reads the figures

    def __call__(
        self, *, scopes: Mapping[UsageScope, Mapping[str, Decimal]], now: datetime
    ) -> dict[tuple[str, int], dict[str, Reading]]: ...


class LimitUsageUnavailable(Exception):
    """A reader cannot count right now (the live counters' store is unreachable): the next reader is asked."""


_readers: dict[str, LimitUsageReader] = {}


def limit_usage_reader_register(reader: LimitUsageReader, *, live: bool) -> None:
    """Register the live counters (live=True: the gateway) or the call-log reader (the analytics app)."""
    _readers["live" if live else "record"] = reader


def limit_usage_read(
    *, scopes: Mapping[UsageScope, Mapping[str, Decimal]], now: datetime
) -> tuple[str, dict[tuple[str, int], dict[str, Reading]]]:
    """(the source that counted, its readings): the live counters, else (none registered, or unreachable) the
    call log."""
    for name in ("live", "record"):
        reader = _readers.get(name)
        if reader is None:
            continue
        try:
            return reader.source, reader(scopes=scopes, now=now)
        except LimitUsageUnavailable:
            continue
    raise ImproperlyConfigured("No limit usage reader answered: apps.analytics registers the call log's.")


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the UTC minute, day or month that holds `now`: the fixed windows the limits count in."""
    now = now.astimezone(UTC)
    if period == "minute":
        start = now.replace(second=0, microsecond=0)
        return start, start + timedelta(minutes=1)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    start = day.replace(day=1)
    return start, start + timedelta(days=monthrange(start.year, start.month)[1])


def readings_complete(limits: Mapping[str, Decimal], found: Mapping[str, Reading], now: datetime) -> dict[str, Reading]:
    """A reading for every limit, in METRIC_ORDER: a metric the reader has no count for yet has used nothing."""
    readings = {}
    for metric in METRIC_ORDER:
        if metric in limits:
            reading = found.get(metric) or Reading(
                metric, Decimal(0), limits[metric], period_bounds(METRIC_PERIODS[metric], now)[1]
            )
            readings[metric] = reading
    return readings
