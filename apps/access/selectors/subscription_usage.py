"""A subscription's usage against its limits, for the app's side (the API, the app page) and for the service's
approvers (the approval cards): per limit of the plan, and of the app's, its keys' and its tenant's limit sets,
what is used in the current period, what remains and when it resets. The counts come from the registered limit
usage reader (apps/access/selectors/limit_usage.py): the gateway's live counters, else the call log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from apps.access.models import ApiKey, LimitSet, Subscription
from apps.access.selectors.limit_usage import (
    METRIC_ORDER,
    Reading,
    UsageScope,
    limit_usage_read,
    readings_complete,
)
from apps.access.selectors.subscriptions import RELATED
from apps.core.errors import NotPermitted
from apps.tenants.models import Membership, Role
from apps.tenants.selectors import is_row_id

# The plan's fields for the metrics whose plan field has another name.
PLAN_FIELDS = {"budget_per_day": "daily_budget", "budget_per_month": "monthly_budget"}


@dataclass(frozen=True)
class ScopeUsage:
    """The limits of one scope that apply to the subscription's calls, each with its reading."""

    kind: str  # "plan" (counted per subscription), "app", "key" or "tenant"
    scope_id: int
    name: str
    readings: list[Reading]
    alert_percent: int | None  # spend past this percent of a budget raises an alert


@dataclass(frozen=True)
class SubscriptionUsage:
    subscription: Subscription
    as_of: datetime
    source: str  # which reader counted: "gateway" (the live counters) or "call_log"
    plan: ScopeUsage
    others: list[ScopeUsage]  # the app's, its keys' and its tenant's limit sets: every one also applies

    @property
    def scopes(self) -> list[ScopeUsage]:
        return [self.plan, *self.others]


def subscription_get_for_usage(*, membership: Membership, pk: int | str) -> Subscription:
    """A subscription whose usage the member may read: one of the tenant's apps' (any member), or one to the
    tenant's services (its approvers: owners, admins and holders of catalog.approve_subscription on the service;
    other members get 403). Any other, another tenant's included, is a 404 like an unknown id."""
    tenant = membership.tenant
    subscriptions = Subscription.objects.select_related(*RELATED).filter(
        Q(app__tenant=tenant) | Q(service__tenant=tenant)
    )
    subscription = subscriptions.filter(pk=pk).first() if is_row_id(pk) else None
    if subscription is None:
        raise Http404("No such subscription.")
    if subscription.app.tenant_id != tenant.pk and not (
        membership.has_role(Role.ADMIN)
        or membership.user.has_perm("catalog.approve_subscription", subscription.service)
    ):
        raise NotPermitted(f"Only approvers of {subscription.service} see the usage of its subscriptions.")
    return subscription


def _limits(source: Any, fields: dict[str, str] | None = None) -> dict[str, Decimal]:
    """{metric: limit} of a plan or a limit set, the metrics it limits only."""
    fields = fields or {}
    limits = {}
    for metric in METRIC_ORDER:
        value = getattr(source, fields.get(metric, metric))
        if value is not None:
            limits[metric] = Decimal(value)
    return limits


def _limit_sets(subscriptions: Sequence[Subscription]) -> list[LimitSet]:
    """The limit sets of the subscriptions' tenants, apps and the apps' keys, in one query."""
    apps = {subscription.app_id for subscription in subscriptions}
    tenants = {subscription.app.tenant_id for subscription in subscriptions}
    wanted = (
        Q(app_id__in=apps)
        | Q(api_key__app_id__in=apps)
        | Q(tenant_id__in=tenants, app__isnull=True, api_key__isnull=True)
    )
    return list(LimitSet.objects.filter(wanted).select_related("app", "api_key", "tenant"))


