"""The web UI's notion of "the tenant I am working in": kept in the session, checked on every use."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.tenants.models import Membership, Role

SESSION_KEY = "tenant_id"


def current_membership(request: HttpRequest) -> Membership | None:
    cached = getattr(request, "_current_membership", None)
    if cached is not None:
        return cached
    memberships = Membership.objects.select_related("tenant").filter(user=request.user)
    membership = (
        memberships.filter(tenant_id=request.session.get(SESSION_KEY)).first()
        or memberships.order_by("tenant__name").first()
    )
    if membership is not None:
        request.session[SESSION_KEY] = membership.tenant_id
        request._current_membership = membership
    return membership


def role_refusal(membership: Membership, min_role: str) -> str:
    """Why a page is refused, and whom to ask: admins grant roles up to admin, only owners grant the owner role."""
    needed = Role(min_role)
    granters = "an owner" if needed == Role.OWNER else "an owner or admin"
    return (
        f"This page needs the {needed.label.lower()} role in {membership.tenant}; yours is "
        f"{membership.get_role_display().lower()}. Ask {granters} of {membership.tenant} for the "
        f"{needed.label.lower()} role."
    )


def tenant_required(min_role: str | None = None) -> Callable:
    """Login, a current tenant (else the no-tenant page), and optionally a minimum role (else 403)."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            membership = current_membership(request)
            if membership is None:
                return redirect("tenants:no-tenant")
            if min_role and not membership.has_role(min_role):
                raise PermissionDenied(role_refusal(membership, min_role))
            request.membership = membership
            request.tenant = membership.tenant
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
