from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from apps.core.errors import NotPermitted
from apps.core.models import AuditEvent
from apps.tenants.models import Membership, Role, Tenant


def is_row_id(value: int | str) -> bool:
    """An id from a URL that can be looked up: ASCII digits only ("²".isdigit() is true, int("²") fails)."""
    text = str(value)
    return text.isascii() and text.isdigit()


def tenant_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Tenant]:
    return Tenant.objects.filter(memberships__user=user).order_by("name")


def tenant_get_for_user(*, user: AbstractBaseUser, slug: str) -> tuple[Tenant, Membership]:
    """The tenant and the user's membership; 404 when the user is not a member, so existence does not leak."""
    membership = (
        Membership.objects.select_related("tenant").filter(user=user, tenant__slug=slug).first()
        if user.is_authenticated
        else None
    )
    if membership is None:
        raise Http404("No such tenant.")
    return membership.tenant, membership


def membership_require(*, membership: Membership, min_role: str) -> Membership:
    if not membership.has_role(min_role):
        raise NotPermitted(f"This needs the {Role(min_role).label.lower()} role or higher in {membership.tenant}.")
    return membership


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")


def membership_get_in_tenant(*, tenant: Tenant, pk: int | str) -> Membership:
    membership = membership_list(tenant=tenant).filter(pk=pk).first() if is_row_id(pk) else None
    if membership is None:
        raise Http404("No such member.")
    return membership


def audit_event_list(*, tenant: Tenant, filters: dict[str, str] | None = None) -> QuerySet[AuditEvent]:
    """The tenant's audit trail, newest first; filters: action, actor, object_type, source, date_from, date_to."""
    filters = filters or {}
    events = AuditEvent.objects.filter(tenant=tenant)
    if filters.get("action"):
        events = events.filter(action__startswith=filters["action"])
    if filters.get("actor"):
        events = events.filter(actor_label__icontains=filters["actor"])
    if filters.get("object_type"):
        events = events.filter(object_type=filters["object_type"])
    if filters.get("source"):
        events = events.filter(source=filters["source"])
    if filters.get("date_from"):
        events = events.filter(created_at__date__gte=filters["date_from"])
    if filters.get("date_to"):
        events = events.filter(created_at__date__lte=filters["date_to"])
    return events.order_by("-created_at", "-id")
