"""manage.py gitops sync --tenant SLUG [--wait]: send the tenant's definitions to its GitLab project. With --wait
the sync runs here and prints the commit (or that nothing changed); without, it is queued for a Celery worker."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from apps.gitops.models import SyncRun
from apps.gitops.services.sync_outbound import SyncFailed, sync_out
from apps.gitops.tasks import sync_out_task
from apps.tenants.models import Tenant

HELP = "commit the tenant's changed definitions to its GitLab project (--wait: here and now, printing the commit)"
FAILED = 1


def add_arguments(parser: Any) -> None:
    parser.add_argument("--tenant", required=True, metavar="SLUG")
    parser.add_argument("--wait", action="store_true", help="run the sync in this process and print its outcome")


def run(command: Any, *, tenant: str, wait: bool, **options: Any) -> int:
    found = Tenant.objects.filter(slug=tenant).first()
    if found is None:
        raise CommandError(f"No tenant {tenant!r}.")
    if not wait:
        result = sync_out_task.delay(found.pk, SyncRun.Trigger.MANUAL)
        command.stdout.write(f"Sync of tenant {tenant} queued (task {result.id}).")
        return 0
    try:
        run = sync_out(tenant=found, trigger=SyncRun.Trigger.MANUAL)
    except SyncFailed as exc:
        command.stderr.write(f"Sync of tenant {tenant} failed: {exc.message}")
        return FAILED
    if run.status == SyncRun.Status.UNCHANGED:
        command.stdout.write(f"Nothing changed: GitLab already holds tenant {tenant}'s definitions.")
    elif run.merge_request_url:
        command.stdout.write(
            f"Committed {run.commit_sha} ({len(run.files_changed)} files) for review: {run.merge_request_url}"
        )
    else:
        where = f": {run.commit_url}" if run.commit_url else ""
        command.stdout.write(f"Committed {run.commit_sha} ({len(run.files_changed)} files){where}")
    return 0
