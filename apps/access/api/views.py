from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.access.api.serializers import (
    ApiKeyCreateIn,
    ApiKeyIssuedOut,
    ApiKeyOut,
    AppCreateIn,
    AppManagerIn,
    AppOut,
    AppUpdateIn,
    PersonalTokenCreateIn,
    PersonalTokenIssuedOut,
    PersonalTokenOut,
)
from apps.access.selectors import (
    api_key_get,
    api_key_list,
    app_get,
    app_list,
    personal_token_get,
    personal_token_list,
)
from apps.access.services import (
    api_key_issue,
    api_key_revoke,
    app_create,
    app_delete,
    app_manager_grant,
    app_manager_revoke,
    app_update,
    personal_token_issue,
    token_revoke,
)
from apps.tenants.api.base import TenantScopedViewSet
from apps.tenants.api.views import _validated
from apps.tenants.models import Role


class AppViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """The tenant's consumer apps. Developers create apps; who manages one is a per-app right."""

    serializer_class = AppOut
    lookup_field = "slug"
    write_role = Role.DEVELOPER  # viewers are refused before their input is even read

    def get_queryset(self):
        return app_list(tenant=self.request.tenant)

    def retrieve(self, request, tenant_slug: str, slug: str):
        return Response(AppOut(app_get(tenant=request.tenant, slug=slug)).data)

    @extend_schema(request=AppCreateIn, responses={201: AppOut})
    def create(self, request, tenant_slug: str):
        data = _validated(AppCreateIn, request.data)
        app = app_create(tenant=request.tenant, actor_membership=request.membership, **data)
        return Response(AppOut(app).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AppUpdateIn, responses=AppOut)
    def partial_update(self, request, tenant_slug: str, slug: str):
        app = app_get(tenant=request.tenant, slug=slug)
        app = app_update(app=app, actor_membership=request.membership, data=_validated(AppUpdateIn, request.data))
        return Response(AppOut(app).data)

    def destroy(self, request, tenant_slug: str, slug: str):
        app_delete(app=app_get(tenant=request.tenant, slug=slug), actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=AppManagerIn, responses={204: None})
    @action(detail=True, methods=["post"], url_path="managers")
    def managers_add(self, request, tenant_slug: str, slug: str):
        app = app_get(tenant=request.tenant, slug=slug)
        data = _validated(AppManagerIn, request.data)
        app_manager_grant(app=app, actor_membership=request.membership, **data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"managers/(?P<username>[^/]+)")
    def managers_remove(self, request, tenant_slug: str, slug: str, username: str):
        app = app_get(tenant=request.tenant, slug=slug)
        app_manager_revoke(app=app, username=username, actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Keys of one app. The secret is returned once, by create."""

    serializer_class = ApiKeyOut
    write_role = Role.DEVELOPER

    def get_app(self):
        return app_get(tenant=self.request.tenant, slug=self.kwargs["app_slug"])

    def get_queryset(self):
        return api_key_list(app=self.get_app())

    def retrieve(self, request, tenant_slug: str, app_slug: str, pk: str):
        return Response(ApiKeyOut(api_key_get(app=self.get_app(), pk=pk)).data)

    @extend_schema(request=ApiKeyCreateIn, responses={201: ApiKeyIssuedOut})
    def create(self, request, tenant_slug: str, app_slug: str):
        data = _validated(ApiKeyCreateIn, request.data)
        key, secret = api_key_issue(app=self.get_app(), actor_membership=request.membership, **data)
        return Response(ApiKeyIssuedOut(key, context={"secret": secret}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiKeyOut)
    @action(detail=True, methods=["post"])
    def revoke(self, request, tenant_slug: str, app_slug: str, pk: str):
        key = api_key_revoke(key=api_key_get(app=self.get_app(), pk=pk), actor_membership=request.membership)
        return Response(ApiKeyOut(key).data)


class PersonalTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's personal access tokens for scripts and CI (`Authorization: Bearer gwp_…`)."""

    serializer_class = PersonalTokenOut
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        return personal_token_list(user=self.request.user)

    @extend_schema(request=PersonalTokenCreateIn, responses={201: PersonalTokenIssuedOut})
    def create(self, request):
        token, secret = personal_token_issue(user=request.user, **_validated(PersonalTokenCreateIn, request.data))
        return Response(PersonalTokenIssuedOut(token, context={"secret": secret}).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk: str):
        token_revoke(token=personal_token_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
