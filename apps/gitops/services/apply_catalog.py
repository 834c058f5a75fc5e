"""Applying services (with their plans and lifecycle) and prompts (versions, live version and split, test cases)."""

from __future__ import annotations

from collections import deque
from datetime import date
from typing import Any

from apps.catalog.models import Plan, Service
from apps.catalog.services import plan_create, plan_delete, plan_update, service_create, service_update
from apps.catalog.services.base import audited
from apps.catalog.services.service import LIFECYCLE_TRANSITIONS, service_set_lifecycle
from apps.core.errors import ApplicationError
from apps.gitops.services.context import ApplyContext, at
from apps.gitops.services.documents import PROMPT_VERSION
from apps.gitops.services.plan import CREATE, DELETE, UPDATE, Change
from apps.prompts import services as prompts
from apps.prompts.models import PromptTemplate
from apps.providers.models import Route
from apps.tenants.models import Tenant

SERVICE_FIELDS = (
    "summary",
    "description",
    "team",
    "tags",
    "visibility",
    "approval_mode",
    "expected_tokens_per_call",
    "capture_bodies_days",
    "cache_ttl_seconds",
    "semantic_cache",
    "semantic_cache_route",
    "semantic_cache_threshold",
)
VERSION_FIELDS = ("system_template", "user_template", "variables_schema", "examples", "parameters", "change_note")


