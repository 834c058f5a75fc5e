"""Routes (the aliases apps call) and their deployments."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from apps.core.errors import ApplicationError, ConflictError
from apps.core.services import audit_record, config_version_bump, model_diff
from apps.providers.models import Deployment, ProviderModel, Route
from apps.providers.services.base import audited, require_admin, save_checked
from apps.providers.services.ports import route_references
from apps.tenants.models import Membership, Tenant


@transaction.atomic
def route_create(
    *,
    tenant: Tenant,
    actor_membership: Membership | None,
    alias: str,
    description: str = "",
    deadline_seconds: float = 120.0,
    retries: int = 1,
    cache_ttl_seconds: int | None = None,
    strategy: str = Route.Strategy.PRIORITY,
) -> Route:
    require_admin(actor_membership)
    route = Route(
        tenant=tenant,
        alias=alias,
        description=description,
        deadline_seconds=deadline_seconds,
        retries=retries,
        cache_ttl_seconds=cache_ttl_seconds,
        strategy=strategy,
    )
    save_checked(route, field="alias", message=f"A route named {alias!r} already exists in this tenant.")
    audited("route.create", route, {"alias": alias})
    return route


@transaction.atomic
def route_update(*, route: Route, actor_membership: Membership | None, data: dict[str, Any]) -> Route:
    require_admin(actor_membership)
    fields = {"description", "enabled", "deadline_seconds", "retries", "cache_ttl_seconds", "strategy"}
    changes = model_diff(route, {k: v for k, v in data.items() if k in fields})
    for field, (_, new) in changes.items():
        setattr(route, field, new)
    if changes:
        save_checked(route, field="alias", message="Conflicting route.")
        audited("route.update", route, changes)
    return route


@transaction.atomic
def route_delete(*, route: Route, actor_membership: Membership | None) -> None:
    """Refused (409) while anything still names the route (ports.py), which says what to change first."""
    require_admin(actor_membership)
    references = route_references(route)
    if references:
        raise ConflictError(f"Route {route.alias!r} is still used by {', '.join(references)}: change those first.")
    audited("route.delete", route)
    try:
        route.delete()
    except ProtectedError as exc:  # a reference made since the finders looked
        users = ", ".join(sorted(str(obj) for obj in exc.protected_objects))
        raise ConflictError(f"Route {route.alias!r} is still used by {users}: change those first.") from None


@transaction.atomic
def deployment_add(
    *,
    route: Route,
    model: ProviderModel,
    actor_membership: Membership | None,
    weight: int = 1,
    priority: int = 0,
    timeout_seconds: float = 60.0,
) -> Deployment:
    require_admin(actor_membership)
    if model.tenant_id != route.tenant_id:
        raise ApplicationError("No such model in this tenant.", field="model")
    deployment = Deployment(route=route, model=model, weight=weight, priority=priority, timeout_seconds=timeout_seconds)
    save_checked(deployment, field="model", message=f"{model.name} is already a deployment of {route.alias}.")
    audit_record(
        action="route.add_deployment",
        obj=route,
        tenant=route.tenant,
        changes={"model": model.name, "weight": weight, "priority": priority, "timeout_seconds": timeout_seconds},
    )
    config_version_bump()
    return deployment


@transaction.atomic
def deployment_update(
    *, deployment: Deployment, actor_membership: Membership | None, data: dict[str, Any]
) -> Deployment:
    require_admin(actor_membership)
    changes = model_diff(
        deployment, {k: v for k, v in data.items() if k in {"weight", "priority", "timeout_seconds", "enabled"}}
    )
    for field, (_, new) in changes.items():
        setattr(deployment, field, new)
    if changes:
        save_checked(deployment, field="model", message="Conflicting deployment.")
        audit_record(
            action="route.update_deployment",
            obj=deployment.route,
            tenant=deployment.route.tenant,
            changes={"model": deployment.model.name, **changes},
        )
        config_version_bump()
    return deployment


@transaction.atomic
def deployment_remove(*, deployment: Deployment, actor_membership: Membership | None) -> None:
    require_admin(actor_membership)
    route = deployment.route
    audit_record(
        action="route.remove_deployment", obj=route, tenant=route.tenant, changes={"model": deployment.model.name}
    )
    deployment.delete()
    config_version_bump()
