"""What the outbound targets (GitLab's API, a plain git remote) and the inbound sync share: the portal's commit
trailer and message, which repository files the portal owns, and finishing a run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from apps.gitops.models import SyncRun
from apps.gitops.services.backstage import FOLDER as BACKSTAGE_FOLDER
from apps.gitops.services.load import is_definition_file
from apps.tenants.models import Tenant

TRAILER = "Portal-Sync"
AUTHOR_NAME, AUTHOR_EMAIL = "AI Gateway Portal", "portal-sync@noreply.invalid"


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


def commit_message(tenant: Tenant, changes: list[Change], run: SyncRun) -> str:
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
