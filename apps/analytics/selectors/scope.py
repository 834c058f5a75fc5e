"""Which calls a tenant may see in analytics, and the names it sees them under.

A tenant sees its own calls (tenant_id = its id) and the calls other tenants' apps make to its own services
(they subscribed; the owner knows these apps from their subscriptions). Nothing else of another tenant: the
log explorer hides the key prefix of such foreign calls, and ids outside the scope are refused as unknown."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from apps.access.models import App
from apps.catalog.models import Service
from apps.tenants.models import Tenant

NO_SERVICE = "(no service)"
NO_APP = "(no app)"
NO_MODEL = "(no model)"


@dataclass(frozen=True)
class AnalyticsScope:
    """The tenant's view of the call data: the row filter and the names of the services and apps in it."""

    tenant_id: int
    own_service_ids: frozenset[int]
    services: dict[int, str] = field(default_factory=dict)  # own services and those its apps subscribed to
    apps: dict[int, str] = field(default_factory=dict)  # own apps and the apps subscribed to its services

    def rows(self) -> Q:
        """The rows of CallLog and CallRollup (both have tenant_id and service_id) this tenant may see.

        The service ids go in as a literal list, not a subquery, so that PostgreSQL can OR an index scan on
        tenant_id with one on service_id (a subquery's hashed lookup is no index condition)."""
        visible = Q(tenant_id=self.tenant_id)
        if self.own_service_ids:
            visible |= Q(service_id__in=sorted(self.own_service_ids))
        return visible

    def is_foreign(self, tenant_id: int | None) -> bool:
        """A call another tenant made (to one of this tenant's services)."""
        return tenant_id != self.tenant_id

    def service_name(self, service_id: int | None) -> str:
        if not service_id:
            return NO_SERVICE
        return self.services.get(service_id, f"#{service_id}")

    def app_name(self, app_id: int | None) -> str:
        if not app_id:
            return NO_APP
        return self.apps.get(app_id, f"#{app_id}")


def analytics_scope_get(*, tenant: Tenant) -> AnalyticsScope:
    """The scope of `tenant`: one query for services, one for apps (deleted ones are named "#<id>" later)."""
    services = Service.objects.filter(Q(tenant=tenant) | Q(subscriptions__app__tenant=tenant)).order_by("name")
    service_rows = list(services.values_list("pk", "name", "tenant_id").distinct())
    apps = App.objects.filter(Q(tenant=tenant) | Q(subscriptions__service__tenant=tenant)).order_by("name")
    app_rows = list(apps.values_list("pk", "name", "tenant_id", "tenant__name").distinct())
    return AnalyticsScope(
        tenant_id=tenant.pk,
        own_service_ids=frozenset(pk for pk, _, owner in service_rows if owner == tenant.pk),
        services={pk: name for pk, name, _ in service_rows},
        apps={
            pk: (name if owner == tenant.pk else f"{name} ({owner_name})") for pk, name, owner, owner_name in app_rows
        },
    )
