"""GitLab push events: which connection a push is for (checked with its secret in constant time), and whether it
needs applying. The portal's own commits (the Portal-Sync trailer naming one of this tenant's outbound runs that
made exactly that commit) are recognised and skipped, so a sync never comes back as a change."""

from __future__ import annotations

import hmac
import re
from typing import Any

from django.db.models import Q

from apps.core.crypto import DecryptionError
from apps.core.errors import ApplicationError
from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services.sync_common import TRAILER

_TRAILER = re.compile(rf"^{TRAILER}: (\d+)\s*$", re.MULTILINE)
_NO_COMMIT = "0" * 40


class WebhookRefused(ApplicationError):
    pass


class WebhookUnknownProject(WebhookRefused):
    status_code = 404


class WebhookBadToken(WebhookRefused):
    status_code = 401


def _secret_matches(connection: GitLabConnection, token: str) -> bool:
    try:
        secret = connection.webhook_secret()
    except DecryptionError:
        return False
    return bool(secret) and hmac.compare_digest(secret.encode(), token.encode())


def webhook_connection(*, payload: dict[str, Any], token: str) -> GitLabConnection:
    """The enabled connection the push is for. 404 when no connection has this project (never naming a tenant);
    401 when none of those connections has this secret."""
    project = payload.get("project") if isinstance(payload.get("project"), dict) else {}
    project_id = str(payload.get("project_id") or project.get("id") or "")
    path = str(project.get("path_with_namespace") or "")
    lookup = Q(project=project_id) if project_id else Q()
    if path:
        lookup |= Q(project__iexact=path)
    candidates = list(GitLabConnection.objects.filter(lookup, enabled=True)) if (project_id or path) else []
    if not candidates:
        raise WebhookUnknownProject("No connection for this project.")
    # Every candidate is checked, so the time taken does not tell which one matched.
    matched = [connection for connection in candidates if _secret_matches(connection, token)]
    if matched:
        return matched[0]
    raise WebhookBadToken("Invalid X-Gitlab-Token.")


def is_portal_commit(connection: GitLabConnection, commit: dict[str, Any]) -> bool:
    match = _TRAILER.search(str(commit.get("message") or ""))
    if match is None:
        return False
    return SyncRun.objects.filter(
        tenant=connection.tenant, direction=SyncRun.Direction.OUT, pk=int(match.group(1)), commit_sha=commit.get("id")
    ).exists()


def push_to_apply(*, connection: GitLabConnection, payload: dict[str, Any]) -> tuple[str, str] | None:
    """(commit sha, its web URL) when the push needs applying; None for other events, other branches, a deleted
    branch, or a push of the portal's own commits only."""
    if payload.get("object_kind") != "push" or payload.get("ref") != f"refs/heads/{connection.branch}":
        return None
    after = str(payload.get("after") or payload.get("checkout_sha") or "")
    if not after or after == _NO_COMMIT:
        return None
    commits = [c for c in payload.get("commits") or [] if isinstance(c, dict)]
    total = payload.get("total_commits_count", len(commits))
    if commits and total == len(commits) and all(is_portal_commit(connection, c) for c in commits):
        return None
    url = next((str(c.get("url") or "") for c in commits if c.get("id") == after), "")
    return after, url