def _scopes_of(subscription: Subscription, limit_sets: Iterable[LimitSet]) -> list[tuple[str, UsageScope, LimitSet]]:
    app = subscription.app
    found = []
    for limit_set in limit_sets:
        if limit_set.api_key_id is not None and limit_set.api_key.app_id == app.pk:
            key: ApiKey = limit_set.api_key
            scope = UsageScope("key", key.pk, app.tenant_id, app_id=app.pk, key_prefix=key.prefix)
            found.append((key.prefix, scope, limit_set))
        elif limit_set.api_key_id is None and limit_set.app_id == app.pk:
            found.append((app.name, UsageScope("app", app.pk, app.tenant_id, app_id=app.pk), limit_set))
        elif limit_set.app_id is None and limit_set.api_key_id is None and limit_set.tenant_id == app.tenant_id:
            found.append((app.tenant.name, UsageScope("tenant", app.tenant_id, app.tenant_id), limit_set))
    order = {"app": 0, "key": 1, "tenant": 2}
    return sorted(found, key=lambda item: (order[item[1].kind], item[0]))


def subscription_usage_list(
    *, subscriptions: Sequence[Subscription], app_side: bool = True, now: datetime | None = None
) -> dict[int, SubscriptionUsage]:
    """{subscription id: its usage}, read for all of them at once: one query for the limit sets, one reader call.

    app_side=False (the service's approvers): the plan's limits only; the limit sets of the app, its keys and its
    tenant are the subscribing tenant's own configuration."""
    now = now or timezone.now()
    if not subscriptions:
        return {}
    limit_sets = _limit_sets(subscriptions) if app_side else []
    plan_scopes: dict[int, tuple[UsageScope, dict[str, Decimal]]] = {}
    other_scopes: dict[int, list[tuple[str, UsageScope, LimitSet, dict[str, Decimal]]]] = {}
    wanted: dict[UsageScope, dict[str, Decimal]] = {}
    for subscription in subscriptions:
        app = subscription.app
        plan_scope = UsageScope(
            "subscription", subscription.pk, app.tenant_id, app_id=app.pk, service_id=subscription.service_id
        )
        plan_scopes[subscription.pk] = (plan_scope, _limits(subscription.plan, PLAN_FIELDS))
        other_scopes[subscription.pk] = [
            (name, scope, limit_set, _limits(limit_set))
            for name, scope, limit_set in _scopes_of(subscription, limit_sets)
        ]
        wanted[plan_scope] = plan_scopes[subscription.pk][1]
        wanted.update({scope: limits for _, scope, _, limits in other_scopes[subscription.pk]})
    source, counted = limit_usage_read(scopes={scope: limits for scope, limits in wanted.items() if limits}, now=now)

    def readings(scope: UsageScope, limits: dict[str, Decimal]) -> list[Reading]:
        return list(readings_complete(limits, counted.get((scope.kind, scope.scope_id), {}), now).values())

    usages = {}
    for subscription in subscriptions:
        plan_scope, plan_limits = plan_scopes[subscription.pk]
        plan = subscription.plan
        usages[subscription.pk] = SubscriptionUsage(
            subscription=subscription,
            as_of=now,
            source=source,
            plan=ScopeUsage("plan", plan.pk, plan.name, readings(plan_scope, plan_limits), plan.budget_alert_percent),
            others=[
                ScopeUsage(scope.kind, scope.scope_id, name, readings(scope, limits), limit_set.budget_alert_percent)
                for name, scope, limit_set, limits in other_scopes[subscription.pk]
                if limits
            ],
        )
    return usages


def subscription_usage_get(
    *, subscription: Subscription, app_side: bool = True, now: datetime | None = None
) -> SubscriptionUsage:
    return subscription_usage_list(subscriptions=[subscription], app_side=app_side, now=now)[subscription.pk]


def subscription_usage_for_member(*, membership: Membership, pk: int | str) -> SubscriptionUsage:
    """The usage a member may read (subscription_get_for_usage): the app's side sees every limit that applies,
    the service's approvers the plan's."""
    subscription = subscription_get_for_usage(membership=membership, pk=pk)
    return subscription_usage_get(
        subscription=subscription, app_side=subscription.app.tenant_id == membership.tenant_id
    )
