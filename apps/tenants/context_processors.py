from __future__ import annotations

from django.http import HttpRequest

from apps.tenants.web import current_membership


def current_tenant(request: HttpRequest) -> dict:
    """The tenant the user works in now, and the others they can switch to, for the navigation bar."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = current_membership(request)
    return {
        "current_membership": membership,
        "current_tenant": membership.tenant if membership else None,
        "user_memberships": list(request.user.memberships.select_related("tenant").order_by("tenant__name")),
    }
