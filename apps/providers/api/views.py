"""Providers, models and routes of a tenant. Every member reads them; owners and admins change them."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.providers.api.serializers import (
    ConnectionTestOut,
    DeploymentCreateIn,
    DeploymentOut,
    DeploymentUpdateIn,
    ProviderCreateIn,
    ProviderModelCreateIn,
    ProviderModelOut,
    ProviderModelUpdateIn,
    ProviderOut,
    ProviderUpdateIn,
    RouteCreateIn,
    RouteOut,
    RouteUpdateIn,
)
from apps.providers.models import ROUTE_ALIAS_IN_PATH
from apps.providers.selectors import (
    deployment_get,
    model_get,
    model_list,
    provider_get,
    provider_list,
    route_get,
    route_list,
)
from apps.providers.services import (
    deployment_add,
    deployment_remove,
    deployment_update,
    model_create,
    model_delete,
    model_update,
    provider_create,
    provider_delete,
    provider_sync_models,
    provider_test_connection,
    provider_update,
    route_create,
    route_delete,
    route_update,
)
from apps.tenants.api.base import TenantScopedViewSet
from apps.tenants.models import Role


def _validated(serializer_class, request: Request) -> dict:
    """The request's input, checked; objects it names (a provider, a model) are looked up in its tenant only."""
    serializer = serializer_class(data=request.data, context={"tenant": request.tenant})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# A failing request's form data never reaches an error report with the credential in it.
@method_decorator(sensitive_post_parameters("api_key"), name="dispatch")
class ProviderViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """LLM provider accounts. The API key is write-only: responses say only whether one is stored."""

    serializer_class = ProviderOut
    lookup_field = "slug"
    write_role = Role.ADMIN

    def get_queryset(self):
        return provider_list(tenant=self.request.tenant)

    def retrieve(self, request, tenant_slug: str, slug: str):
        return Response(ProviderOut(provider_get(tenant=request.tenant, slug=slug)).data)

    @extend_schema(request=ProviderCreateIn, responses={201: ProviderOut})
    def create(self, request, tenant_slug: str):
        data = _validated(ProviderCreateIn, request)
        provider = provider_create(tenant=request.tenant, actor_membership=request.membership, **data)
        return Response(ProviderOut(provider).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProviderUpdateIn, responses=ProviderOut)
    def partial_update(self, request, tenant_slug: str, slug: str):
        provider = provider_get(tenant=request.tenant, slug=slug)
        data = _validated(ProviderUpdateIn, request)
        provider = provider_update(provider=provider, actor_membership=request.membership, data=data)
        return Response(ProviderOut(provider).data)

    def destroy(self, request, tenant_slug: str, slug: str):
        provider_delete(provider=provider_get(tenant=request.tenant, slug=slug), actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=ConnectionTestOut, summary="Try the provider's credential")
    @action(detail=True, methods=["post"], url_path="test")
    def connection_test(self, request, tenant_slug: str, slug: str):
        provider = provider_get(tenant=request.tenant, slug=slug)
        ok, message = provider_test_connection(provider=provider, actor_membership=request.membership)
        return Response(ConnectionTestOut({"ok": ok, "message": message}).data)

    @extend_schema(request=None, responses=ProviderModelOut(many=True), summary="Import the provider's new models")
    @action(detail=True, methods=["post"], url_path="sync-models")
    def models_sync(self, request, tenant_slug: str, slug: str):
        provider = provider_get(tenant=request.tenant, slug=slug)
        imported = provider_sync_models(provider=provider, actor_membership=request.membership)
        return Response(ProviderModelOut(imported, many=True).data)


class ProviderModelViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Models the tenant's providers offer, with their prices (USD per 1M tokens)."""

    serializer_class = ProviderModelOut
    write_role = Role.ADMIN

    def get_queryset(self):
        return model_list(tenant=self.request.tenant)

    def retrieve(self, request, tenant_slug: str, pk: str):
        return Response(ProviderModelOut(model_get(tenant=request.tenant, pk=pk)).data)

    @extend_schema(request=ProviderModelCreateIn, responses={201: ProviderModelOut})
    def create(self, request, tenant_slug: str):
        model = model_create(actor_membership=request.membership, **_validated(ProviderModelCreateIn, request))
        return Response(ProviderModelOut(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProviderModelUpdateIn, responses=ProviderModelOut)
    def partial_update(self, request, tenant_slug: str, pk: str):
        model = model_get(tenant=request.tenant, pk=pk)
        data = _validated(ProviderModelUpdateIn, request)
        model = model_update(model=model, actor_membership=request.membership, data=data)
        return Response(ProviderModelOut(model).data)

    def destroy(self, request, tenant_slug: str, pk: str):
        model_delete(model=model_get(tenant=request.tenant, pk=pk), actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RouteViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Model aliases apps call, each served by weighted deployments in fallback order (by priority)."""

    serializer_class = RouteOut
    lookup_field = "alias"
    lookup_value_regex = ROUTE_ALIAS_IN_PATH  # aliases like openai/gpt-4o-mini or llama3.1:8b
    write_role = Role.ADMIN

    def get_queryset(self):
        return route_list(tenant=self.request.tenant)

    def retrieve(self, request, tenant_slug: str, alias: str):
        return Response(RouteOut(route_get(tenant=request.tenant, alias=alias)).data)

    @extend_schema(request=RouteCreateIn, responses={201: RouteOut})
    def create(self, request, tenant_slug: str):
        data = _validated(RouteCreateIn, request)
        route = route_create(tenant=request.tenant, actor_membership=request.membership, **data)
        return Response(RouteOut(route).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RouteUpdateIn, responses=RouteOut)
    def partial_update(self, request, tenant_slug: str, alias: str):
        route = route_get(tenant=request.tenant, alias=alias)
        data = _validated(RouteUpdateIn, request)
        route = route_update(route=route, actor_membership=request.membership, data=data)
        return Response(RouteOut(route).data)

    def destroy(self, request, tenant_slug: str, alias: str):
        route_delete(route=route_get(tenant=request.tenant, alias=alias), actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=DeploymentCreateIn, responses={201: DeploymentOut}, summary="Add a deployment")
    @action(detail=True, methods=["post"], url_path="deployments")
    def deployment_create(self, request, tenant_slug: str, alias: str):
        route = route_get(tenant=request.tenant, alias=alias)
        data = _validated(DeploymentCreateIn, request)
        deployment = deployment_add(route=route, actor_membership=request.membership, **data)
        return Response(DeploymentOut(deployment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DeploymentUpdateIn, responses=DeploymentOut, summary="Change a deployment")
    @action(detail=True, methods=["patch"], url_path=r"deployments/(?P<deployment_id>[0-9]+)")
    def deployment_change(self, request, tenant_slug: str, alias: str, deployment_id: str):
        deployment = deployment_get(route=route_get(tenant=request.tenant, alias=alias), pk=deployment_id)
        data = _validated(DeploymentUpdateIn, request)
        deployment = deployment_update(deployment=deployment, actor_membership=request.membership, data=data)
        return Response(DeploymentOut(deployment).data)

    @extend_schema(request=None, responses={204: None}, summary="Remove a deployment")
    @deployment_change.mapping.delete
    def deployment_delete(self, request, tenant_slug: str, alias: str, deployment_id: str):
        deployment = deployment_get(route=route_get(tenant=request.tenant, alias=alias), pk=deployment_id)
        deployment_remove(deployment=deployment, actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)
