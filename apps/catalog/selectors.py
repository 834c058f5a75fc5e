"""Reads of the catalog. Who sees a service:

- its own tenant, in any lifecycle;
- another tenant, only when it is published or deprecated AND public, or shared with that tenant.

A service someone may not see does not exist for them (404), whatever the reason."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_users_with_perms

from apps.catalog.models import INVOCABLE, Plan, Service, Tag, Visibility
from apps.core.errors import ApplicationError
from apps.tenants.models import ROLE_RANK, Membership, Role, Tenant
from apps.tenants.selectors import membership_list, tenant_get_for_user, tenant_list_for_user


def route_list_for(*, tenant: Tenant) -> QuerySet:
    """The tenant's routes, which its services may be published on. providers.Route is reached through the foreign
    key: catalog and providers are independent siblings that never import each other."""
    route_model = Service._meta.get_field("route").related_model
    return route_model.objects.filter(tenant=tenant).order_by("alias")


def route_references(*, tenant_id: int, alias: str) -> list[str]:
    """What of the catalog names the route `alias` of a tenant: services published on it or embedding with it for
    their semantic cache, and plans allowing it or sending calls to it once over budget."""
    services = Service.objects.filter(tenant_id=tenant_id).order_by("slug")
    found = [f"service '{slug}'" for slug in services.filter(route__alias=alias).values_list("slug", flat=True)]
    found += [
        f"service '{slug}' (semantic cache)"
        for slug in services.filter(semantic_cache_route=alias).values_list("slug", flat=True)
    ]
    # A plan's allowed models are a JSON list, which SQLite cannot search: a tenant's plans are read and looked at.
    plans = Plan.objects.filter(service__tenant_id=tenant_id).select_related("service")
    for plan in plans.order_by("service__slug", "slug"):
        if plan.over_budget_route == alias:
            found.append(f"plan '{plan.slug}' of service '{plan.service.slug}' (over-budget route)")
        elif alias in (plan.allowed_models or ()):
            found.append(f"plan '{plan.slug}' of service '{plan.service.slug}' (allowed models)")
    return found


def share_target_list() -> QuerySet[Tenant]:
    """Tenants a service can be shared with, looked up by slug."""
    return Tenant.objects.order_by("slug")


def service_list(*, tenant: Tenant) -> QuerySet[Service]:
    """The tenant's own services, in every lifecycle, with what their management pages show."""
    return (
        Service.objects.for_tenant(tenant)
        .select_related("tenant", "route")
        .prefetch_related("tags", "plans", "shared_with")
        .order_by("name", "slug")
    )


def service_get(*, tenant: Tenant, slug: str) -> Service:
    service = service_list(tenant=tenant).filter(slug=slug).first()
    if service is None:
        raise Http404("No such service.")
    return service


def _visible_to(tenant_ids: Iterable[int]) -> Q:
    """What any of these tenants may see."""
    shared = Service.shared_with.through.objects.filter(tenant_id__in=tenant_ids).values("service_id")
    reachable = Q(visibility=Visibility.PUBLIC) | Q(visibility=Visibility.SHARED, pk__in=shared)
    return Q(tenant_id__in=tenant_ids) | (Q(lifecycle__in=INVOCABLE) & reachable)


def _filtered(services: QuerySet[Service], filters: dict[str, Any]) -> QuerySet[Service]:
    if filters.get("q"):
        text = filters["q"]
        services = services.filter(Q(name__icontains=text) | Q(summary__icontains=text) | Q(slug__icontains=text))
    if filters.get("tag"):
        services = services.filter(tags__name=str(filters["tag"]).lower())
    if filters.get("kind"):
        services = services.filter(kind=filters["kind"])
    if filters.get("lifecycle"):
        services = services.filter(lifecycle=filters["lifecycle"])
    if filters.get("owner"):
        services = services.filter(tenant__slug=filters["owner"])
    return services


