"""Tenant-scoped DRF viewsets: the tenant comes from the URL and is checked once, in initial()."""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from apps.tenants.models import Role
from apps.tenants.selectors import tenant_get_for_user

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TenantScopedViewSet(viewsets.GenericViewSet):
    """Sets request.tenant and request.membership; a non-member gets 404 (existence does not leak).

    `read_role`/`write_role` are the minimum roles for safe and unsafe methods; services check finer rules."""

    lookup_value_regex = r"[^/]+"
    read_role: str = Role.VIEWER
    write_role: str = Role.VIEWER

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        tenant, membership = tenant_get_for_user(user=request.user, slug=self.kwargs["tenant_slug"])
        request.tenant, request.membership = tenant, membership
        needed = self.read_role if request.method in SAFE_METHODS else self.write_role
        if not membership.has_role(needed):
            raise PermissionDenied(f"This needs the {Role(needed).label.lower()} role or higher in {tenant}.")
