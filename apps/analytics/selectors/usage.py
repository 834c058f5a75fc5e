"""How much a tenant's apps call, for the portal's home and app pages: read from the hourly rollups only.

An app's calls are rows of its own tenant (tenant_id is the caller's), so one tenant's figures never include
another's. Hour rollups are recomputed every minute for the current hour, so "today" is at most a minute behind."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from apps.analytics.models import CallRollup
from apps.analytics.models.rollups import Granularity
from apps.analytics.periods import Period, floor_to, period_last
from apps.catalog.models import Service

USAGE_PERIOD = "7d"  # a preset of apps.analytics.periods, the same "last 7 days" as the dashboard's
NO_SERVICE = "Direct /v1 calls (no service)"
FIGURES = ("calls", "errors", "prompt_tokens", "completion_tokens", "cost")


@dataclass(frozen=True)
class AppUsage:
    """An app's calls over `period`, per service (most called first), and their totals."""

    period: Period
    preset: str
    services: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)


def app_calls_today(*, tenant_id: int, app_ids: Iterable[int], now: datetime | None = None) -> dict[int, int]:
    """{app id: calls since 00:00 UTC}; apps without calls are absent."""
    start = floor_to(now or timezone.now(), Granularity.DAY)
    rows = (
        CallRollup.objects.filter(
            tenant_id=tenant_id, granularity=Granularity.HOUR, bucket__gte=start, app_id__in=list(app_ids)
        )
        .values("app_id")
        .annotate(total=Sum("calls"))
        .order_by()
    )
    return {row["app_id"]: row["total"] for row in rows}


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    figures = {name: row[name] or 0 for name in FIGURES}
    figures["cost"] = Decimal(figures["cost"])
    figures["tokens"] = figures["prompt_tokens"] + figures["completion_tokens"]
    figures["error_rate"] = figures["errors"] / figures["calls"] if figures["calls"] else None
    return figures


def app_usage_by_service(*, tenant_id: int, app_id: int, now: datetime | None = None) -> AppUsage:
    """The app's calls, errors, tokens and cost per service over the last 7 days (hourly rows, the current hour
    included). Services are named as the app's tenant knows them; a deleted one by its former id."""
    period = period_last(USAGE_PERIOD, now=now or timezone.now())
    rows = list(
        CallRollup.objects.filter(
            tenant_id=tenant_id,
            app_id=app_id,
            granularity=period.granularity,
            bucket__gte=period.start,
            bucket__lt=period.end,
        )
        .values("service_id")
        .annotate(**{name: Sum(name) for name in FIGURES})
        .order_by("-calls", "service_id")
    )
    service_ids = [row["service_id"] for row in rows if row["service_id"]]
    named = Service.objects.filter(pk__in=service_ids).values_list("pk", "name", "slug")
    names = {pk: (name, slug) for pk, name, slug in named}
    services = []
    for row in rows:
        name, slug = names.get(row["service_id"], (f"Service #{row['service_id']}", ""))
        if not row["service_id"]:
            name = NO_SERVICE
        services.append({"service_id": row["service_id"], "name": name, "slug": slug, **_figures(row)})
    totals = _figures({name: sum((service[name] for service in services), 0) for name in FIGURES})
    return AppUsage(period=period, preset=USAGE_PERIOD, services=services, totals=totals)