def service_list_visible_to(*, tenant: Tenant, filters: dict[str, Any] | None = None) -> QuerySet[Service]:
    """Every service `tenant` may see (rules above), filtered by q (name, summary or slug contains), tag, kind,
    lifecycle and owner (tenant slug). Tags, plans and the owner come with it: listing a page of it takes the same
    number of queries however many services there are."""
    services = Service.objects.filter(_visible_to([tenant.pk]))
    return (
        _filtered(services, filters or {})
        .select_related("tenant")
        .prefetch_related("tags", "plans")
        .order_by("name", "slug")
    )


def service_get_visible(*, tenant: Tenant, slug: str) -> Service:
    service = service_list_visible_to(tenant=tenant).filter(slug=slug).first()
    if service is None:
        raise Http404("No such service.")
    return service


def service_get_visible_to_person(*, user: AbstractBaseUser, slug: str) -> Service:
    """A service that one of the person's tenants may see, whichever tenant they are working in; 404 otherwise
    (for someone in no tenant too: public services are public to tenants, not to every account)."""
    tenant_ids = list(tenant_list_for_user(user=user).values_list("pk", flat=True))
    visible = Service.objects.filter(_visible_to(tenant_ids), slug=slug) if tenant_ids else Service.objects.none()
    service = visible.select_related("tenant").first()
    if service is None:
        raise Http404("No such service.")
    return service


def tag_list_visible_to(*, tenant: Tenant) -> QuerySet[Tag]:
    """Tags of the services `tenant` may see (a private service's tags stay private)."""
    return Tag.objects.filter(services__in=Service.objects.filter(_visible_to([tenant.pk]))).distinct().order_by("name")


def plan_list(*, service: Service) -> QuerySet[Plan]:
    return Plan.objects.filter(service=service).order_by("position", "name")


def plan_get(*, service: Service, slug: str) -> Plan:
    plan = plan_list(service=service).filter(slug=slug).first()
    if plan is None:
        raise Http404("No such plan.")
    return plan


def catalog_tenant_for_person(*, user: AbstractBaseUser, slug: str | None) -> Tenant:
    """Whose catalog a person reads: the tenant named by `slug` (a member's only: else 404), or without it their
    only tenant. Someone in several tenants must name one; someone in none has no catalog."""
    if slug:
        return tenant_get_for_user(user=user, slug=slug)[0]
    tenants = list(tenant_list_for_user(user=user)[:2])
    if len(tenants) == 1:
        return tenants[0]
    if tenants:
        raise ApplicationError("You belong to several tenants: say whose catalog with ?tenant=<slug>.", field="tenant")
    raise ApplicationError("You belong to no tenant, and the catalog is seen through one.", field="tenant")


def _prompt_right_holders(service: Service) -> QuerySet:
    """The users granted catalog.change_prompt on the service themselves (not superusers by default, not groups)."""
    return get_users_with_perms(
        service, only_with_perms_in=["change_prompt"], with_superusers=False, with_group_users=False
    )


def service_prompt_editors(*, service: Service) -> list[tuple[AbstractBaseUser, Membership | None]]:
    """Who holds catalog.change_prompt on the service, by username, each with their membership of its tenant (None:
    no longer a member, for whom the right counts for nothing until they are one again)."""
    holders = _prompt_right_holders(service).order_by("username")
    memberships = {m.user_id: m for m in membership_list(tenant=service.tenant).filter(user__in=holders)}
    return [(user, memberships.get(user.pk)) for user in holders]


def service_prompt_editor_candidates(*, service: Service) -> QuerySet[Membership]:
    """The members of the service's tenant who do not hold the prompt right on it yet and whose role does not give it
    already: owners and admins edit and publish every prompt of the tenant, so the right would add nothing."""
    below_admin = [role for role, rank in ROLE_RANK.items() if rank < ROLE_RANK[Role.ADMIN]]
    members = membership_list(tenant=service.tenant).filter(role__in=below_admin)
    return members.exclude(user__in=_prompt_right_holders(service))
