"""Reads of limit sets, and the lookups that turn an API caller's scope names into a tenant's rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from apps.access.models import ApiKey, App, LimitSet
from apps.core.errors import ApplicationError
from apps.providers.models import Route
from apps.tenants.models import Tenant
from apps.tenants.selectors import is_row_id


def limit_set_list(*, tenant: Tenant) -> QuerySet[LimitSet]:
    return (
        LimitSet.objects.for_tenant(tenant)
        .select_related("tenant", "app", "api_key", "over_budget_route")
        .order_by("app__slug", "api_key__created_at", "id")
    )


def limit_sets_sending_to(*, route: Route) -> list[str]:
    """The limit sets whose calls go to `route` once over budget, as the limits page names their scope."""
    sets = LimitSet.objects.filter(over_budget_route=route).select_related("tenant", "app", "api_key").order_by("id")
    return [f"the limits of {s.scope} '{s.scope_label}' (over-budget route)" for s in sets]


def limit_set_get(*, tenant: Tenant, pk: int | str) -> LimitSet:
    limit_set = limit_set_list(tenant=tenant).filter(pk=pk).first() if is_row_id(pk) else None
    if limit_set is None:
        raise Http404("No such limit set.")
    return limit_set


def limit_set_for_scope(*, tenant: Tenant, app: App | None = None, api_key: ApiKey | None = None) -> LimitSet | None:
    """The set of exactly this scope: the tenant's own (no app, no key), an app's or a key's."""
    return limit_set_list(tenant=tenant).filter(app=app, api_key=api_key).first()


def limit_sets_by_key(*, app: App) -> dict[int, LimitSet]:
    """The sets of the app's keys, by key id (one query for the app page)."""
    rows = LimitSet.objects.filter(tenant=app.tenant_id, api_key__app=app).select_related("over_budget_route")
    return {row.api_key_id: row for row in rows}


@dataclass(frozen=True)
class LimitTargets:
    app: App | None
    api_key: ApiKey | None
    over_budget_route: Route | None


def limit_targets_get(*, tenant: Tenant, app: str = "", api_key: str = "", over_budget_route: str = "") -> LimitTargets:
    """The app (slug), key (its prefix gwk_…, or id) and route (alias) an API caller names, all of this tenant;
    a name that matches nothing here is refused naming its field, the same whether it exists elsewhere or not."""
    app_row = App.objects.for_tenant(tenant).filter(slug=app).first() if app else None
    if app and app_row is None:
        raise ApplicationError(f"No app named {app!r} in this tenant.", field="app")
    key_row = None
    if api_key:
        keys = ApiKey.objects.filter(tenant=tenant).select_related("app")
        prefix = f"{ApiKey.kind}_"
        if is_row_id(api_key):
            key_row = keys.filter(pk=api_key).first()
        elif api_key.startswith(prefix):
            key_row = keys.filter(lookup_id=api_key.removeprefix(prefix)).first()
        if key_row is None:
            raise ApplicationError(f"No API key {api_key!r} in this tenant.", field="api_key")
    route_row = Route.objects.for_tenant(tenant).filter(alias=over_budget_route).first() if over_budget_route else None
    if over_budget_route and route_row is None:
        raise ApplicationError(f"No route named {over_budget_route!r} in this tenant.", field="over_budget_route")
    return LimitTargets(app=app_row, api_key=key_row, over_budget_route=route_row)
