"""Apps of a tenant and who manages them."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from guardian.shortcuts import get_users_with_perms

from apps.access.models import ApiKey, App
from apps.tenants.models import Membership, Role, Tenant


def app_list(*, tenant: Tenant) -> QuerySet[App]:
    return (
        App.objects.for_tenant(tenant)
        .select_related("created_by")
        .prefetch_related(Prefetch("keys", queryset=ApiKey.objects.order_by("-created_at")))
        .order_by("name")
    )


def app_get(*, tenant: Tenant, slug: str) -> App:
    app = App.objects.for_tenant(tenant).filter(slug=slug).first()
    if app is None:
        raise Http404("No such app.")
    return app


def app_can_manage(*, membership: Membership, app: App) -> bool:
    """Admins and owners manage every app of their tenant; others need the per-app guardian permission."""
    if membership.tenant_id != app.tenant_id:
        return False
    if membership.has_role(Role.ADMIN):
        return True
    return membership.has_role(Role.DEVELOPER) and membership.user.has_perm("access.manage_app", app)


def app_managers(*, app: App) -> list:
    return list(get_users_with_perms(app, only_with_perms_in=["manage_app"]))
