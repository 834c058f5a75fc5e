"""Outbound sync: the tenant's definitions, exported, reach its GitLab project as one commit of exactly the files
that differ (or a branch and a merge request in review mode), or nothing at all when none differs; a tenant
without GitLab may have a plain git remote instead (services/sync_git.py).

The portal's commits carry a `Portal-Sync: <run id>` trailer, so that their push events are recognised and not
applied back (services/webhook.py). The portal owns the definition files under the connection's folder only."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils import timezone

from apps.core.crypto import DecryptionError
from apps.core.errors import ApplicationError
from apps.gitops.gitlab import GitLabClient, GitLabError
from apps.gitops.models import GitLabConnection, GitRemote, SyncRun
from apps.gitops.services import definitions_export
from apps.gitops.services.sync_common import (
    AUTHOR_EMAIL,
    AUTHOR_NAME,
    Change,
    changes_between,
    commit_message,
    owned_by_portal,
    sync_run_finish,
)
from apps.gitops.services.sync_connection import gitlab_client, gitlab_connection_get
from apps.gitops.services.sync_git import GitFailed, push_to_git_remote
from apps.tenants.models import Tenant

LOCK_SECONDS = 300  # longer than any sync: calls time out well before


class SyncFailed(ApplicationError):
    """A sync that failed, recorded in `run`; `retryable` when trying again later may work."""

    def __init__(self, message: str, *, run: SyncRun | None, retryable: bool = False) -> None:
        super().__init__(message)
        self.run = run
        self.retryable = retryable


def sync_out(*, tenant: Tenant, trigger: str) -> SyncRun:
    """Export the tenant and commit what differs. Raises SyncFailed (the failure recorded in its run) when the
    tenant has no enabled connection, another sync runs, or GitLab fails. A scheduled or save-triggered sync that
    finds nothing to do leaves no history row (a manual one does: the person asked)."""
    connection = gitlab_connection_get(tenant=tenant)
    remote = None
    if connection is None or not connection.enabled:
        remote = GitRemote.objects.for_tenant(tenant).filter(enabled=True).first()
        if remote is None:
            raise SyncFailed(f"Tenant {tenant.slug} has no enabled GitLab connection or git remote.", run=None)
    lock = f"gitops:sync-lock:{tenant.pk}"
    if not cache.add(lock, 1, timeout=LOCK_SECONDS):
        raise SyncFailed("Another sync of this tenant is running; try again shortly.", run=None, retryable=True)
    run = SyncRun.objects.create(
        tenant=tenant, direction=SyncRun.Direction.OUT, trigger=trigger, started_at=timezone.now()
    )
    try:
        if remote is not None:
            run = push_to_git_remote(remote=remote, files=definitions_export(tenant=tenant), run=run)
        else:
            with gitlab_client(connection) as client:
                run = _push(client, connection, tenant, run)
    except GitFailed as exc:
        sync_run_finish(run, SyncRun.Status.FAILED, error=str(exc))
        raise SyncFailed(str(exc), run=run, retryable=True) from None
    except GitLabError as exc:
        sync_run_finish(run, SyncRun.Status.FAILED, error=str(exc))
        raise SyncFailed(str(exc), run=run, retryable=exc.retryable) from None
    except DecryptionError as exc:
        sync_run_finish(run, SyncRun.Status.FAILED, error=f"The access token cannot be read: {exc}")
        raise SyncFailed(run.error, run=run) from None
    finally:
        cache.delete(lock)
    if run.status == SyncRun.Status.UNCHANGED and trigger in (SyncRun.Trigger.SCHEDULE, SyncRun.Trigger.SAVE):
        run.delete()
    return run


def _differences(
    client: GitLabClient, connection: GitLabConnection, tenant: Tenant
) -> tuple[dict[str, Any] | None, dict[str, str], list[Change]]:
    """The branch (None: it does not exist yet), the files the portal wants there, and the changes that would
    make the branch hold them: compared by blob id, so no file is downloaded."""
    prefix = f"{connection.directory}/" if connection.directory else ""
    wanted = {prefix + path: text for path, text in definitions_export(tenant=tenant).items()}
    branch = client.get_branch(connection.branch)
    current = {}
    if branch is not None:
        blobs = client.list_blobs(ref=connection.branch, path=connection.directory)
        current = {path: blob for path, blob in blobs.items() if owned_by_portal(path, connection.directory)}
    return branch, wanted, changes_between(current, wanted)


def sync_drift(*, tenant: Tenant) -> list[Change]:
    """How the connected branch differs from the database, file by file (create: only in the portal, delete: only
    in GitLab, update: both, different), without changing anything."""
    connection = gitlab_connection_get(tenant=tenant)
    if connection is None:
        raise SyncFailed(f"Tenant {tenant.slug} has no GitLab connection.", run=None)
    try:
        with gitlab_client(connection) as client:
            return _differences(client, connection, tenant)[2]
    except GitLabError as exc:
        raise SyncFailed(str(exc), run=None, retryable=exc.retryable) from None
    except DecryptionError as exc:
        raise SyncFailed(f"The access token cannot be read: {exc}", run=None) from None


def _push(client: GitLabClient, connection: GitLabConnection, tenant: Tenant, run: SyncRun) -> SyncRun:
    branch, wanted, changes = _differences(client, connection, tenant)
    if not changes:
        head = branch["commit"]["id"] if branch else ""
        return sync_run_finish(run, SyncRun.Status.UNCHANGED, commit_sha=head)
    actions = [
        {"action": c.action, "file_path": c.path}
        | ({"content": wanted[c.path], "encoding": "text"} if c.action != "delete" else {})
        for c in changes
    ]
    message = commit_message(tenant, changes, run)
    files = [{"action": c.action, "path": c.path} for c in changes]
    if connection.review_mode and branch is not None:
        source = f"portal-sync/{tenant.slug}-{run.pk}"
        commit = client.create_commit(
            branch=source,
            start_branch=connection.branch,
            message=message,
            actions=actions,
            author_name=AUTHOR_NAME,
            author_email=AUTHOR_EMAIL,
        )
        mr = client.create_merge_request(
            source=source,
            target=connection.branch,
            title=message.split("\n", 1)[0],
            description=message.split("\n\n", 1)[1],
        )
        return sync_run_finish(
            run,
            SyncRun.Status.SUCCEEDED,
            commit_sha=commit["id"],
            commit_url=commit.get("web_url", ""),
            merge_request_url=mr.get("web_url", ""),
            files_changed=files,
        )
    commit = client.create_commit(
        branch=connection.branch,
        message=message,
        actions=actions,
        author_name=AUTHOR_NAME,
        author_email=AUTHOR_EMAIL,
    )
    connection.last_synced_commit = commit["id"]
    connection.save(update_fields=["last_synced_commit", "updated_at"])
    return sync_run_finish(
        run,
        SyncRun.Status.SUCCEEDED,
        commit_sha=commit["id"],
        commit_url=commit.get("web_url", ""),
        files_changed=files,
    )
