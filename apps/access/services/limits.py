"""Writes of limit sets: the rate limits, quotas and budgets of a tenant, one of its apps or one of its keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.access.models import ApiKey, App, LimitScope, LimitSet
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.services import audit_record, config_version_bump, model_diff
from apps.providers.models import Route
from apps.tenants.models import Membership, Role, Tenant

# The values a limit set holds; empty (None) is "no limit".
LIMIT_FIELDS = (
    "requests_per_minute",
    "tokens_per_minute",
    "requests_per_day",
    "requests_per_month",
    "budget_per_day",
    "budget_per_month",
    "budget_currency",
    "budget_alert_percent",
    "over_budget_route",
)


def limits_manage_allowed(*, membership: Membership, tenant: Tenant) -> bool:
    """Owners and admins of the tenant configure its limits, for every scope: the rule the pages ask too."""
    return membership.tenant_id == tenant.pk and membership.has_role(Role.ADMIN)


def _require_manage(membership: Membership | None, tenant: Tenant) -> None:
    # None: a trusted caller (seed, management commands).
    if membership is not None and not limits_manage_allowed(membership=membership, tenant=tenant):
        raise NotPermitted("Only owners and admins of the tenant configure limits and budgets.")


def _save(limit_set: LimitSet) -> None:
    """full_clean() (the first error names its field: 400), then save; a second set for one scope is a 409."""
    try:
        limit_set.full_clean(validate_constraints=False)
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        raise ApplicationError(errors[0], field=None if field == "__all__" else field) from None
    try:
        with transaction.atomic():
            limit_set.save()
    except IntegrityError:
        field = {LimitScope.APP: "app", LimitScope.KEY: "api_key"}.get(limit_set.scope)
        message = f"The {limit_set.scope} {limit_set.scope_label} already has limits: change those."
        raise ConflictError(message, field=field) from None


def _audited(action: str, limit_set: LimitSet, changes: dict[str, Any]) -> None:
    audit_record(action=action, obj=limit_set, tenant=limit_set.tenant, changes=changes)
    config_version_bump()  # the gateway's limit steps read the sets from their configuration snapshot


@transaction.atomic
def limit_set_create(
    *,
    tenant: Tenant,
    actor_membership: Membership | None,
    app: App | None = None,
    api_key: ApiKey | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    requests_per_day: int | None = None,
    requests_per_month: int | None = None,
    budget_per_day: Decimal | None = None,
    budget_per_month: Decimal | None = None,
    budget_currency: str = "USD",
    budget_alert_percent: int | None = None,
    over_budget_route: Route | None = None,
) -> LimitSet:
    """The limits of the tenant (no app, no key), of one of its apps or of one of its keys; one set per scope."""
    _require_manage(actor_membership, tenant)
    limit_set = LimitSet(
        tenant=tenant,
        app=app,
        api_key=api_key,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        requests_per_day=requests_per_day,
        requests_per_month=requests_per_month,
        budget_per_day=budget_per_day,
        budget_per_month=budget_per_month,
        budget_currency=budget_currency,
        budget_alert_percent=budget_alert_percent,
        over_budget_route=over_budget_route,
    )
    _save(limit_set)
    values = {field: getattr(limit_set, field) for field in LIMIT_FIELDS if getattr(limit_set, field) is not None}
    _audited("limits.create", limit_set, {"scope": f"{limit_set.scope} {limit_set.scope_label}", **values})
    return limit_set


@transaction.atomic
def limit_set_update(*, limit_set: LimitSet, actor_membership: Membership | None, data: dict[str, Any]) -> LimitSet:
    """Change the values of LIMIT_FIELDS given in `data` (None clears a limit); the scope stays."""
    _require_manage(actor_membership, limit_set.tenant)
    changes = model_diff(limit_set, {name: value for name, value in data.items() if name in LIMIT_FIELDS})
    for name, (_, value) in changes.items():
        setattr(limit_set, name, value)
    if changes:
        _save(limit_set)
        _audited("limits.update", limit_set, changes)
    return limit_set


@transaction.atomic
def limit_set_put(
    *,
    tenant: Tenant,
    actor_membership: Membership | None,
    app: App | None = None,
    api_key: ApiKey | None = None,
    data: dict[str, Any],
) -> LimitSet:
    """Set the limits of one scope whether or not it has a set yet (the portal's forms edit a scope, not a row)."""
    existing = LimitSet.objects.filter(tenant=tenant, app=app, api_key=api_key).first()
    if existing is not None:
        return limit_set_update(limit_set=existing, actor_membership=actor_membership, data=data)
    values = {name: value for name, value in data.items() if name in LIMIT_FIELDS}
    return limit_set_create(tenant=tenant, actor_membership=actor_membership, app=app, api_key=api_key, **values)


@transaction.atomic
def limit_set_delete(*, limit_set: LimitSet, actor_membership: Membership | None) -> None:
    """Remove a scope's limits: its calls are limited by the other scopes only."""
    _require_manage(actor_membership, limit_set.tenant)
    _audited("limits.delete", limit_set, {"scope": f"{limit_set.scope} {limit_set.scope_label}"})
    limit_set.delete()
