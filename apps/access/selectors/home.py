"""What the home page shows a member: the tenant's apps with their open subscriptions and today's calls, the
requests waiting for a decision (owners and admins), what changed lately in the catalog and in the tenant's
prompts, and, while the tenant is new, the first steps that are still to do."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from apps.access.models import OPEN_SUBSCRIPTION_STATES, ApiKey, App, Subscription, SubscriptionStatus
from apps.access.selectors.subscriptions import subscription_list_for_approver
from apps.access.selectors.usage import app_calls_today
from apps.catalog.selectors import service_list, service_list_visible_to
from apps.prompts.models import PromptVersion
from apps.providers.models import Provider
from apps.tenants.models import Membership, Role
from apps.tenants.selectors import audit_event_list

HOME_APPS = 6
RECENT = 5


def _apps(membership: Membership) -> tuple[list[App], int]:
    open_ones = Subscription.objects.filter(status__in=OPEN_SUBSCRIPTION_STATES).select_related("service__tenant")
    apps = App.objects.for_tenant(membership.tenant).order_by("name")
    shown = list(
        apps.prefetch_related(
            Prefetch("subscriptions", queryset=open_ones.order_by("service__name"), to_attr="open_subscriptions")
        )[:HOME_APPS]
    )
    calls = app_calls_today(tenant=membership.tenant, apps=shown)
    for app in shown:
        app.calls_today = calls.get(app.pk, 0)
    return shown, apps.count() if len(shown) == HOME_APPS else len(shown)


def _first_steps(membership: Membership, *, app_count: int, active_key_count: int) -> list[dict[str, Any]]:
    """The steps from an empty tenant to a first call that this member can take, and whether each is done."""
    tenant = membership.tenant
    if not membership.has_role(Role.DEVELOPER):
        return []
    subscribed = Subscription.objects.filter(app__tenant=tenant, status=SubscriptionStatus.APPROVED).exists()
    steps = []
    if membership.has_role(Role.ADMIN):
        steps += [
            {"key": "provider", "done": Provider.objects.filter(tenant=tenant).exists()},
            {"key": "service", "done": service_list(tenant=tenant).exists()},
        ]
    steps += [
        {"key": "app", "done": app_count > 0},
        {"key": "subscribe", "done": subscribed},
        {"key": "key", "done": active_key_count > 0},
    ]
    return [] if all(step["done"] for step in steps) else steps


def home_get(*, membership: Membership) -> dict[str, Any]:
    tenant = membership.tenant
    apps, app_count = _apps(membership)
    unexpired = ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).exclude(expires_at__lte=timezone.now())
    active_key_count = unexpired.count()
    context: dict[str, Any] = {
        "apps": apps,
        "app_count": app_count,
        "active_key_count": active_key_count,
        "member_count": Membership.objects.filter(tenant=tenant).count(),
        "first_steps": _first_steps(membership, app_count=app_count, active_key_count=active_key_count),
        "recent_services": list(service_list_visible_to(tenant=tenant).order_by("-updated_at")[:RECENT]),
        "recent_prompt_versions": list(
            PromptVersion.objects.filter(template__service__tenant=tenant)
            .select_related("template__service", "author")
            .order_by("-created_at")[:RECENT]
        ),
        "pending": None,
        "events": None,
    }
    if membership.has_role(Role.ADMIN):
        pending = subscription_list_for_approver(tenant=tenant, filters={"status": SubscriptionStatus.PENDING})
        context["pending"] = list(pending[:RECENT])
        context["pending_count"] = len(context["pending"]) if len(context["pending"]) < RECENT else pending.count()
        context["events"] = list(audit_event_list(tenant=tenant)[:RECENT])
    return context
