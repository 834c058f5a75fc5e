"""POST /api/v1/gitops/gitlab/webhook: GitLab's push events. No user or key authenticates it: the
X-Gitlab-Token header must equal the connection's webhook secret (compared in constant time)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ApplicationError
from apps.gitops.services.webhook import push_to_apply, webhook_connection
from apps.gitops.tasks import sync_in_task


class GitLabWebhookApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description="the pushed commit is being applied"),
            200: OpenApiResponse(description="nothing to apply (another event or branch, or the portal's own commit)"),
            401: OpenApiResponse(description="wrong X-Gitlab-Token"),
            404: OpenApiResponse(description="no connection for this project"),
        },
        tags=["gitops"],
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ApplicationError("The body must be a GitLab event (a JSON object).")
        connection = webhook_connection(payload=request.data, token=request.headers.get("X-Gitlab-Token", ""))
        target = push_to_apply(connection=connection, payload=request.data)
        if target is None:
            return Response({"status": "ignored"})
        sha, url = target
        transaction.on_commit(lambda: sync_in_task.delay(connection.pk, sha, url))
        return Response({"status": "queued", "commit": sha}, status=202)
