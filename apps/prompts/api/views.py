"""Prompts of a tenant's prompt services. Members read; those apps.prompts.permissions lets edit a prompt write its
versions and test cases and start test runs (developers and up, or holders of the prompt right on the service); those
it lets publish decide which version serves traffic (publish, rollback, A/B split: owners and admins, or holders of
the right). Asked before the body is read, and again by the services."""

from __future__ import annotations

from functools import cached_property

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.catalog.services import MANAGE_ROLE
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
from apps.prompts.models import PromptTemplate, PromptVersion
from apps.prompts.permissions import require_edit_prompt, require_publish_prompt
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
from apps.tenants.api.base import SAFE_METHODS, TenantScopedViewSet
from apps.tenants.api.views import _validated


class PromptScopedViewSet(TenantScopedViewSet):
    """A viewset under one prompt: any member reads; a write needs the right to edit the prompt, or to publish it for
    the `publish_actions` (403 naming the role or right, before the body is read)."""

    publish_actions: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            require = require_publish_prompt if self.action in self.publish_actions else require_edit_prompt
            require(membership=request.membership, service=self.template.service)

    @cached_property
    def template(self) -> PromptTemplate:
        return prompt_template_get(tenant=self.request.tenant, service_slug=self.kwargs["service_slug"])


class PromptViewSet(PromptScopedViewSet):
    """The prompt of a prompt service: which version is live, and the A/B split."""

    serializer_class = PromptTemplateOut
    lookup_field = "service_slug"
    lookup_value_regex = r"[a-z0-9-]+"
    publish_actions = frozenset({"rollback", "ab"})

    @extend_schema(responses=PromptTemplateOut, summary="The prompt: live version, A/B split")
    @action(detail=True, methods=["get"], url_path="prompt")
    def prompt(self, request, tenant_slug: str, service_slug: str):
        return Response(PromptTemplateOut(self.template).data)

    @extend_schema(request=PromptRollbackIn, responses=PromptTemplateOut, summary="Put an earlier version back live")
    @action(detail=True, methods=["post"], url_path="prompt/rollback")
    def rollback(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptRollbackIn, request.data)
        template = prompt_rollback(
            template=self.template, version_number=data["version"], actor_membership=request.membership
        )
        return Response(PromptTemplateOut(template).data)

    @extend_schema(request=PromptAbSetIn, responses=PromptTemplateOut, summary="Split traffic across versions")
    @action(detail=True, methods=["put"], url_path="prompt/ab")
    def ab(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptAbSetIn, request.data)
        template = prompt_ab_set(
            template=self.template,
            split=[dict(entry) for entry in data["split"]],
            sticky_by=data["sticky_by"],
            actor_membership=request.membership,
        )
        return Response(PromptTemplateOut(template).data)

    @extend_schema(parameters=[PromptDiffQueryIn], responses=PromptDiffOut, summary="Diff two versions")
    @action(detail=True, methods=["get"], url_path="prompt/diff")
    def diff(self, request, tenant_slug: str, service_slug: str):
        query = _validated(PromptDiffQueryIn, request.query_params)
        diff = prompt_version_diff(template=self.template, **query)
        return Response(PromptDiffOut({**query, **diff}).data)


class PromptVersionViewSet(mixins.ListModelMixin, PromptScopedViewSet):
    """Immutable versions of a prompt, newest first. Creating one does not make it live: publishing does."""

    serializer_class = PromptVersionOut
    lookup_field = "number"
    publish_actions = frozenset({"publish"})

    def get_queryset(self):
        return prompt_version_list(template=self.template)

    def retrieve(self, request, tenant_slug: str, service_slug: str, number: str):
        return Response(PromptVersionOut(prompt_version_get(template=self.template, number=number)).data)

    @extend_schema(request=PromptVersionCreateIn, responses={201: PromptVersionOut})
    def create(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptVersionCreateIn, request.data)
        version = prompt_version_create(template=self.template, author=request.membership, **data)
        return Response(PromptVersionOut(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PromptTemplateOut, summary="Make this version live")
    @action(detail=True, methods=["post"])
    def publish(self, request, tenant_slug: str, service_slug: str, number: str):
        version = prompt_version_get(template=self.template, number=number)
        template = prompt_version_publish(
            template=version.template, version_number=version.number, actor_membership=request.membership
        )
        return Response(PromptTemplateOut(template).data)


class PromptServiceViewSet(TenantScopedViewSet):
    """Create a prompt API in one call: the catalog service, its prompt and version 1, live."""

    serializer_class = PromptServiceOut
    write_role = MANAGE_ROLE

    @extend_schema(request=PromptServiceCreateIn, responses={201: PromptServiceOut})
    def create(self, request, tenant_slug: str):
        serializer = PromptServiceCreateIn(data=request.data, context={"tenant": request.tenant})
        serializer.is_valid(raise_exception=True)
        service = prompt_service_create(
            tenant=request.tenant, actor_membership=request.membership, **serializer.validated_data
        )
        return Response(PromptServiceOut(service).data, status=status.HTTP_201_CREATED)


class PromptTestCaseViewSet(mixins.ListModelMixin, PromptScopedViewSet):
    """Test cases of a prompt: variables and checks. Members read; those who may edit the prompt write them."""

    serializer_class = PromptTestCaseOut

    def get_queryset(self):
        return prompt_test_case_list(template=self.template)

    def get_object(self):
        return prompt_test_case_get(template=self.template, pk=self.kwargs["pk"])

    def retrieve(self, request, tenant_slug: str, service_slug: str, pk: str):
        return Response(PromptTestCaseOut(self.get_object()).data)

    @extend_schema(request=PromptTestCaseIn, responses={201: PromptTestCaseOut})
    def create(self, request, tenant_slug: str, service_slug: str):
        data = _validated(PromptTestCaseIn, request.data)
        case = prompt_test_case_create(template=self.template, actor_membership=request.membership, **data)
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


class PromptTestRunViewSet(mixins.ListModelMixin, PromptScopedViewSet):
    """Runs of the prompt's test cases against one version. POST starts one (those who may edit the prompt): it
    answers 202 at once and the run goes on in the background; GET the run until its status is passed, failed or
    error."""

    serializer_class = PromptTestRunOut

    def get_version(self) -> PromptVersion:
        return prompt_version_get(template=self.template, number=self.kwargs["number"])

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
