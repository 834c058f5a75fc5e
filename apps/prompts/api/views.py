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
    PromptTestCaseIn,
    PromptTestCaseOut,
    PromptTestCaseUpdateIn,
    PromptTestRunOut,
    PromptVersionCreateIn,
    PromptVersionOut,
)
from apps.prompts.selectors import (
    prompt_template_get,
    prompt_test_case_get,
    prompt_test_case_list,
    prompt_test_run_get,
    prompt_test_run_list,
    prompt_version_diff,
    prompt_version_get,
    prompt_version_list,
)
from apps.prompts.services import (
    prompt_ab_set,
    prompt_rollback,
    prompt_service_create,
    prompt_test_case_create,
    prompt_test_case_delete,
    prompt_test_case_update,
    prompt_test_run_start,
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


class PromptTestCaseViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Test cases of a prompt: variables and checks. Members read; developers and up write (as for versions)."""

    serializer_class = PromptTestCaseOut
    write_role = Role.DEVELOPER

    def get_template(self):
        return prompt_template_get(tenant=self.request.tenant, service_slug=self.kwargs["service_slug"])

    def get_queryset(self):
        return prompt_test_case_list(template=self.get_template())

    def get_object(self):
        return prompt_test_case_get(template=self.get_template(), pk=self.kwargs["pk"])

    def retrieve(self, request, tenant_slug: str, service_slug: str, pk: str):
        return Response(PromptTestCaseOut(self.get_object()).data)

    @extend_schema(request=PromptTestCaseIn, responses={201: PromptTestCaseOut})
    def create(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptTestCaseIn, request.data)
        case = prompt_test_case_create(template=self.get_template(), actor_membership=request.membership, **data)
        return Response(PromptTestCaseOut(case).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PromptTestCaseUpdateIn, responses=PromptTestCaseOut)
    def partial_update(self, request, tenant_slug: str, service_slug: str, pk: str):
        data = _validated(PromptTestCaseUpdateIn, request.data)
        case = prompt_test_case_update(case=self.get_object(), actor_membership=request.membership, **data)
        return Response(PromptTestCaseOut(case).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, tenant_slug: str, service_slug: str, pk: str):
        prompt_test_case_delete(case=self.get_object(), actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PromptTestRunViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Runs of the prompt's test cases against one version. POST starts one (developers and up): it answers 202
    at once and the run goes on in the background; GET the run until its status is passed, failed or error."""

    serializer_class = PromptTestRunOut
    write_role = Role.DEVELOPER

    def get_version(self):
        template = prompt_template_get(tenant=self.request.tenant, service_slug=self.kwargs["service_slug"])
        return prompt_version_get(template=template, number=self.kwargs["number"])

    def get_queryset(self):
        version = self.get_version()
        return prompt_test_run_list(template=version.template, version=version).prefetch_related("results")

    def retrieve(self, request, tenant_slug: str, service_slug: str, number: str, pk: str):
        version = self.get_version()
        return Response(PromptTestRunOut(prompt_test_run_get(template=version.template, version=version, pk=pk)).data)

    @extend_schema(request=None, responses={202: PromptTestRunOut}, summary="Run every test case against this version")
    def create(self, request, tenant_slug: str, service_slug: str, number: str):
        run = prompt_test_run_start(version=self.get_version(), actor_membership=request.membership)
        run = prompt_test_run_get(template=run.version.template, pk=run.pk)  # eager runs are finished by now
        return Response(PromptTestRunOut(run).data, status=status.HTTP_202_ACCEPTED)
