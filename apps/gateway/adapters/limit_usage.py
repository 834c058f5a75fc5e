"""The live limit counters as the control plane reads them (usage pages, approvals): the counters the gateway
enforces, in Redis or in this process (the embedded default), read in their current windows.

`GatewayLimitUsage` is the access app's LimitUsageReader (apps/access/selectors/limit_usage.py) over them, for
registration in apps/gateway/apps.py; while the store is unreachable it says so, and the port reads the call log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apps.access.selectors.limit_usage import LimitUsageUnavailable, Reading, UsageScope, readings_complete
from apps.gateway.pipeline.policies.counters import Counters, CounterStoreDown, counter_key, window_bounds
from apps.gateway.pipeline.snapshot import Limits

METRIC_WINDOWS = {
    "requests_per_minute": "minute",
    "tokens_per_minute": "minute",
    "requests_per_day": "day",
    "requests_per_month": "month",
    "budget_per_day": "day",
    "budget_per_month": "month",
}
MICRO = Decimal(1_000_000)


def _limits_of(limits: Limits | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(limits, Limits):
        return {metric: getattr(limits, metric) for metric in METRIC_WINDOWS}
    return dict(limits)


def _counters() -> Counters:
    from apps.gateway.wiring import get_limit_counters  # the composition root imports this module's neighbours

    return get_limit_counters()


def _read_many(
    entries: Sequence[tuple[str, int, Mapping[str, Any]]], now: float, counters: Counters
) -> list[dict[str, dict[str, Any]]]:
    keys, spots = [], []
    for index, (scope, scope_id, limits) in enumerate(entries):
        for metric, window in METRIC_WINDOWS.items():
            limit = limits.get(metric)
            if limit is not None:
                start, end = window_bounds(window, now)
                keys.append(counter_key(scope, scope_id, metric, start))
                spots.append((index, metric, limit, end))
    values = counters.read(keys, now) if keys else []  # one round trip for every scope
    results: list[dict[str, dict[str, Any]]] = [{} for _ in entries]
    for (index, metric, limit, end), value in zip(spots, values, strict=True):
        used: int | Decimal = Decimal(value) / MICRO if metric.startswith("budget_") else value
        limit = Decimal(limit) if metric.startswith("budget_") else int(limit)
        results[index][metric] = {"used": used, "limit": limit, "remaining": max(limit - used, 0), "resets_at": end}
    return results


def limit_usage_read(
    *,
    scope: str,
    scope_id: int,
    limits: Limits | Mapping[str, Any],
    now: float,
    counters: Counters | None = None,
) -> dict[str, dict[str, Any]]:
    """What one scope has used of each of its configured limits in the current window.

    `scope` is "tenant", "app", "key" or "subscription" (a subscription counts against its plan's `limits`);
    `limits` is the scope's Limits entry or a mapping of the same field names (None or missing: no limit);
    `now` is unix seconds. Returns, for each configured metric among requests_per_minute, tokens_per_minute,
    requests_per_day, requests_per_month, budget_per_day and budget_per_month:

        {"used": …, "limit": …, "remaining": …, "resets_at": <int unix seconds, the window's end>}

    counts (int) for requests and tokens, US dollars (Decimal) for budgets; `remaining` is never negative (a
    settled call may take a count past its limit). Raises CounterStoreDown when the store cannot be reached."""
    return _read_many([(scope, scope_id, _limits_of(limits))], now, counters or _counters())[0]


class GatewayLimitUsage:
    """limit_usage_read for the access app's usage pages: one read for every scope asked for."""

    source = "gateway"

    def __init__(self, counters: Counters | None = None) -> None:
        self._counters = counters

    def __call__(
        self, *, scopes: Mapping[UsageScope, Mapping[str, Decimal]], now: datetime
    ) -> dict[tuple[str, int], dict[str, Reading]]:
        entries = [(scope.kind, scope.scope_id, limits) for scope, limits in scopes.items()]
        try:
            found = _read_many(entries, now.timestamp(), self._counters or _counters())
        except CounterStoreDown as exc:
            # The port then asks the call log, the record of calls, and says that it counted.
            raise LimitUsageUnavailable(str(exc)) from exc
        readings = {}
        for (scope, limits), metrics in zip(scopes.items(), found, strict=True):
            read = {
                metric: Reading(
                    metric, Decimal(m["used"]), Decimal(m["limit"]), datetime.fromtimestamp(m["resets_at"], tz=UTC)
                )
                for metric, m in metrics.items()
            }
            readings[(scope.kind, scope.scope_id)] = readings_complete(limits, read, now)
        return readings
