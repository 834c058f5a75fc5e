"""Applying definitions: one transaction that makes the tenant match its files, through the same services the
portal's pages and API use (their rules, audit entries and configuration-version bumps all hold). Any refusal
rolls everything back and comes out as a DefinitionsInvalid naming the file and the path inside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from apps.access.models import LimitSet
from apps.access.services import limits as limit_sets
from apps.core.audit import audit_context, current_context
from apps.core.errors import ApplicationError, NotPermitted
from apps.core.services import audit_record, config_version_bump, model_diff
from apps.gitops.services.apply_catalog import prompt_apply, prompt_tests_apply, prompt_version_apply, service_apply
from apps.gitops.services.context import ApplyContext, at
from apps.gitops.services.credentials import applied_references_keep, resolved_secrets
from apps.gitops.services.documents import (
    LIMITS,
    PROMPT,
    PROMPT_TESTS,
    PROMPT_VERSION,
    PROVIDER,
    ROUTE,
    SERVICE,
    TENANT,
)
from apps.gitops.services.load import DefinitionError, Definitions, DefinitionsInvalid
from apps.gitops.services.plan import CREATE, DELETE, Change, Plan, definitions_plan
from apps.providers import services as providers
from apps.providers.models import Deployment, Provider, ProviderModel, Route
from apps.tenants.models import Membership, Role, Tenant
from apps.tenants.services import tenant_create, tenant_update


def _tenant(change: Change, ctx: ApplyContext) -> None:
    data = change.desired.data if change.desired else {}
    settings = data["settings"]
    if ctx.membership is not None:
        tenant_update(tenant=ctx.tenant, actor_membership=ctx.membership, name=data["name"], **settings)
        return
    # A trusted caller (the command line, a sync) has no membership for tenant_update's role checks: the same
    # write, audited and announced to the data plane the same way.
    changes = model_diff(ctx.tenant, {"name": data["name"], **settings})
    if changes:
        for name, (_, value) in changes.items():
            setattr(ctx.tenant, name, value)
        ctx.tenant.full_clean()
        ctx.tenant.save(update_fields=[*changes, "updated_at"])
        audit_record(action="tenant.update", obj=ctx.tenant, tenant=ctx.tenant, changes=changes)
        config_version_bump()


def _models_sync(provider: Provider, items: list[dict[str, Any]], ctx: ApplyContext) -> None:
    existing = {model.name: model for model in provider.models.all()}
    for index, item in enumerate(items):
        fields = {k: v for k, v in item.items() if k != "name"}
        with at(f"models[{index}]"):
            if item["name"] in existing:
                providers.model_update(model=existing[item["name"]], actor_membership=ctx.membership, data=fields)
            elif elsewhere := ProviderModel.objects.for_tenant(ctx.tenant).filter(name=item["name"]).first():
                # Deleting and recreating it would drop the deployments of routes whose files did not change.
                message = f"the model belongs to provider {elsewhere.provider.slug}: a model's provider cannot change"
                raise ApplicationError(message, field="name")
            else:
                providers.model_create(provider=provider, actor_membership=ctx.membership, name=item["name"], **fields)
    wanted = {item["name"] for item in items}
    for name, model in existing.items():
        if name not in wanted:
            providers.model_delete(model=model, actor_membership=ctx.membership)


def _provider(change: Change, ctx: ApplyContext) -> None:
    if change.action == DELETE:
        provider = Provider.objects.for_tenant(ctx.tenant).get(slug=change.key)
        providers.provider_delete(provider=provider, actor_membership=ctx.membership)
        return
    data = change.desired.data
    existing = Provider.objects.for_tenant(ctx.tenant).filter(slug=change.key).first()
    api_key, options = resolved_secrets(data, existing, ctx.tenant)
    fields = {"name": data["name"], "base_url": data["base_url"], "options": options}
    if existing is None:
        provider = providers.provider_create(
            tenant=ctx.tenant,
            actor_membership=ctx.membership,
            slug=data["slug"],
            kind=data["type"],
            api_key=api_key,
            **fields,
        )
    else:
        provider = existing
        if provider.kind != data["type"]:
            raise ApplicationError(f"a provider's type cannot change ({provider.kind}): use a new slug", field="type")
        if data["api_key"] is None and provider.has_credentials:
            raise ApplicationError("the stored credential is removed in the portal, not by a file", field="api_key")
    data_update = {**fields, "enabled": data["enabled"], "api_key": api_key}
    providers.provider_update(provider=provider, actor_membership=ctx.membership, data=data_update)
    applied_references_keep(provider=provider, data=data)
    _models_sync(provider, data["models"], ctx)


def _deployments_sync(route: Route, items: list[dict[str, Any]], ctx: ApplyContext) -> None:
    existing = {d.model.name: d for d in Deployment.objects.filter(route=route).select_related("model")}
    for index, item in enumerate(items):
        fields = {k: v for k, v in item.items() if k != "model"}
        with at(f"deployments[{index}]"):
            deployment = existing.get(item["model"])
            if deployment is None:
                model = ProviderModel.objects.for_tenant(ctx.tenant).get(name=item["model"])
                deployment = providers.deployment_add(
                    route=route,
                    model=model,
                    actor_membership=ctx.membership,
                    **{k: v for k, v in fields.items() if k != "enabled"},
                )
            providers.deployment_update(deployment=deployment, actor_membership=ctx.membership, data=fields)
    wanted = {item["model"] for item in items}
    for name, deployment in existing.items():
        if name not in wanted:
            providers.deployment_remove(deployment=deployment, actor_membership=ctx.membership)


def _route(change: Change, ctx: ApplyContext) -> None:
    if change.action == DELETE:
        route = Route.objects.for_tenant(ctx.tenant).get(alias=change.key)
        providers.route_delete(route=route, actor_membership=ctx.membership)
        return
    data = change.desired.data
    fields = {k: data[k] for k in ("description", "deadline_seconds", "retries", "cache_ttl_seconds", "strategy")}
    if change.action == CREATE:
        route = providers.route_create(
            tenant=ctx.tenant, actor_membership=ctx.membership, alias=data["alias"], **fields
        )
    else:
        route = Route.objects.for_tenant(ctx.tenant).get(alias=change.key)
    providers.route_update(route=route, actor_membership=ctx.membership, data={**fields, "enabled": data["enabled"]})
    _deployments_sync(route, data["deployments"], ctx)


def _limits(change: Change, ctx: ApplyContext) -> None:
    if change.action == DELETE:
        limit_set = LimitSet.objects.get(tenant=ctx.tenant, app=None, api_key=None)
        limit_sets.limit_set_delete(limit_set=limit_set, actor_membership=ctx.membership)
        return
    data = {k: v for k, v in change.desired.data.items() if k not in ("apiVersion", "kind")}
    if data["over_budget_route"] is not None:
        data["over_budget_route"] = Route.objects.for_tenant(ctx.tenant).get(alias=data["over_budget_route"])
    limit_sets.limit_set_put(tenant=ctx.tenant, actor_membership=ctx.membership, data=data)


APPLIERS: dict[str, Callable[[Change, ApplyContext], None]] = {
    TENANT: _tenant,
    PROVIDER: _provider,
    ROUTE: _route,
    LIMITS: _limits,
    SERVICE: service_apply,
    PROMPT_VERSION: prompt_version_apply,
    PROMPT: prompt_apply,
    PROMPT_TESTS: prompt_tests_apply,
}


def _target_tenant(definitions: Definitions, membership: Membership | None, user: Any) -> Tenant:
    slug = definitions.tenant_slug
    tenant = Tenant.objects.select_for_update().filter(slug=slug).first()  # one apply at a time per tenant
    if tenant is None:
        if membership is not None:
            raise NotPermitted("Only the tenant's own admins apply its definitions.")
        name = definitions.documents[TENANT, slug].data["name"]
        if user is not None:
            return tenant_create(slug=slug, name=name, owner=user)
        tenant = Tenant(slug=slug, name=name)
        tenant.full_clean()
        tenant.save()
        audit_record(action="tenant.create", obj=tenant, tenant=tenant, changes={"slug": slug, "name": name})
        return tenant
    if membership is not None and (membership.tenant_id != tenant.pk or not membership.has_role(Role.ADMIN)):
        raise NotPermitted("Only the tenant's owners and admins apply its definitions.")
    return tenant


def definitions_apply(
    *,
    definitions: Definitions,
    prune: bool = False,
    actor_membership: Membership | None = None,
    actor_user: Any = None,
    source: str = "cli",
) -> Plan:
    """Make the tenant match `definitions` in one transaction and return the plan that was applied (empty: nothing
    to do). `actor_membership` None is a trusted caller (command line, sync); a missing tenant is then created,
    owned by `actor_user` when given. `source` is the audit trail's (cli, api, system)."""
    current = current_context()  # kept: the request (IP, token) or the command's label
    context = replace(
        current,
        source=source,
        actor=actor_user or current.actor,
        actor_label=current.actor_label or (None if actor_user else f"gitops apply ({source})"),
    )
    with audit_context(context), transaction.atomic():
        try:
            tenant = _target_tenant(definitions, actor_membership, actor_user)
        except NotPermitted:
            raise
        except ApplicationError as exc:  # e.g. the same tenant created by a concurrent apply
            raise DefinitionsInvalid([DefinitionError("tenant.yaml", exc.field or "", exc.message)]) from None
        plan = definitions_plan(tenant_slug=tenant.slug, definitions=definitions, prune=prune)
        ctx = ApplyContext(tenant=tenant, membership=actor_membership, definitions=definitions)
        for change in plan.changes:
            try:
                APPLIERS[change.kind](change, ctx)
            except ApplicationError as exc:
                raise DefinitionsInvalid([DefinitionError(change.path, exc.field or "", exc.message)]) from None
            except ProtectedError as exc:
                users = ", ".join(sorted({str(obj) for obj in exc.protected_objects}))
                raise DefinitionsInvalid([DefinitionError(change.path, "", f"still used by {users}")]) from None
    return plan
