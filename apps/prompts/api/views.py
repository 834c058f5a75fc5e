"""Prompts of a tenant's prompt services. Members read; developers write versions; owners and admins decide which
version serves traffic (publish, rollback, A/B split). The services enforce the roles; the views only route."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.prompts.api.serializers import (
    PromptAbSetIn,
    PromptDiffOut,
    PromptDiffQueryIn,
    PromptRollbackIn,
    PromptServiceCreateIn,
    PromptServiceOut,
    PromptTemplateOut,
    PromptVersionCreateIn,
    PromptVersionOut,
)
from apps.prompts.selectors import prompt_template_get, prompt_version_diff, prompt_version_get, prompt_version_list
from apps.prompts.services import (
    prompt_ab_set,
    prompt_rollback,
    prompt_service_create,
    prompt_version_create,
    prompt_version_publish,
)
from apps.tenants.api.base import TenantScopedViewSet
from apps.tenants.api.views import _validated
from apps.tenants.models import Role


class PromptViewSet(TenantScopedViewSet):
    """The prompt of a prompt service: which version is live, and the A/B split."""

    serializer_class = PromptTemplateOut
    lookup_field = "service_slug"
    lookup_value_regex = r"[a-z0-9-]+"
    write_role = Role.ADMIN

    def get_template(self):
        return prompt_template_get(tenant=self.request.tenant, service_slug=self.kwargs["service_slug"])

    @extend_schema(responses=PromptTemplateOut, summary="The prompt: live version, A/B split")
    @action(detail=True, methods=["get"], url_path="prompt")
    def prompt(self, request, tenant_slug: str, service_slug: str):
        return Response(PromptTemplateOut(self.get_template()).data)

    @extend_schema(request=PromptRollbackIn, responses=PromptTemplateOut, summary="Put an earlier version back live")
    @action(detail=True, methods=["post"], url_path="prompt/rollback")
    def rollback(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptRollbackIn, request.data)
        template = prompt_rollback(
            template=self.get_template(), version_number=data["version"], actor_membership=request.membership
        )
        return Response(PromptTemplateOut(template).data)

    @extend_schema(request=PromptAbSetIn, responses=PromptTemplateOut, summary="Split traffic across versions")
    @action(detail=True, methods=["put"], url_path="prompt/ab")
    def ab(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptAbSetIn, request.data)
        template = prompt_ab_set(
            template=self.get_template(),
            split=[dict(entry) for entry in data["split"]],
            sticky_by=data["sticky_by"],
            actor_membership=request.membership,
        )
        return Response(PromptTemplateOut(template).data)

    @extend_schema(parameters=[PromptDiffQueryIn], responses=PromptDiffOut, summary="Diff two versions")
    @action(detail=True, methods=["get"], url_path="prompt/diff")
    def diff(self, request, tenant_slug: str, service_slug: str):
        query = _validated(PromptDiffQueryIn, request.query_params)
        diff = prompt_version_diff(template=self.get_template(), **query)
        return Response(PromptDiffOut({**query, **diff}).data)


class PromptVersionViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Immutable versions of a prompt, newest first. Creating one does not make it live: publishing does."""

    serializer_class = PromptVersionOut
    lookup_field = "number"
    write_role = Role.DEVELOPER

    def get_template(self):
        return prompt_template_get(tenant=self.request.tenant, service_slug=self.kwargs["service_slug"])

    def get_queryset(self):
        return prompt_version_list(template=self.get_template())

    def retrieve(self, request, tenant_slug: str, service_slug: str, number: str):
        return Response(PromptVersionOut(prompt_version_get(template=self.get_template(), number=number)).data)

    @extend_schema(request=PromptVersionCreateIn, responses={201: PromptVersionOut})
    def create(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptVersionCreateIn, request.data)
        version = prompt_version_create(template=self.get_template(), author=request.membership, **data)
        return Response(PromptVersionOut(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PromptTemplateOut, summary="Make this version live")
    @action(detail=True, methods=["post"])
    def publish(self, request, tenant_slug: str, service_slug: str, number: str):
        version = prompt_version_get(template=self.get_template(), number=number)
        template = prompt_version_publish(
            template=version.template, version_number=version.number, actor_membership=request.membership
        )
        return Response(PromptTemplateOut(template).data)


class PromptServiceViewSet(TenantScopedViewSet):
    """Create a prompt API in one call: the catalog service, its prompt and version 1, live."""

    serializer_class = PromptServiceOut
    write_role = Role.ADMIN

    @extend_schema(request=PromptServiceCreateIn, responses={201: PromptServiceOut})
    def create(self, request, tenant_slug: str):
        serializer = PromptServiceCreateIn(data=request.data, context={"tenant": request.tenant})
        serializer.is_valid(raise_exception=True)
        service = prompt_service_create(
            tenant=request.tenant, actor_membership=request.membership, **serializer.validated_data
        )
        return Response(PromptServiceOut(service).data, status=status.HTTP_201_CREATED)
