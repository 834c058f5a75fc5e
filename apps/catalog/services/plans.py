"""Writes of plans: what a subscription to a service buys (quotas, rate limits, budget, models allowed)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction

from apps.catalog.models import BudgetCurrency, Plan, Service
from apps.catalog.selectors import route_list_for
from apps.catalog.services.base import audited, require_admin, save
from apps.core.errors import ApplicationError, ConflictError
from apps.tenants.models import Membership

UPDATABLE_FIELDS = {
    "name",
    "description",
    "requests_per_day",
    "requests_per_month",
    "requests_per_minute",
    "tokens_per_minute",
    "daily_budget",
    "monthly_budget",
    "budget_currency",
    "budget_alert_percent",
    "allowed_models",
    "over_budget_route",
    "is_default",
    "position",
}


def _allowed_models(service: Service, aliases: Iterable[str]) -> list[str]:
    """Route aliases of the service's tenant; empty means the service's own route."""
    if isinstance(aliases, str):
        raise ApplicationError("The models allowed are a list of route aliases.", field="allowed_models")
    wanted = list(dict.fromkeys(str(alias) for alias in aliases))
    known = set(route_list_for(tenant=service.tenant).filter(alias__in=wanted).values_list("alias", flat=True))
    unknown = [alias for alias in wanted if alias not in known]
    if unknown:
        raise ApplicationError(f"No route named {', '.join(unknown)} in this tenant.", field="allowed_models")
    return wanted


def _check_over_budget_route(service: Service, alias: str, allowed_models: list[str]) -> str:
    """Empty (a reached budget refuses), or another route of the service's tenant that the plan allows: the
    gateway sends a subscription's calls there once one of the plan's budgets is reached."""
    if not alias:
        return ""
    if not route_list_for(tenant=service.tenant).filter(alias=alias).exists():
        raise ApplicationError(f"No route named {alias!r} in this tenant.", field="over_budget_route")
    if alias == service.route.alias:
        raise ApplicationError(
            "The over-budget route must be another route than the service's own.", field="over_budget_route"
        )
    if allowed_models and alias not in allowed_models:
        raise ApplicationError(
            f"The route {alias!r} is not among the models this plan allows: a call sent there would be refused.",
            field="over_budget_route",
        )
    return alias


def _save_plan(plan: Plan) -> None:
    """Save; a default plan takes the role from the service's previous default (one default per service)."""
    if plan.is_default:
        plan.service.plans.exclude(pk=plan.pk).filter(is_default=True).update(is_default=False)
    save(plan, conflict_field="slug", conflict=f"The service already has a plan named {plan.slug!r}.")


@transaction.atomic
def plan_create(
    *,
    service: Service,
    actor_membership: Membership | None,
    slug: str,
    name: str,
    description: str = "",
    requests_per_day: int | None = None,
    requests_per_month: int | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    daily_budget: Decimal | None = None,
    monthly_budget: Decimal | None = None,
    budget_currency: str = BudgetCurrency.USD,
    budget_alert_percent: int | None = None,
    allowed_models: Iterable[str] = (),
    over_budget_route: str = "",
    is_default: bool = False,
    position: int = 0,
) -> Plan:
    """A new plan of the service; the service's first plan is its default."""
    require_admin(actor_membership, service.tenant)
    allowed = _allowed_models(service, allowed_models)
    plan = Plan(
        service=service,
        slug=slug,
        name=name,
        description=description,
        requests_per_day=requests_per_day,
        requests_per_month=requests_per_month,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        daily_budget=daily_budget,
        monthly_budget=monthly_budget,
        budget_currency=budget_currency,
        budget_alert_percent=budget_alert_percent,
        allowed_models=allowed,
        over_budget_route=_check_over_budget_route(service, over_budget_route, allowed),
        is_default=is_default or not service.plans.exists(),
        position=position,
    )
    _save_plan(plan)
    audited("plan.create", plan, tenant=service.tenant, changes={"service": service.slug, "slug": slug})
    return plan


@transaction.atomic
def plan_update(*, plan: Plan, actor_membership: Membership | None, data: dict[str, Any]) -> Plan:
    """Change the fields of UPDATABLE_FIELDS given in `data`; the slug stays (subscriptions name it)."""
    require_admin(actor_membership, plan.service.tenant)
    fields = {name: value for name, value in data.items() if name in UPDATABLE_FIELDS}
    if "allowed_models" in fields:
        fields["allowed_models"] = _allowed_models(plan.service, fields["allowed_models"])
    if "over_budget_route" in fields or "allowed_models" in fields:
        # Checked against the models allowed after the change, whichever of the two changes.
        fields["over_budget_route"] = _check_over_budget_route(
            plan.service,
            fields.get("over_budget_route", plan.over_budget_route) or "",
            fields.get("allowed_models", plan.allowed_models),
        )
    changes = {name: [getattr(plan, name), value] for name, value in fields.items() if getattr(plan, name) != value}
    for name, (_, value) in changes.items():
        setattr(plan, name, value)
    if changes:
        _save_plan(plan)
        audited("plan.update", plan, tenant=plan.service.tenant, changes=changes)
    return plan


@transaction.atomic
def plan_delete(*, plan: Plan, actor_membership: Membership | None) -> None:
    """Delete a plan no subscription has ever used (their history names it): otherwise 409."""
    require_admin(actor_membership, plan.service.tenant)
    in_use = plan.subscriptions.count()
    if in_use:
        raise ConflictError(f"The plan {plan.slug!r} is used by {in_use} subscription(s): it cannot be deleted.")
    audited("plan.delete", plan, tenant=plan.service.tenant, changes={"service": plan.service.slug})
    plan.delete()
