"""GitOps mode: an edit made in the web UI becomes a merge request instead of a write.

The edit runs as usual inside a transaction that is rolled back (apps/gitops/web.py); what it would have changed
is the difference between the tenant's export before and after it. That difference becomes one commit on a new
branch from the connection's branch and a merge request with a readable description (who, from which page, the
diff). The commit carries no Portal-Sync trailer: once merged, the push event applies it like any person's."""

from __future__ import annotations

import difflib
import secrets
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from apps.core.crypto import DecryptionError
from apps.core.errors import ApplicationError
from apps.gitops.gitlab import GitLabError
from apps.gitops.models import GitLabConnection
from apps.gitops.services.drift import ACTIONS, file_label
from apps.gitops.services.sync_common import AUTHOR_EMAIL, AUTHOR_NAME
from apps.gitops.services.sync_connection import gitlab_client
from apps.tenants.models import Tenant

DIFF_LIMIT = 60_000  # characters of diff in a description; the commit holds all of it


@dataclass(frozen=True)
class Proposal:
    iid: int
    url: str
    branch: str
    files: list[dict[str, str]]  # [{"action", "path"}] inside the connection's folder


def gitops_mode_connection(*, tenant: Tenant) -> GitLabConnection | None:
    """The tenant's connection when its web edits are to become merge requests."""
    return GitLabConnection.objects.for_tenant(tenant).filter(enabled=True, gitops_mode=True).first()


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[dict[str, str]]:
    """[{"action", "path"}] of the files that differ between two exports, sorted by path."""
    result = []
    for path in sorted(before.keys() | after.keys()):
        if before.get(path) != after.get(path):
            action = "create" if path not in before else "delete" if path not in after else "update"
            result.append({"action": action, "path": path})
    return result


def _description(
    files: list[dict[str, str]], before: dict[str, str], after: dict[str, str], author: str, page: str
) -> str:
    lines = [f"Proposed by **{author}** on the portal's page `{page}` (GitOps mode: nothing is saved until this merge"]
    lines[0] += " request is merged; the push event then applies it)."
    lines += ["", "## What changes", ""]
    lines += [f"- {file_label(f['path'])}: {ACTIONS[f['action']]} (`{f['path']}`)" for f in files]
    diff = "".join(
        "".join(
            difflib.unified_diff(
                before.get(f["path"], "").splitlines(keepends=True),
                after.get(f["path"], "").splitlines(keepends=True),
                fromfile=f"a/{f['path']}" if f["action"] != "create" else "/dev/null",
                tofile=f"b/{f['path']}" if f["action"] != "delete" else "/dev/null",
            )
        )
        for f in files
    )
    if len(diff) > DIFF_LIMIT:
        diff = diff[:DIFF_LIMIT] + "\n… (cut: the commit holds the whole change)\n"
    return "\n".join([*lines, "", "## Plan", "", "```diff", diff.rstrip("\n"), "```", ""])


def proposal_open(
    *, connection: GitLabConnection, before: dict[str, str], after: dict[str, str], author: str, page: str
) -> Proposal:
    """Open a merge request that makes the connection's branch hold `after` where it differs from `before` (two
    exports of the tenant). Raises ApplicationError when GitLab refuses or cannot be reached."""
    files = changed_files(before, after)
    if not files:
        raise ApplicationError("The edit changes no definition file.")
    prefix = f"{connection.directory}/" if connection.directory else ""
    tenant = connection.tenant
    source = f"portal-edit/{tenant.slug}-{timezone.now():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    labels = [f"{file_label(f['path'])} {ACTIONS[f['action']]}" for f in files]
    title = f"Portal edit by {author}: {labels[0]}" + (f" and {len(labels) - 1} more" if len(labels) > 1 else "")
    try:
        with gitlab_client(connection) as client:
            if client.get_branch(connection.branch) is None:
                message = f"GitLab has no branch {connection.branch!r} yet: sync once from the GitLab page first."
                raise ApplicationError(message)
            on_branch = client.list_blobs(ref=connection.branch, path=connection.directory)
            actions: list[dict[str, Any]] = []
            for f in files:
                path = prefix + f["path"]
                if f["path"] in after:
                    action = "update" if path in on_branch else "create"
                    actions.append(
                        {"action": action, "file_path": path, "content": after[f["path"]], "encoding": "text"}
                    )
                elif path in on_branch:
                    actions.append({"action": "delete", "file_path": path})
            client.create_commit(
                branch=source,
                start_branch=connection.branch,
                message=f"{title}\n\n" + "\n".join(f"- {label}" for label in labels),
                actions=actions,
                author_name=AUTHOR_NAME,
                author_email=AUTHOR_EMAIL,
            )
            mr = client.create_merge_request(
                source=source,
                target=connection.branch,
                title=title,
                description=_description(files, before, after, author, page),
            )
    except GitLabError as exc:
        raise ApplicationError(f"GitLab refused the merge request: {exc}") from None
    except DecryptionError as exc:
        raise ApplicationError(f"The access token cannot be read: {exc}") from None
    return Proposal(iid=int(mr["iid"]), url=str(mr.get("web_url", "")), branch=source, files=files)
