"""The catalog's API: a tenant's services, plans and prompt editors (its members read, owners and admins change),
and the catalog itself, which people and apps read."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import perform_import

from apps.catalog.api.serializers import (
    CatalogFilterIn,
    CatalogServiceDetailOut,
    CatalogServiceOut,
    CatalogTenantIn,
    PlanCreateIn,
    PlanOut,
    PlanUpdateIn,
    PromptEditorIn,
    PromptEditorOut,
    ServiceCreateIn,
    ServiceDeprecateIn,
    ServiceOut,
    ServiceShareIn,
    ServiceUpdateIn,
)
from apps.catalog.models import Lifecycle
from apps.catalog.openapi import service_openapi
from apps.catalog.permissions import PersonOrCatalogApp
from apps.catalog.selectors import (
    catalog_tenant_for_person,
    plan_get,
    plan_list,
    service_get,
    service_get_visible,
    service_list,
    service_list_visible_to,
    service_prompt_editors,
)
from apps.catalog.services import (
    plan_create,
    plan_delete,
    plan_update,
    service_create,
    service_prompt_editor_grant,
    service_prompt_editor_revoke,
    service_set_lifecycle,
    service_share,
    service_update,
)
from apps.tenants.api.base import TenantScopedViewSet
from apps.tenants.models import Role

SLUG = r"[a-z0-9-]+"


def _validated(serializer_class, data, **context) -> dict:
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ServiceViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """The tenant's own services, in every lifecycle. Owners and admins create, change, publish and share them."""

    serializer_class = ServiceOut
    lookup_field = "slug"
    lookup_value_regex = SLUG
    write_role = Role.ADMIN

    def get_queryset(self):
        return service_list(tenant=self.request.tenant)

    def retrieve(self, request, tenant_slug: str, slug: str):
        return Response(ServiceOut(service_get(tenant=request.tenant, slug=slug)).data)

    @extend_schema(request=ServiceCreateIn, responses={201: ServiceOut})
    def create(self, request, tenant_slug: str):
        data = _validated(ServiceCreateIn, request.data, tenant=request.tenant)
        service = service_create(tenant=request.tenant, actor_membership=request.membership, **data)
        created = service_get(tenant=request.tenant, slug=service.slug)
        return Response(ServiceOut(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ServiceUpdateIn, responses=ServiceOut)
    def partial_update(self, request, tenant_slug: str, slug: str):
        service = service_get(tenant=request.tenant, slug=slug)
        data = _validated(ServiceUpdateIn, request.data, tenant=request.tenant)
        service_update(service=service, actor_membership=request.membership, data=data)
        return Response(ServiceOut(service_get(tenant=request.tenant, slug=slug)).data)

    def _lifecycle(self, request: Request, slug: str, lifecycle: str, **extra) -> Response:
        service = service_get(tenant=request.tenant, slug=slug)
        service = service_set_lifecycle(
            service=service, actor_membership=request.membership, lifecycle=lifecycle, **extra
        )
        return Response(ServiceOut(service).data)

    @extend_schema(request=None, responses=ServiceOut, summary="Publish (from draft or deprecated)")
    @action(detail=True, methods=["post"])
    def publish(self, request, tenant_slug: str, slug: str):
        return self._lifecycle(request, slug, Lifecycle.PUBLISHED)

    @extend_schema(request=ServiceDeprecateIn, responses=ServiceOut, summary="Deprecate (callers get a warning)")
    @action(detail=True, methods=["post"])
    def deprecate(self, request, tenant_slug: str, slug: str):
        return self._lifecycle(request, slug, Lifecycle.DEPRECATED, **_validated(ServiceDeprecateIn, request.data))

    @extend_schema(
        request=None, responses=ServiceOut, summary="Retire for good (no more calls; open subscriptions are closed)"
    )
    @action(detail=True, methods=["post"])
    def retire(self, request, tenant_slug: str, slug: str):
        return self._lifecycle(request, slug, Lifecycle.RETIRED)

    @extend_schema(request=ServiceShareIn, responses=ServiceOut, summary="Share with these tenants")
    @action(detail=True, methods=["post"])
    def share(self, request, tenant_slug: str, slug: str):
        service = service_get(tenant=request.tenant, slug=slug)
        tenants = _validated(ServiceShareIn, request.data)["tenants"]
        service_share(service=service, actor_membership=request.membership, tenants=tenants)
        return Response(ServiceOut(service_get(tenant=request.tenant, slug=slug)).data)


class PlanViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Plans of one of the tenant's services. A plan a subscription uses cannot be deleted (409)."""

    serializer_class = PlanOut
    lookup_field = "slug"
    lookup_value_regex = SLUG
    write_role = Role.ADMIN

    def get_service(self):
        return service_get(tenant=self.request.tenant, slug=self.kwargs["service_slug"])

    def get_queryset(self):
        return plan_list(service=self.get_service())

    def retrieve(self, request, tenant_slug: str, service_slug: str, slug: str):
        return Response(PlanOut(plan_get(service=self.get_service(), slug=slug)).data)

    @extend_schema(request=PlanCreateIn, responses={201: PlanOut})
    def create(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PlanCreateIn, request.data)
        plan = plan_create(service=self.get_service(), actor_membership=request.membership, **data)
        return Response(PlanOut(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PlanUpdateIn, responses=PlanOut)
    def partial_update(self, request, tenant_slug: str, service_slug: str, slug: str):
        plan = plan_get(service=self.get_service(), slug=slug)
        plan = plan_update(plan=plan, actor_membership=request.membership, data=_validated(PlanUpdateIn, request.data))
        return Response(PlanOut(plan).data)

    def destroy(self, request, tenant_slug: str, service_slug: str, slug: str):
        plan_delete(plan=plan_get(service=self.get_service(), slug=slug), actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PromptEditorViewSet(TenantScopedViewSet):
    """Holders of the prompt right on one of the tenant's prompt services (catalog.change_prompt): whatever their
    role, they edit, test and publish that service's prompt. Members read; owners and admins grant and revoke."""

    serializer_class = PromptEditorOut
    lookup_field = "username"
    lookup_value_regex = r"[^/]+"
    write_role = Role.ADMIN

    def get_service(self):
        return service_get(tenant=self.request.tenant, slug=self.kwargs["service_slug"])

    @extend_schema(responses=PromptEditorOut(many=True))
    def list(self, request, tenant_slug: str, service_slug: str):
        editors = service_prompt_editors(service=self.get_service())
        return Response(PromptEditorOut([_editor(user, membership) for user, membership in editors], many=True).data)

    @extend_schema(request=PromptEditorIn, responses={201: PromptEditorOut})
    def create(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptEditorIn, request.data)
        membership = service_prompt_editor_grant(
            service=self.get_service(), username=data["username"], actor_membership=request.membership
        )
        return Response(PromptEditorOut(_editor(membership.user, membership)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, tenant_slug: str, service_slug: str, username: str):
        service_prompt_editor_revoke(service=self.get_service(), username=username, actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _editor(user, membership) -> dict:
    return {"username": user.username, "name": user.get_full_name(), "role": membership.role if membership else None}


class CatalogViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The service catalog, as the caller's tenant sees it: its own services in every lifecycle, and other tenants'
    published or deprecated services that are public or shared with it. Others do not exist here (404).

    Whose catalog: an app (`Authorization: Bearer gwk_…`, a key with the `catalog` scope) reads its key's tenant's
    catalog (`?tenant=` does not apply). A person (session or personal token) reads the catalog of the tenant named
    by `?tenant=<slug>`, which must be one of theirs (404 otherwise); without it, of their only tenant. A person in
    several tenants must name one (400)."""

    authentication_classes = perform_import(
        settings.CATALOG_API_AUTHENTICATION_CLASSES, "CATALOG_API_AUTHENTICATION_CLASSES"
    )
    permission_classes = [PersonOrCatalogApp]
    serializer_class = CatalogServiceOut
    lookup_field = "slug"
    lookup_value_regex = SLUG

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self.filters = _validated(CatalogFilterIn, request.query_params.dict())
        tenant_slug = self.filters.pop("tenant", None)
        if request.user.is_authenticated:
            request.tenant = catalog_tenant_for_person(user=request.user, slug=tenant_slug)
        else:
            request.tenant = request.auth.tenant

    def get_queryset(self):
        return service_list_visible_to(tenant=self.request.tenant, filters=self.filters)

    @extend_schema(parameters=[CatalogFilterIn])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[CatalogTenantIn], responses=CatalogServiceDetailOut)
    def retrieve(self, request, slug: str):
        service = service_get_visible(tenant=request.tenant, slug=slug)
        return Response(CatalogServiceDetailOut(service, context=self.get_serializer_context()).data)

    @extend_schema(
        parameters=[CatalogTenantIn],
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
        summary="The service's own OpenAPI 3.1 document",
    )
    def openapi(self, request, slug: str):
        service = service_get_visible(tenant=request.tenant, slug=slug)
        return Response(service_openapi(service, server_url=request.build_absolute_uri("/").rstrip("/")))
