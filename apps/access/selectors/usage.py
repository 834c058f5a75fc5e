"""How much the tenant's apps call, for the home and app pages. The analytics app measures it, and sits above
access in the layers: it registers its readers here when it starts (AnalyticsConfig.ready), so these pages ask
without importing it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from apps.access.models import App
from apps.tenants.models import Tenant


@dataclass(frozen=True)
class UsageReaders:
    calls_today: Callable[..., dict[int, int]]  # (*, tenant_id, app_ids) -> {app id: calls since 00:00 UTC}
    usage_by_service: Callable[..., Any]  # (*, tenant_id, app_id) -> the last 7 days per service, with totals


_readers: list[UsageReaders] = []


def usage_readers_register(readers: UsageReaders) -> None:
    _readers[:] = [readers]


def _registered() -> UsageReaders:
    if not _readers:
        raise ImproperlyConfigured("No usage readers: apps.analytics registers them when it is installed.")
    return _readers[0]


def app_calls_today(*, tenant: Tenant, apps: Iterable[App]) -> dict[int, int]:
    return _registered().calls_today(tenant_id=tenant.pk, app_ids=[app.pk for app in apps])


def app_usage_get(*, app: App) -> Any:
    return _registered().usage_by_service(tenant_id=app.tenant_id, app_id=app.pk)
