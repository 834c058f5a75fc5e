from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404

from apps.providers.models import Deployment, Provider, ProviderModel, Route
from apps.providers.services.ports import route_references
from apps.tenants.models import Tenant


def provider_list(*, tenant: Tenant) -> QuerySet[Provider]:
    return Provider.objects.for_tenant(tenant).annotate(model_count=Count("models")).order_by("name")


def provider_get(*, tenant: Tenant, slug: str) -> Provider:
    provider = provider_list(tenant=tenant).filter(slug=slug).first()
    if provider is None:
        raise Http404("No such provider.")
    return provider


def model_list(*, tenant: Tenant) -> QuerySet[ProviderModel]:
    return ProviderModel.objects.for_tenant(tenant).select_related("provider").order_by("name")


def model_get(*, tenant: Tenant, pk: int | str) -> ProviderModel:
    model = model_list(tenant=tenant).filter(pk=pk).first() if str(pk).isdigit() else None
    if model is None:
        raise Http404("No such model.")
    return model


def route_list(*, tenant: Tenant) -> QuerySet[Route]:
    deployments = Deployment.objects.select_related("model__provider").order_by("priority", "-weight", "id")
    return (
        Route.objects.for_tenant(tenant)
        .prefetch_related(Prefetch("deployments", queryset=deployments))
        .order_by("alias")
    )


def route_get(*, tenant: Tenant, alias: str) -> Route:
    route = route_list(tenant=tenant).filter(alias=alias).first()
    if route is None:
        raise Http404("No such route.")
    return route


def route_used_by(*, route: Route) -> list[str]:
    """What still names the route (services, plans, limit sets: ports.py), each as its page names it."""
    return route_references(route)


def deployment_get(*, route: Route, pk: int | str) -> Deployment:
    deployment = route.deployments.filter(pk=pk).first() if str(pk).isdigit() else None
    if deployment is None:
        raise Http404("No such deployment.")
    return deployment


def deployment_list_with_shares(*, route: Route) -> list[Deployment]:
    """The route's deployments in fallback order, each with `traffic_share`: the percentage of its priority group's
    traffic it gets, as the gateway sees it (None when it or its provider is disabled: it gets none)."""
    deployments = list(route.deployments.all())
    serving = [d for d in deployments if d.enabled and d.model.provider.enabled]
    group_weights: dict[int, int] = {}
    for deployment in serving:
        group_weights[deployment.priority] = group_weights.get(deployment.priority, 0) + deployment.weight
    for deployment in deployments:
        in_service = deployment in serving
        deployment.traffic_share = 100 * deployment.weight / group_weights[deployment.priority] if in_service else None
    return deployments
