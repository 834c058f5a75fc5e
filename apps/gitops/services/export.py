"""Reading a tenant's definitions out of the database as documents (the export, and the current side of a plan)."""

from __future__ import annotations

from typing import Any

from apps.access.models import LimitSet
from apps.catalog.models import Service
from apps.gitops.services.credentials import exported_secrets
from apps.gitops.services.documents import (
    LIMIT_FIELDS,
    LIMITS,
    PROMPT,
    PROMPT_TESTS,
    PROMPT_VERSION,
    PROVIDER,
    ROUTE,
    SERVICE,
    TENANT,
    Document,
    document,
)
from apps.prompts.models import PromptTemplate
from apps.providers.models import Provider, Route
from apps.tenants.models import Tenant


def _provider_values(provider: Provider) -> dict[str, Any]:
    api_key, options = exported_secrets(provider)  # secrets never leave the portal: a file names where they are
    return {
        "slug": provider.slug,
        "name": provider.name,
        "type": provider.kind,
        "base_url": provider.base_url,
        "api_key": api_key,
        "enabled": provider.enabled,
        "options": options,
        "models": [
            {
                "name": m.name,
                "upstream_id": m.upstream_id,
                "modalities": m.modalities,
                "context_window": m.context_window,
                "input_price_per_mtok": m.input_price_per_mtok,
                "output_price_per_mtok": m.output_price_per_mtok,
                "cached_input_price_per_mtok": m.cached_input_price_per_mtok,
            }
            for m in provider.models.all()
        ],
    }


def _limits_values(limits: LimitSet) -> dict[str, Any]:
    values = {name: getattr(limits, name) for name in (*LIMIT_FIELDS, "budget_per_day", "budget_per_month")}
    route = limits.over_budget_route
    return values | {
        "budget_currency": limits.budget_currency,
        "budget_alert_percent": limits.budget_alert_percent,
        "over_budget_route": route.alias if route else None,
    }


def _route_values(route: Route) -> dict[str, Any]:
    return {
        "alias": route.alias,
        "description": route.description,
        "enabled": route.enabled,
        "deadline_seconds": route.deadline_seconds,
        "retries": route.retries,
        "cache_ttl_seconds": route.cache_ttl_seconds,
        "strategy": route.strategy,
        "deployments": [
            {
                "model": d.model.name,
                "weight": d.weight,
                "priority": d.priority,
                "timeout_seconds": d.timeout_seconds,
                "enabled": d.enabled,
            }
            for d in route.deployments.all()
        ],
    }


def _service_values(service: Service) -> dict[str, Any]:
    plan_fields = (
        "slug",
        "name",
        "description",
        "is_default",
        "position",
        "requests_per_minute",
        "requests_per_day",
        "requests_per_month",
        "tokens_per_minute",
        "daily_budget",
        "monthly_budget",
        "budget_currency",
        "budget_alert_percent",
        "allowed_models",
        "over_budget_route",
    )
    return {
        "slug": service.slug,
        "name": service.name,
        "type": service.kind,
        "route": service.route.alias,
        "summary": service.summary,
        "description": service.description,
        "team": service.team,
        "tags": [tag.name for tag in service.tags.all()],
        "visibility": service.visibility,
        "shared_with": [tenant.slug for tenant in service.shared_with.all()],
        "lifecycle": service.lifecycle,
        "sunset_on": service.sunset_on.isoformat() if service.sunset_on else None,
        "approval_mode": service.approval_mode,
        "input_schema": service.input_schema,
        "output_mode": service.output_mode,
        "output_schema": service.output_schema,
        "expected_tokens_per_call": service.expected_tokens_per_call,
        "capture_bodies_days": service.capture_bodies_days,
        "cache_ttl_seconds": service.cache_ttl_seconds,
        "semantic_cache": service.semantic_cache,
        "semantic_cache_route": service.semantic_cache_route,
        "semantic_cache_threshold": service.semantic_cache_threshold,
        "plans": [{name: getattr(plan, name) for name in plan_fields} for plan in service.plans.all()],
    }


def _prompt_documents(template: PromptTemplate) -> list[Document]:
    slug = template.service.slug
    docs = [
        document(
            PROMPT,
            {
                "service": slug,
                "live_version": template.live_version.number if template.live_version else 0,
                "sticky_by": template.sticky_by,
                "ab_split": template.ab_split,
            },
        )
    ]
    for version in template.versions.all():
        values = {
            "service": slug,
            "version": version.number,
            "change_note": version.change_note,
            "system_template": version.system_template,
            "user_template": version.user_template,
            "examples": version.examples,
            "parameters": version.parameters,
            "variables_schema": version.variables_schema,
        }
        docs.append(document(PROMPT_VERSION, values))
    cases = [{"name": c.name, "variables": c.variables, "checks": c.checks} for c in template.test_cases.all()]
    if cases:
        docs.append(document(PROMPT_TESTS, {"service": slug, "cases": cases}))
    return docs


def tenant_documents(*, tenant: Tenant) -> list[Document]:
    """Every document of the tenant: the tenant, its limits, providers, routes, services and prompts."""
    docs = [
        document(
            TENANT,
            {
                "slug": tenant.slug,
                "name": tenant.name,
                "settings": {
                    "require_internal_subscriptions": tenant.require_internal_subscriptions,
                    "limits_fail_open": tenant.limits_fail_open,
                },
            },
        )
    ]
    limits = LimitSet.objects.filter(tenant=tenant, app=None, api_key=None).select_related("over_budget_route").first()
    if limits is not None:
        docs.append(document(LIMITS, _limits_values(limits)))
    providers = Provider.objects.for_tenant(tenant).prefetch_related("models", "gitops_secret_references")
    docs += [document(PROVIDER, _provider_values(p)) for p in providers]
    routes = Route.objects.for_tenant(tenant).prefetch_related("deployments__model")
    docs += [document(ROUTE, _route_values(r)) for r in routes]
    services = (
        Service.objects.for_tenant(tenant)
        .select_related("route")
        .prefetch_related("tags", "shared_with", "plans")
        .order_by("slug")
    )
    docs += [document(SERVICE, _service_values(s)) for s in services]
    templates = (
        PromptTemplate.objects.filter(service__tenant=tenant)
        .select_related("service", "live_version")
        .prefetch_related("versions", "test_cases")
        .order_by("service__slug")
    )
    for template in templates:
        docs += _prompt_documents(template)
    return docs
