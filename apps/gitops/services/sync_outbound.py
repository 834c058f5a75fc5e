"""Outbound sync: the tenant's definitions, exported, reach its GitLab project as one commit of exactly the files
that differ (or a branch and a merge request in review mode), or nothing at all when none differs.

The portal's commits carry a `Portal-Sync: <run id>` trailer, so that their push events are recognised and not
applied back (services/webhook.py). The portal owns the definition files under the connection's folder only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from apps.core.crypto import DecryptionError
from apps.core.errors import ApplicationError
from apps.gitops.gitlab import GitLabClient, GitLabError
from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services import definitions_export
from apps.gitops.services.backstage import FOLDER as BACKSTAGE_FOLDER
from apps.gitops.services.load import is_definition_file
from apps.gitops.services.sync_connection import gitlab_client, gitlab_connection_get
from apps.tenants.models import Tenant

TRAILER = "Portal-Sync"
AUTHOR_NAME, AUTHOR_EMAIL = "AI Gateway Portal", "portal-sync@noreply.invalid"
LOCK_SECONDS = 300  # longer than any sync: calls time out well before


class SyncFailed(ApplicationError):
    """A sync that failed, recorded in `run`; `retryable` when trying again later may work."""

    def __init__(self, message: str, *, run: SyncRun | None, retryable: bool = False) -> None:
        super().__init__(message)
        self.run = run
        self.retryable = retryable


@dataclass(frozen=True)
class Change:
    action: str  # create, update, delete
    path: str


def blob_id(text: str) -> str:
    """Git's object id of a file's content: what GitLab's tree reports, so unchanged files need not be read."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def owned_by_portal(path: str, directory: str) -> bool:
    """Whether the sync manages this repository file: a definition (or Backstage) file under the folder."""
    prefix = f"{directory}/" if directory else ""
    if not path.startswith(prefix):
        return False
    relative = path[len(prefix) :]
    return is_definition_file(relative) or relative.startswith(f"{BACKSTAGE_FOLDER}/")


def changes_between(current: dict[str, str], wanted: dict[str, str]) -> list[Change]:
    """The actions that make `current` ({path: blob id}) hold `wanted` ({path: text}), sorted by path."""
    changes = [Change("create", p) for p in wanted if p not in current]
    changes += [Change("update", p) for p in wanted if p in current and current[p] != blob_id(wanted[p])]
    changes += [Change("delete", p) for p in current if p not in wanted]
    return sorted(changes, key=lambda c: c.path)


def _commit_message(tenant: Tenant, changes: list[Change], run: SyncRun) -> str:
    words = {"create": "added", "update": "changed", "delete": "deleted"}
    counts = {word: sum(c.action == action for c in changes) for action, word in words.items()}
    summary = ", ".join(f"{n} {word}" for word, n in counts.items() if n)
    lines = [f"{'+' if c.action == 'create' else '-' if c.action == 'delete' else '~'} {c.path}" for c in changes]
    return (
        f"Portal sync of {tenant.slug}: {summary}\n\n"
        f"Definitions exported by the portal ({run.get_trigger_display().lower()}).\n\n"
        + "\n".join(lines)
        + f"\n\n{TRAILER}: {run.pk}"
    )


def sync_run_finish(run: SyncRun, status: str, **fields: Any) -> SyncRun:
    run.status = status
    run.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()
    return run


def sync_out(*, tenant: Tenant, trigger: str) -> SyncRun:
    """Export the tenant and commit what differs. Raises SyncFailed (the failure recorded in its run) when the
    tenant has no enabled connection, another sync runs, or GitLab fails. A scheduled or save-triggered sync that
    finds nothing to do leaves no history row (a manual one does: the person asked)."""
    connection = gitlab_connection_get(tenant=tenant)
    if connection is None or not connection.enabled:
        raise SyncFailed(f"Tenant {tenant.slug} has no enabled GitLab connection.", run=None)
    lock = f"gitops:sync-lock:{tenant.pk}"
    if not cache.add(lock, 1, timeout=LOCK_SECONDS):
        raise SyncFailed("Another sync of this tenant is running; try again shortly.", run=None, retryable=True)
    run = SyncRun.objects.create(
        tenant=tenant, direction=SyncRun.Direction.OUT, trigger=trigger, started_at=timezone.now()
    )
    try:
        with gitlab_client(connection) as client:
            run = _push(client, connection, tenant, run)
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


def _push(client: GitLabClient, connection: GitLabConnection, tenant: Tenant, run: SyncRun) -> SyncRun:
    prefix = f"{connection.directory}/" if connection.directory else ""
    wanted = {prefix + path: text for path, text in definitions_export(tenant=tenant).items()}
    branch = client.get_branch(connection.branch)
    current = {}
    if branch is not None:
        blobs = client.list_blobs(ref=connection.branch, path=connection.directory)
        current = {path: blob for path, blob in blobs.items() if owned_by_portal(path, connection.directory)}
    changes = changes_between(current, wanted)
    if not changes:
        head = branch["commit"]["id"] if branch else ""
        return sync_run_finish(run, SyncRun.Status.UNCHANGED, commit_sha=head)
    actions = [
        {"action": c.action, "file_path": c.path}
        | ({"content": wanted[c.path], "encoding": "text"} if c.action != "delete" else {})
        for c in changes
    ]
    message = _commit_message(tenant, changes, run)
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
