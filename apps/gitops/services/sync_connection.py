"""A tenant's GitLab connection: saving it (checked against GitLab first), reading it, and a client for it."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.errors import ApplicationError
from apps.core.netguard import AddressPolicy, address_refusal, url_problem
from apps.core.services import audit_record
from apps.gitops.gitlab import GitLabClient, GitLabError
from apps.gitops.models import GitLabConnection, SyncRun
from apps.tenants.models import Tenant


def gitlab_address_policy() -> AddressPolicy:
    return AddressPolicy.from_entries(settings.GITLAB_ALLOW_PRIVATE_NETWORKS)


def gitlab_client(connection: GitLabConnection) -> GitLabClient:
    return GitLabClient(
        base_url=connection.gitlab_url,
        token=connection.token(),
        project=connection.project,
        policy=gitlab_address_policy(),
        timeout=settings.GITLAB_TIMEOUT_SECONDS,
        backoff=settings.GITLAB_RETRY_BACKOFF_SECONDS,
    )


def gitlab_connection_get(*, tenant: Tenant) -> GitLabConnection | None:
    return GitLabConnection.objects.for_tenant(tenant).first()


def sync_run_list(*, tenant: Tenant, limit: int = 50) -> list[SyncRun]:
    return list(SyncRun.objects.for_tenant(tenant)[:limit])


def sync_run_get(*, tenant: Tenant, pk: int) -> SyncRun | None:
    return SyncRun.objects.for_tenant(tenant).filter(pk=pk).first()


def _normalized_directory(directory: str) -> str:
    directory = directory.strip().strip("/")
    if any(part in ("", ".", "..") for part in directory.split("/")) and directory:
        raise ApplicationError(
            "Give a folder such as definitions or infra/portal (no . or .. parts).", field="directory"
        )
    return directory


def gitlab_connection_set(
    *,
    tenant: Tenant,
    gitlab_url: str,
    project: str,
    branch: str = "main",
    directory: str = "definitions",
    token: str = "",
    webhook_secret: str | None = None,
    review_mode: bool = False,
    gitops_mode: bool = False,
    enabled: bool = True,
) -> GitLabConnection:
    """Create or change the tenant's connection. An empty `token` keeps the stored one (it is never shown, so a
    form cannot send it back); `webhook_secret` None keeps the stored one, "" removes it. GitLab is asked first:
    the project must be reachable with the token, or nothing is saved."""
    connection = gitlab_connection_get(tenant=tenant) or GitLabConnection(tenant=tenant)
    creating = connection.pk is None
    gitlab_url = gitlab_url.strip().rstrip("/")
    if problem := url_problem(gitlab_url):
        raise ApplicationError(problem, field="gitlab_url")
    if problem := address_refusal(gitlab_url, gitlab_address_policy()):
        raise ApplicationError(
            f"{problem}; the operator may allow it with GITLAB_ALLOW_PRIVATE_NETWORKS.", field="gitlab_url"
        )
    if not project.strip():
        raise ApplicationError("Give the project's path (group/name) or its numeric id.", field="project")
    if not branch.strip():
        raise ApplicationError("Give the branch the definitions live on, e.g. main.", field="branch")
    if not token and creating:
        raise ApplicationError("Give an access token with the api scope.", field="token")
    connection.gitlab_url = gitlab_url
    connection.project = project.strip().strip("/")
    connection.branch = branch.strip()
    connection.directory = _normalized_directory(directory)
    connection.review_mode = review_mode
    connection.gitops_mode = gitops_mode
    connection.enabled = enabled
    if token:
        connection.set_token(token.strip())
    if webhook_secret is not None:
        connection.set_webhook_secret(webhook_secret.strip())
    try:
        connection.full_clean(exclude=["tenant", "token_encrypted"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ApplicationError(" ".join(messages), field=field) from None
    _check_reachable(connection)
    with transaction.atomic():
        connection.save()
        # Never the token or the secret: only whether they were set.
        changes = {
            "gitlab_url": connection.gitlab_url,
            "project": connection.project,
            "branch": connection.branch,
            "directory": connection.directory,
            "review_mode": connection.review_mode,
            "gitops_mode": connection.gitops_mode,
            "enabled": connection.enabled,
            "token_changed": bool(token),
        }
        audit_record(
            action="gitops.connect" if creating else "gitops.connection_change",
            obj=connection,
            tenant=tenant,
            changes=changes,
        )
    return connection


def _check_reachable(connection: GitLabConnection) -> None:
    try:
        with gitlab_client(connection) as client:
            project = client.get_project()
            # An empty project has no branch yet (the first sync creates it); otherwise a missing branch is a typo.
            if not project.get("empty_repo") and client.get_branch(connection.branch) is None:
                raise ApplicationError(f"The project has no branch {connection.branch!r}.", field="branch")
    except GitLabError as exc:
        field = "token" if exc.status in (401, 403) else "project" if exc.status == 404 else "gitlab_url"
        raise ApplicationError(f"GitLab check failed: {exc}", field=field) from None
