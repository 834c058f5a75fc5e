from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from apps.tenants.api.base import TenantScopedViewSet
from apps.tenants.api.serializers import (
    AuditEventOut,
    AuditFilterIn,
    MembershipCreateIn,
    MembershipOut,
    MembershipUpdateIn,
    TenantCreateIn,
    TenantOut,
    TenantUpdateIn,
)
from apps.tenants.models import Role
from apps.tenants.selectors import (
    audit_event_list,
    membership_get_in_tenant,
    membership_list,
    membership_require,
    tenant_get_for_user,
    tenant_list_for_user,
)
from apps.tenants.services import (
    membership_add,
    membership_remove,
    membership_set_role,
    tenant_create,
    tenant_update,
)


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TenantViewSet(viewsets.GenericViewSet):
    """Tenants the caller belongs to."""

    serializer_class = TenantOut
    lookup_field = "slug"
    lookup_value_regex = r"[^/]+"  # any value reaches the view, which answers 404 (typed as a string in the schema)

    def get_queryset(self):
        return tenant_list_for_user(user=self.request.user)

    def get_serializer_context(self) -> dict:
        roles = dict(self.request.user.memberships.values_list("tenant_id", "role"))
        return {**super().get_serializer_context(), "roles": roles}

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, slug: str):
        tenant, _ = tenant_get_for_user(user=request.user, slug=slug)
        return Response(self.get_serializer(tenant).data)

    @extend_schema(request=TenantCreateIn, responses={201: TenantOut})
    def create(self, request):
        tenant = tenant_create(owner=request.user, **_validated(TenantCreateIn, request.data))
        return Response(self.get_serializer(tenant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TenantUpdateIn, responses=TenantOut)
    def partial_update(self, request, slug: str):
        tenant, membership = tenant_get_for_user(user=request.user, slug=slug)
        membership_require(membership=membership, min_role=Role.ADMIN)
        tenant = tenant_update(tenant=tenant, actor_membership=membership, **_validated(TenantUpdateIn, request.data))
        return Response(self.get_serializer(tenant).data)


class MembershipViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Members of a tenant and their roles; owners and admins manage them."""

    serializer_class = MembershipOut
    write_role = Role.ADMIN

    def get_queryset(self):
        return membership_list(tenant=self.request.tenant)

    def retrieve(self, request, tenant_slug: str, pk: str):
        return Response(MembershipOut(membership_get_in_tenant(tenant=request.tenant, pk=pk)).data)

    @extend_schema(request=MembershipCreateIn, responses={201: MembershipOut})
    def create(self, request, tenant_slug: str):
        data = _validated(MembershipCreateIn, request.data)
        membership = membership_add(tenant=request.tenant, actor_membership=request.membership, **data)
        return Response(MembershipOut(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MembershipUpdateIn, responses=MembershipOut)
    def partial_update(self, request, tenant_slug: str, pk: str):
        membership = membership_get_in_tenant(tenant=request.tenant, pk=pk)
        data = _validated(MembershipUpdateIn, request.data)
        membership = membership_set_role(membership=membership, actor_membership=request.membership, **data)
        return Response(MembershipOut(membership).data)

    def destroy(self, request, tenant_slug: str, pk: str):
        membership = membership_get_in_tenant(tenant=request.tenant, pk=pk)
        membership_remove(membership=membership, actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """The tenant's audit trail (owners and admins), newest first."""

    serializer_class = AuditEventOut
    read_role = Role.ADMIN

    def get_queryset(self):
        filters = _validated(AuditFilterIn, self.request.query_params)
        return audit_event_list(tenant=self.request.tenant, filters=filters)

    @extend_schema(parameters=[AuditFilterIn], responses=AuditEventOut(many=True))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
