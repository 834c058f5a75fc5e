"""Outbound sync to a plain git remote (services/sync_outbound.py's other target): clone the branch, write the export
into the folder the portal owns, and push one commit of what changed, with the git CLI. Credentials are the
environment's (SSH keys or agent, a credential helper); git never prompts."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.core.errors import ApplicationError
from apps.core.services import audit_record
from apps.gitops.models import GitRemote, SyncRun
from apps.gitops.services.sync_common import (
    AUTHOR_EMAIL,
    AUTHOR_NAME,
    Change,
    commit_message,
    owned_by_portal,
    sync_run_finish,
)
from apps.tenants.models import Tenant

# The transports a remote may use: never ext:: (it runs a command) nor anything else git may add.
ALLOWED_PROTOCOLS = "file:git:ssh:http:https"
_ACTIONS = {"A": "create", "M": "update", "D": "delete"}


class GitFailed(Exception):
    pass


def git_remote_set(*, tenant: Tenant, url: str, branch: str = "main", directory: str = "definitions") -> GitRemote:
    """Create or change the tenant's git remote; the remote must answer (git ls-remote) before it is saved."""
    url, branch = url.strip(), branch.strip()
    if not url or url.startswith("-") or "::" in url:
        raise ApplicationError("Give the remote as ssh://…, git@host:repo.git, https://… or a path.", field="url")
    if not branch:
        raise ApplicationError("Give the branch, e.g. main.", field="branch")
    try:
        _git("ls-remote", "--heads", "--", url)
    except GitFailed as exc:
        raise ApplicationError(f"The remote does not answer: {exc}", field="url") from None
    remote = GitRemote.objects.for_tenant(tenant).first() or GitRemote(tenant=tenant)
    remote.url, remote.branch, remote.directory = url, branch, directory.strip().strip("/")
    with transaction.atomic():
        remote.save()
        audit_record(
            action="gitops.git_remote_set",
            obj=remote,
            tenant=tenant,
            changes={"url": url, "branch": branch, "directory": remote.directory},
        )
    return remote


def _git(*args: str, cwd: Path | None = None) -> str:
    executable = shutil.which("git")
    if executable is None:
        raise GitFailed("git is not installed on the portal's machine")
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
        "GIT_AUTHOR_NAME": AUTHOR_NAME,
        "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
        "GIT_COMMITTER_NAME": AUTHOR_NAME,
        "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
    }
    try:
        done = subprocess.run(  # noqa: S603 - git with arguments, no shell
            [executable, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=settings.GITLAB_TIMEOUT_SECONDS * 6,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitFailed(f"git {args[0]} did not finish within {settings.GITLAB_TIMEOUT_SECONDS * 6:g} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise GitFailed(f"git {args[0]} failed: {lines[-1] if lines else f'exit {done.returncode}'}")
    return done.stdout.strip()


def push_to_git_remote(*, remote: GitRemote, files: dict[str, str], run: SyncRun) -> SyncRun:
    """Commit `files` (the export) under the remote's folder and push; nothing when nothing differs."""
    prefix = f"{remote.directory}/" if remote.directory else ""
    with tempfile.TemporaryDirectory(prefix="gitops-") as tmp:
        repo = Path(tmp) / "repo"
        cloned = bool(_git("ls-remote", "--heads", "--", remote.url, remote.branch))
        if cloned:
            _git(
                "clone",
                "--quiet",
                "--depth",
                "1",
                "--single-branch",
                "--branch",
                remote.branch,
                "--",
                remote.url,
                str(repo),
            )
        else:  # an empty remote or a new branch: the first commit starts it
            _git("init", "--quiet", "--initial-branch", remote.branch, str(repo))
            _git("remote", "add", "origin", remote.url, cwd=repo)
        for path in sorted(repo.rglob("*")):
            relative = path.relative_to(repo).as_posix()
            if path.is_file() and not relative.startswith(".git/") and owned_by_portal(relative, remote.directory):
                path.unlink()
        for relative, text in files.items():
            target = repo / prefix / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _git("add", "--all", "--", remote.directory or ".", cwd=repo)
        status = _git("diff", "--cached", "--name-status", "--no-renames", cwd=repo)
        if not status:
            head = _git("rev-parse", "HEAD", cwd=repo) if cloned else ""
            return sync_run_finish(run, SyncRun.Status.UNCHANGED, commit_sha=head)
        changes = [Change(_ACTIONS[line[0]], line.split("\t", 1)[1]) for line in status.splitlines()]
        _git("commit", "--quiet", "--no-verify", "-m", commit_message(remote.tenant, changes, run), cwd=repo)
        _git("push", "--quiet", "origin", f"HEAD:refs/heads/{remote.branch}", cwd=repo)
        sha = _git("rev-parse", "HEAD", cwd=repo)
    remote.last_synced_commit = sha
    remote.save(update_fields=["last_synced_commit", "updated_at"])
    return sync_run_finish(
        run,
        SyncRun.Status.SUCCEEDED,
        commit_sha=sha,
        files_changed=[{"action": c.action, "path": c.path} for c in changes],
    )