def _shared_with(slugs: list[str]) -> list[Tenant]:
    found = {tenant.slug: tenant for tenant in Tenant.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise ApplicationError(f"no tenant {', '.join(missing)} in this portal", field="shared_with")
    return [found[slug] for slug in slugs]


def _lifecycle_path(current: str, target: str) -> list[str]:
    """The moves from `current` to `target` (draft → published → deprecated…), shortest first."""
    queue, seen = deque([(current, [])]), {current}
    while queue:
        state, path = queue.popleft()
        for move in sorted(LIFECYCLE_TRANSITIONS[state]):
            if move == target:
                return [*path, move]
            if move not in seen:
                seen.add(move)
                queue.append((move, [*path, move]))
    raise ApplicationError(f"a {current} service cannot become {target}", field="lifecycle")


def _lifecycle_apply(service: Service, data: dict[str, Any], ctx: ApplyContext) -> None:
    sunset = date.fromisoformat(data["sunset_on"]) if data["sunset_on"] else None
    if service.lifecycle == data["lifecycle"] and service.sunset_on == sunset:
        return
    for move in _lifecycle_path(service.lifecycle, data["lifecycle"]):
        service_set_lifecycle(
            service=service,
            actor_membership=ctx.membership,
            lifecycle=move,
            sunset_on=sunset if move == "deprecated" else None,
        )


def _plans_sync(service: Service, items: list[dict[str, Any]], ctx: ApplyContext) -> None:
    existing = {plan.slug: plan for plan in service.plans.all()}
    wanted = {item["slug"] for item in items}
    for slug, plan in existing.items():
        if slug not in wanted:
            plan_delete(plan=plan, actor_membership=ctx.membership)
    for index, item in enumerate(items):
        with at(f"plans[{index}]"):
            plan = existing.get(item["slug"])
            if plan is None:
                plan_create(service=service, actor_membership=ctx.membership, **item)
            else:
                plan_update(plan=plan, actor_membership=ctx.membership, data=item)
    # A service's first plan becomes its default when created: the files say which one is.
    for index, item in enumerate(items):
        plan = Plan.objects.get(service=service, slug=item["slug"])
        if plan.is_default != item["is_default"]:
            with at(f"plans[{index}]"):
                plan_update(plan=plan, actor_membership=ctx.membership, data={"is_default": item["is_default"]})


def _version_content(ctx: ApplyContext, slug: str, number: int) -> dict[str, Any]:
    data = ctx.definitions.documents[PROMPT_VERSION, f"{slug}/v{number}"].data
    return {name: data[name] for name in VERSION_FIELDS}


def _service_create(data: dict[str, Any], route: Route, ctx: ApplyContext) -> Service:
    fields = {name: data[name] for name in SERVICE_FIELDS}
    common = {
        "tenant": ctx.tenant,
        "actor_membership": ctx.membership,
        "slug": data["slug"],
        "name": data["name"],
        "route": route,
        "shared_with": _shared_with(data["shared_with"]),
        "output_mode": data["output_mode"],
        "output_schema": data["output_schema"],
    }
    if data["type"] == "prompt":
        # A prompt API is born with its first version.
        return prompts.prompt_service_create(**common, **_version_content(ctx, data["slug"], 1), **fields)
    return service_create(kind=data["type"], input_schema=data["input_schema"], **common, **fields)


def _service_delete(service: Service) -> None:
    """No page deletes a service (they retire it); a file removed with --prune does, when nothing used it."""
    if service.subscriptions.exists():
        raise ApplicationError(
            "it has subscriptions: retire it (lifecycle: retired) instead of removing its file", field="lifecycle"
        )
    audited("service.delete", service, tenant=service.tenant, changes={"slug": service.slug})
    service.delete()


def service_apply(change: Change, ctx: ApplyContext) -> None:
    if change.action == DELETE:
        _service_delete(Service.objects.for_tenant(ctx.tenant).get(slug=change.key))
        return
    data = change.desired.data
    route = Route.objects.for_tenant(ctx.tenant).get(alias=data["route"])
    if change.action == CREATE:
        service = _service_create(data, route, ctx)
    else:
        service = Service.objects.for_tenant(ctx.tenant).get(slug=change.key)
        if service.kind != data["type"]:
            raise ApplicationError(f"a service's type cannot change ({service.kind}): use a new slug", field="type")
        fields = {name: data[name] for name in (*SERVICE_FIELDS, "name", "output_mode", "output_schema")}
        if data["type"] != "prompt":
            fields["input_schema"] = data["input_schema"]
        fields |= {"route": route, "shared_with": _shared_with(data["shared_with"])}
        service = service_update(service=service, actor_membership=ctx.membership, data=fields)
    _plans_sync(service, data["plans"], ctx)
    _lifecycle_apply(service, data, ctx)


def _template(ctx: ApplyContext, slug: str) -> PromptTemplate:
    return PromptTemplate.objects.select_related("service", "live_version").get(
        service__tenant=ctx.tenant, service__slug=slug
    )


def prompt_version_apply(change: Change, ctx: ApplyContext) -> None:
    data = change.desired.data
    template = _template(ctx, data["service"])
    content = _version_content(ctx, data["service"], data["version"])
    existing = template.versions.filter(number=data["version"]).first()
    if existing is not None:
        if change.action == UPDATE or any(getattr(existing, k) != v for k, v in content.items()):
            raise ApplicationError(
                "prompt versions are immutable: write the change as a new version file and make it live in prompt.yaml",
                field="version",
            )
        return  # version 1 of a prompt API created in this apply
    latest = template.versions.order_by("-number").values_list("number", flat=True).first() or 0
    if data["version"] != latest + 1:
        raise ApplicationError(f"the next version of {data['service']} is v{latest + 1}", field="version")
    prompts.prompt_version_create(template=template, author=ctx.membership, **content)


def prompt_apply(change: Change, ctx: ApplyContext) -> None:
    if change.action == DELETE:
        return  # only with its service (the references say so), whose deletion takes the prompt along
    data = change.desired.data
    template = _template(ctx, data["service"])
    if template.live_version is None or template.live_version.number != data["live_version"]:
        with at("live_version"):
            template = prompts.prompt_version_publish(
                template=template, version_number=data["live_version"], actor_membership=ctx.membership
            )
    with at("ab_split"):
        prompts.prompt_ab_set(
            template=template, split=data["ab_split"], sticky_by=data["sticky_by"], actor_membership=ctx.membership
        )


def prompt_tests_apply(change: Change, ctx: ApplyContext) -> None:
    template = _template(ctx, change.key)
    existing = {case.name: case for case in template.test_cases.all()}
    items = change.desired.data["cases"] if change.desired else []
    wanted = {item["name"] for item in items}
    for name, case in existing.items():
        if name not in wanted:
            prompts.prompt_test_case_delete(case=case, actor_membership=ctx.membership)
    for index, item in enumerate(items):
        with at(f"cases[{index}]"):
            case = existing.get(item["name"])
            if case is None:
                prompts.prompt_test_case_create(template=template, actor_membership=ctx.membership, **item)
            else:
                prompts.prompt_test_case_update(case=case, actor_membership=ctx.membership, **item)
