"""Celery tasks of the GitLab sync: thin wrappers over services/sync_outbound.py."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.core.cache import cache

from apps.gitops.models import GitLabConnection, GitRemote, SyncRun
from apps.gitops.services.drift import drift_check
from apps.gitops.services.sync_inbound import sync_in
from apps.gitops.services.sync_outbound import SyncFailed, sync_out
from apps.gitops.services.sync_trigger import pending_key
from apps.tenants.models import Tenant

RETRY_BACKOFF_SECONDS = 30  # then 60, 120, 240: GitLab down or rate-limiting for minutes


@shared_task(name="gitops.sync_out", bind=True, max_retries=4)
def sync_out_task(self: Any, tenant_id: int, trigger: str) -> dict[str, Any]:
    cache.delete(pending_key(tenant_id))  # edits from now on queue the next sync
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return {"status": "skipped", "error": "tenant deleted"}
    try:
        run = sync_out(tenant=tenant, trigger=trigger)
    except SyncFailed as exc:
        # Eagerly (no broker) a retry would run at once, not later: the next save or schedule tries again.
        if exc.retryable and not self.request.is_eager and self.request.retries < self.max_retries:
            raise self.retry(countdown=RETRY_BACKOFF_SECONDS * 2**self.request.retries) from None
        return {"run_id": exc.run.pk if exc.run else None, "status": SyncRun.Status.FAILED, "error": exc.message}
    drift_check_task.delay(tenant_id)  # the branch moved (or was found equal): the banner follows
    return {
        "run_id": run.pk,
        "status": run.status,
        "commit_sha": run.commit_sha,
        "commit_url": run.commit_url,
        "merge_request_url": run.merge_request_url,
        "files_changed": run.files_changed,
    }


@shared_task(name="gitops.sync_scheduled")
def sync_scheduled() -> int:
    """Beat: one sync per tenant with an enabled connection or remote, so changes made around the portal's services
    still reach the repository."""
    tenant_ids = sorted(
        set(GitLabConnection.objects.filter(enabled=True).values_list("tenant_id", flat=True))
        | set(GitRemote.objects.filter(enabled=True).values_list("tenant_id", flat=True))
    )
    for tenant_id in tenant_ids:
        sync_out_task.delay(tenant_id, SyncRun.Trigger.SCHEDULE)
    return len(tenant_ids)


@shared_task(name="gitops.sync_in")
def sync_in_task(connection_id: int, sha: str, commit_url: str) -> dict[str, Any]:
    """A push event's commit, applied out of the webhook's request (GitLab waits 10 s for an answer at most)."""
    connection = GitLabConnection.objects.select_related("tenant").filter(pk=connection_id, enabled=True).first()
    if connection is None:
        return {"status": "skipped", "error": "connection removed or disabled"}
    run = sync_in(connection=connection, sha=sha, trigger=SyncRun.Trigger.WEBHOOK, commit_url=commit_url)
    drift_check_task.delay(connection.tenant_id)
    return {"run_id": run.pk, "status": run.status, "error": run.error}


@shared_task(name="gitops.drift_check")
def drift_check_task(tenant_id: int) -> dict[str, Any]:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    connection = drift_check(tenant=tenant) if tenant is not None else None
    if connection is None:
        return {"status": "skipped"}
    return {"drift": connection.drift, "error": connection.drift_error}


@shared_task(name="gitops.drift_scheduled")
def drift_scheduled() -> int:
    """Beat: a drift check per tenant with an enabled GitLab connection (pushes without a webhook, edits made
    around the portal's services)."""
    tenant_ids = sorted(GitLabConnection.objects.filter(enabled=True).values_list("tenant_id", flat=True))
    for tenant_id in tenant_ids:
        drift_check_task.delay(tenant_id)
    return len(tenant_ids)
