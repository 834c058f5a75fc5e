"""Inbound sync: the definition files of a commit on the connected branch, read through GitLab's API, applied to
the tenant in one transaction (or, in review mode, planned and kept for an admin to apply). Invalid files leave
the database as it was and the problems (file, path, message) in the run."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.crypto import DecryptionError
from apps.core.errors import ApplicationError
from apps.gitops.gitlab import GitLabError
from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services.apply import definitions_apply
from apps.gitops.services.load import DefinitionsInvalid, definitions_load
from apps.gitops.services.plan import definitions_plan
from apps.gitops.services.sync_common import owned_by_portal, sync_run_finish
from apps.gitops.services.sync_connection import gitlab_client
from apps.gitops.services.sync_trigger import applying_inbound


def _read_files(connection: GitLabConnection, sha: str) -> dict[str, str]:
    prefix = f"{connection.directory}/" if connection.directory else ""
    with gitlab_client(connection) as client:
        blobs = client.list_blobs(ref=sha, path=connection.directory)
        owned = sorted(path for path in blobs if owned_by_portal(path, connection.directory))
        return {path[len(prefix) :]: client.read_file(path=path, ref=sha) for path in owned}


def _apply(connection: GitLabConnection, sha: str, run: SyncRun, *, review: bool, actor_user: Any = None) -> SyncRun:
    tenant = connection.tenant
    try:
        definitions = definitions_load(files=_read_files(connection, sha))
        plan = definitions_plan(tenant_slug=tenant.slug, definitions=definitions, prune=True)
        if not plan.has_changes:
            return sync_run_finish(run, SyncRun.Status.UNCHANGED, plan=plan.render())
        if review:
            return sync_run_finish(run, SyncRun.Status.AWAITING_REVIEW, plan=plan.render())
        with applying_inbound():
            plan = definitions_apply(definitions=definitions, prune=True, actor_user=actor_user, source="system")
    except DefinitionsInvalid as exc:
        return sync_run_finish(run, SyncRun.Status.FAILED, error="\n".join(str(e) for e in exc.errors))
    except GitLabError as exc:
        return sync_run_finish(run, SyncRun.Status.FAILED, error=str(exc))
    except DecryptionError as exc:
        return sync_run_finish(run, SyncRun.Status.FAILED, error=f"The access token cannot be read: {exc}")
    except ApplicationError as exc:
        return sync_run_finish(run, SyncRun.Status.FAILED, error=exc.message)
    connection.last_synced_commit = sha
    connection.save(update_fields=["last_synced_commit", "updated_at"])
    files = [{"action": c.action, "path": c.path} for c in plan.changes]
    return sync_run_finish(run, SyncRun.Status.SUCCEEDED, plan=plan.render(), files_changed=files)


def sync_in(*, connection: GitLabConnection, sha: str, trigger: str, commit_url: str = "") -> SyncRun:
    """Apply the commit `sha` of the connected branch to the tenant (review mode: plan it and wait)."""
    run = SyncRun.objects.create(
        tenant=connection.tenant,
        direction=SyncRun.Direction.IN,
        trigger=trigger,
        started_at=timezone.now(),
        commit_sha=sha,
        commit_url=commit_url,
    )
    return _apply(connection, sha, run, review=connection.review_mode)


def sync_review_apply(*, run: SyncRun, actor_user: Any) -> SyncRun:
    """An admin applies a planned inbound commit. The files are read again at that commit, so what is applied is
    what the commit holds, planned afresh against today's database."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.status != SyncRun.Status.AWAITING_REVIEW:
            raise ApplicationError("This sync is not waiting for review.")
        run.status = SyncRun.Status.RUNNING
        run.save(update_fields=["status", "updated_at"])
    connection = GitLabConnection.objects.for_tenant(run.tenant).get()
    return _apply(connection, run.commit_sha, run, review=False, actor_user=actor_user)
