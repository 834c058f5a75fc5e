"""The budgets that ask for an alert: every limit set (tenant, app or key) and every active subscription's plan with
a daily or monthly budget and an alert percent. Two queries, however many there are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from apps.access.models import LimitSet, Subscription
from apps.access.selectors.limit_usage import METRIC_PERIODS, UsageScope, period_bounds

# The metric of each budget field, on limit sets and on plans.
LIMIT_SET_BUDGETS = {"budget_per_day": "budget_per_day", "budget_per_month": "budget_per_month"}
PLAN_BUDGETS = {"budget_per_day": "daily_budget", "budget_per_month": "monthly_budget"}


@dataclass(frozen=True)
class WatchedBudget:
    """One budget (a scope's daily or monthly one) and the percent of it whose spending raises an alert."""

    scope: UsageScope
    metric: str  # budget_per_day or budget_per_month
    limit: Decimal  # USD
    alert_percent: int
    name: str  # for people: "plan Pro of translate for app billing-bot"
    service_id: int | None = None  # a plan's budget is about the calls to one service

    @property
    def tenant_id(self) -> int:
        """The tenant told about it: the one whose calls spend it (for a plan, the subscribing app's)."""
        return self.scope.tenant_id

    def subject(self, now: datetime) -> str:
        """The budget in its current period, as an alert's subject: "app:4:budget_per_day:2026-12-04"."""
        start, _ = period_bounds(METRIC_PERIODS[self.metric], now)
        return f"{self.scope.kind}:{self.scope.scope_id}:{self.metric}:{start:%Y-%m-%d}"


def _has_budget(fields: dict[str, str], prefix: str = "") -> Q:
    either = Q()
    for field in fields.values():
        either |= Q(**{f"{prefix}{field}__isnull": False})
    return either


def _limit_set_scope(limit_set: LimitSet) -> tuple[UsageScope, str]:
    tenant_id = limit_set.tenant_id
    if limit_set.api_key_id is not None:
        key = limit_set.api_key
        return UsageScope("key", key.pk, tenant_id, app_id=key.app_id, key_prefix=key.prefix), f"key {key.prefix}"
    if limit_set.app_id is not None:
        return UsageScope("app", limit_set.app_id, tenant_id, app_id=limit_set.app_id), f"app {limit_set.app.slug}"
    return UsageScope("tenant", tenant_id, tenant_id), f"tenant {limit_set.tenant.slug}"


def budgets_watched(*, now: datetime) -> list[WatchedBudget]:
    budgets = []
    limit_sets = (
        LimitSet.objects.filter(_has_budget(LIMIT_SET_BUDGETS), budget_alert_percent__isnull=False)
        .select_related("tenant", "app", "api_key")
        .order_by("pk")
    )
    for limit_set in limit_sets:
        scope, name = _limit_set_scope(limit_set)
        for metric, field in LIMIT_SET_BUDGETS.items():
            if (limit := getattr(limit_set, field)) is not None:
                budgets.append(WatchedBudget(scope, metric, limit, limit_set.budget_alert_percent, name))
    subscriptions = (
        Subscription.objects.active(now)
        .filter(_has_budget(PLAN_BUDGETS, "plan__"), plan__budget_alert_percent__isnull=False)
        .select_related("app", "plan", "service")
        .order_by("pk")
    )
    for subscription in subscriptions:
        app, plan = subscription.app, subscription.plan
        scope = UsageScope(
            "subscription", subscription.pk, app.tenant_id, app_id=app.pk, service_id=subscription.service_id
        )
        name = f"plan {plan.name} of {subscription.service.slug} for app {app.slug}"
        for metric, field in PLAN_BUDGETS.items():
            if (limit := getattr(plan, field)) is not None:
                budgets.append(
                    WatchedBudget(scope, metric, limit, plan.budget_alert_percent, name, subscription.service_id)
                )
    return budgets
