"""The web UI's notion of "the tenant I am working in": kept in the session, checked on every use."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.tenants.models import Membership

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
                raise PermissionDenied(f"This page needs the {min_role} role.")
            request.membership = membership
            request.tenant = membership.tenant
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
