"""Subscriptions as each side sees them: the requesting tenant (its apps' subscriptions), the approving tenant (the
requests to its services, with what one would cost), and the gateway (the active ones)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from apps.access.models import EXPIRED, App, Subscription, SubscriptionStatus
from apps.catalog.models import Lifecycle, Plan, Service
from apps.catalog.selectors import plan_list, service_get_visible, service_list_visible_to
from apps.core.errors import ApplicationError
from apps.providers.models import Deployment
from apps.tenants.models import Tenant
from apps.tenants.selectors import is_row_id

MINUTES_PER_MONTH = 60 * 24 * 30
CENT = Decimal("0.01")
PRICE_PLACES = Decimal("0.000001")
RELATED = ("app__tenant", "service__tenant", "service__route", "plan", "requested_by", "decided_by")


def _subscriptions(filters: dict[str, Any] | None) -> QuerySet[Subscription]:
    """Filters: status (a stored status, or "expired": approved but past its expiry), app and service (slugs)."""
    filters = filters or {}
    subscriptions = Subscription.objects.select_related(*RELATED)
    status = filters.get("status")
    if status == EXPIRED:
        subscriptions = subscriptions.filter(status=SubscriptionStatus.APPROVED, expires_at__lte=timezone.now())
    elif status:
        subscriptions = subscriptions.filter(status=status)
    if filters.get("app"):
        subscriptions = subscriptions.filter(app__slug=filters["app"])
    if filters.get("service"):
        subscriptions = subscriptions.filter(service__slug=filters["service"])
    return subscriptions.order_by("-created_at", "-id")


def subscription_list_for_app_tenant(*, tenant: Tenant, filters: dict[str, Any] | None = None) -> QuerySet:
    """The subscriptions of the tenant's apps, whoever's services they are to."""
    return _subscriptions(filters).filter(app__tenant=tenant)


def subscription_list_for_app(*, app: App) -> QuerySet[Subscription]:
    """The subscriptions of one app, newest first (the app's page)."""
    return _subscriptions(None).filter(app=app)


def subscription_get_for_app_tenant(*, tenant: Tenant, pk: int | str) -> Subscription:
    """A subscription of one of the tenant's apps (what the app's side may cancel). Else 404."""
    return _get(subscription_list_for_app_tenant(tenant=tenant), pk)


def subscription_get_for_app(*, app: App, pk: int | str) -> Subscription:
    """A subscription of the app (what its managers may cancel). Else 404."""
    return _get(subscription_list_for_app(app=app), pk)


def subscription_list_for_approver(*, tenant: Tenant, filters: dict[str, Any] | None = None) -> QuerySet:
    """The subscriptions to the tenant's services (status=pending: the approval queue), with the route's deployments
    and their models prefetched for subscription_cost_projection."""
    deployments = Prefetch("service__route__deployments", queryset=Deployment.objects.select_related("model"))
    return _subscriptions(filters).filter(service__tenant=tenant).prefetch_related(deployments)


def _get(subscriptions: QuerySet[Subscription], pk: int | str) -> Subscription:
    subscription = subscriptions.filter(pk=pk).first() if is_row_id(pk) else None
    if subscription is None:
        raise Http404("No such subscription.")
    return subscription


def subscription_get_for_tenant(*, tenant: Tenant, pk: int | str) -> Subscription:
    """A subscription the tenant is a party to: its app asked, or its service was asked. Else 404."""
    return _get(_subscriptions(None).filter(Q(app__tenant=tenant) | Q(service__tenant=tenant)), pk)


def subscription_get_for_approver(*, tenant: Tenant, pk: int | str) -> Subscription:
    """A subscription to one of the tenant's services (what its approvers decide on). Else 404."""
    return _get(subscription_list_for_approver(tenant=tenant), pk)


def subscription_list_active(*, now: datetime | None = None) -> QuerySet[Subscription]:
    """Every subscription that lets an app call a service now: approved and not expired (Subscription.is_active).

    For the gateway's snapshot. It keeps `expires_at`, so the data plane also refuses one that expires between two
    snapshots."""
    return Subscription.objects.active(now).select_related("app", "service", "plan").order_by("pk")


def subscription_plan_choices(*, tenant: Tenant) -> QuerySet[Service]:
    """The services the tenant's apps may subscribe to now (visible and published), each with its plans."""
    return service_list_visible_to(tenant=tenant, filters={"lifecycle": Lifecycle.PUBLISHED})


def subscription_targets_get(*, tenant: Tenant, app: str, service: str, plan: str) -> dict[str, Any]:
    """{app, service, plan} named by slugs in a request of `tenant`: an unknown app or plan is a 400 naming it; a
    service the tenant may not see is a 404, as if it did not exist."""
    app_obj = App.objects.for_tenant(tenant).filter(slug=app).first()
    if app_obj is None:
        raise ApplicationError(f"{tenant} has no app {app!r}.", field="app")
    service_obj = service_get_visible(tenant=tenant, slug=service)
    plans = plan_list(service=service_obj)
    plan_obj = plans.filter(slug=plan).first()
    if plan_obj is None:
        offered = ", ".join(plans.values_list("slug", flat=True)) or "none"
        raise ApplicationError(f"{service_obj} has no plan {plan!r} (its plans: {offered}).", field="plan")
    return {"app": app_obj, "service": service_obj, "plan": plan_obj}


def _monthly_requests(plan: Plan, tokens_per_call: int) -> tuple[int | None, str]:
    """(requests a month, how that figure was reached); None when nothing in the plan bounds it."""
    if plan.requests_per_month is not None:
        return plan.requests_per_month, "requests_per_month"
    if plan.requests_per_day is not None:
        return plan.requests_per_day * 30, "requests_per_day * 30"
    if plan.requests_per_minute is None:
        return None, "unlimited"
    # Flat out all month: a ceiling, lowered by the token rate limit when that lets fewer calls through.
    calls_by_tokens = plan.tokens_per_minute // tokens_per_call if plan.tokens_per_minute and tokens_per_call else None
    if calls_by_tokens is not None and calls_by_tokens < plan.requests_per_minute:
        return calls_by_tokens * MINUTES_PER_MONTH, f"tokens_per_minute / tokens_per_call * {MINUTES_PER_MONTH}"
    return plan.requests_per_minute * MINUTES_PER_MONTH, f"requests_per_minute * {MINUTES_PER_MONTH}"


def subscription_cost_projection(*, subscription: Subscription) -> dict[str, Any]:
    """What the subscription would cost a month, with every input, so the approval screen can show the arithmetic:

    monthly_requests * tokens_per_call * price_per_mtok / 1,000,000, capped by the plan's monthly budget.
    price_per_mtok is the mean, over the route's enabled deployments, of (input + output price) / 2 per 1M tokens.
    monthly_cost is None when it cannot be known: no enabled deployment, or unlimited requests and no budget."""
    plan, service = subscription.plan, subscription.service
    tokens_per_call = service.expected_tokens_per_call
    requests, basis = _monthly_requests(plan, tokens_per_call)
    prices = [
        (deployment.model.input_price_per_mtok + deployment.model.output_price_per_mtok) / 2
        for deployment in service.route.deployments.all()
        if deployment.enabled
    ]
    price = (sum(prices) / len(prices)).quantize(PRICE_PLACES) if prices else None
    uncapped = None
    if price is not None and requests is not None:
        uncapped = (Decimal(requests) * tokens_per_call * price / 1_000_000).quantize(CENT, ROUND_HALF_UP)
    budget = plan.monthly_budget
    cost = uncapped
    if price is not None and budget is not None and (uncapped is None or uncapped > budget):
        cost = budget
    return {
        "monthly_requests": requests,
        "requests_basis": basis,
        "tokens_per_call": tokens_per_call,
        "price_per_mtok": price,
        "priced_deployments": len(prices),
        "uncapped_cost": uncapped,
        "monthly_budget": budget,
        "capped_by_budget": cost is not None and cost != uncapped,
        "monthly_cost": cost,
    }
