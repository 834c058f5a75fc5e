"""The definitions API for CI jobs (a personal access token, `Authorization: Bearer gwp_…`): export, plan and apply
a tenant's files as JSON or a tar.gz, and the JSON Schema of the format (public: it holds nothing of anyone's)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import BaseParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotPermitted
from apps.gitops.api.serializers import (
    DefinitionsArchiveIn,
    DefinitionsExportOut,
    DefinitionsExportQueryIn,
    DefinitionsIn,
    DefinitionsInvalidOut,
    DefinitionsPlanOut,
    DefinitionsTargetQueryIn,
)
from apps.gitops.services import (
    Definitions,
    definitions_apply,
    definitions_export,
    definitions_load,
    definitions_plan,
    definitions_schema,
)
from apps.gitops.services.archive import MAX_ARCHIVE_BYTES, files_from_tar_gz, files_to_tar_gz
from apps.tenants.models import Membership, Role, Tenant
from apps.tenants.selectors import tenant_get_for_user

GZIP = "application/gzip"
UPLOADS = {"application/json": DefinitionsIn, "multipart/form-data": DefinitionsArchiveIn, GZIP: OpenApiTypes.BINARY}
REFUSALS = {
    400: DefinitionsInvalidOut,
    403: OpenApiResponse(description="not an owner or admin of the tenant"),
    404: OpenApiResponse(description="no such tenant among yours"),
}


class TarGzParser(BaseParser):
    """A tar.gz body as raw bytes (curl --data-binary @defs.tar.gz -H 'Content-Type: application/gzip')."""

    media_type = GZIP

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> bytes:
        # One byte past the limit is enough to refuse an oversized upload without reading it all.
        return stream.read(MAX_ARCHIVE_BYTES + 1) if stream is not None else b""


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _admin_of(request: Request, slug: str) -> tuple[Tenant, Membership]:
    tenant, membership = tenant_get_for_user(user=request.user, slug=slug)  # 404 for a non-member
    if not membership.has_role(Role.ADMIN):
        raise NotPermitted("Only the tenant's owners and admins export, plan and apply its definitions.")
    return tenant, membership


def _definitions(request: Request) -> tuple[Definitions, bool, Membership]:
    """The uploaded files (JSON, multipart `archive`, or a tar.gz body), validated, and the caller's membership of
    the tenant they define."""
    query = _valid(DefinitionsTargetQueryIn, request.query_params)
    if isinstance(request.data, bytes):
        files, prune = files_from_tar_gz(request.data), query.get("prune", False)
    elif "archive" in request.FILES:
        upload = request.FILES["archive"]
        files, prune = files_from_tar_gz(upload.read(MAX_ARCHIVE_BYTES + 1)), query.get("prune", False)
    else:
        body = _valid(DefinitionsIn, request.data)
        files, prune = body["files"], body["prune"]
    definitions = definitions_load(files=files)
    slug = query.get("tenant") or definitions.tenant_slug
    _, membership = _admin_of(request, slug)
    return definitions, prune, membership


class DefinitionsSchemaApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, tags=["gitops"], summary="JSON Schema of definition files")
    def get(self, request: Request) -> Response:
        return Response(definitions_schema())


class DefinitionsExportApi(APIView):
    @extend_schema(
        parameters=[DefinitionsExportQueryIn],
        responses={200: DefinitionsExportOut, (200, GZIP): OpenApiTypes.BINARY, **REFUSALS},
        tags=["gitops"],
        summary="A tenant's definition files",
    )
    def get(self, request: Request) -> Response | HttpResponse:
        query = _valid(DefinitionsExportQueryIn, request.query_params)
        tenant, _ = _admin_of(request, query["tenant"])
        files = definitions_export(tenant=tenant)
        if query["archive"]:
            response = HttpResponse(files_to_tar_gz(files), content_type=GZIP)
            response["Content-Disposition"] = f'attachment; filename="{tenant.slug}-definitions.tar.gz"'
            return response
        return Response(DefinitionsExportOut({"tenant": tenant.slug, "files": files}).data)


class DefinitionsPlanApi(APIView):
    parser_classes = [JSONParser, MultiPartParser, TarGzParser]

    @extend_schema(
        parameters=[DefinitionsTargetQueryIn],
        request=UPLOADS,
        responses={200: DefinitionsPlanOut, **REFUSALS},
        tags=["gitops"],
        summary="What applying the files would change",
    )
    def post(self, request: Request) -> Response:
        definitions, prune, membership = _definitions(request)
        # The tenant checked, not the one the files name: files of another tenant are refused, never planned.
        plan = definitions_plan(tenant_slug=membership.tenant.slug, definitions=definitions, prune=prune)
        return Response(DefinitionsPlanOut(plan).data)


class DefinitionsApplyApi(APIView):
    parser_classes = [JSONParser, MultiPartParser, TarGzParser]

    @extend_schema(
        parameters=[DefinitionsTargetQueryIn],
        request=UPLOADS,
        responses={200: DefinitionsPlanOut, **REFUSALS},
        tags=["gitops"],
        summary="Make the tenant match the files, in one transaction",
    )
    def post(self, request: Request) -> Response:
        definitions, prune, membership = _definitions(request)
        plan = definitions_apply(
            definitions=definitions, prune=prune, actor_membership=membership, actor_user=request.user, source="api"
        )
        return Response(DefinitionsPlanOut(plan).data)
