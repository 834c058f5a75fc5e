"""manage.py gitops connect --tenant SLUG --gitlab-url URL --project PATH [--branch main] --token-env VAR
[--webhook-secret-env VAR]: connect a tenant to a GitLab project (checked with the token before it is saved).
Or --git-remote URL [--branch main]: a plain git remote instead, pushed with the git CLI."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError

from apps.core.errors import ApplicationError
from apps.gitops.services.sync_connection import gitlab_connection_set
from apps.gitops.services.sync_git import git_remote_set
from apps.tenants.models import Tenant

HELP = "connect a tenant to a GitLab project; the token is read from an environment variable, never an argument"


def add_arguments(parser: Any) -> None:
    parser.add_argument("--tenant", required=True, metavar="SLUG")
    parser.add_argument("--gitlab-url", metavar="URL", help="e.g. https://gitlab.com")
    parser.add_argument("--project", metavar="PATH", help="group/name or the numeric project id")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--directory", default="definitions", help="the repository folder the portal owns")
    parser.add_argument("--token-env", metavar="VAR", help="the variable holding the access token")
    parser.add_argument("--webhook-secret-env", metavar="VAR", help="the variable holding the webhook secret")
    parser.add_argument("--review", action="store_true", help="push a branch and open a merge request per sync")
    parser.add_argument(
        "--gitops-mode",
        action="store_true",
        help="edits of services, prompts, routes and plans in the web UI open merge requests instead of saving",
    )
    parser.add_argument(
        "--git-remote",
        metavar="URL",
        help="instead of GitLab: a git remote (ssh://, git@host:repo.git, https://, a path)",
    )


def _from_env(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise CommandError(f"The variable {name} is empty or unset: it must hold the {what}.")
    return value


def _connect_git(command: Any, tenant: Tenant, url: str, branch: str, directory: str) -> int:
    try:
        remote = git_remote_set(tenant=tenant, url=url, branch=branch, directory=directory)
    except ApplicationError as exc:
        raise CommandError(f"--git-remote: {exc.message}" if exc.field == "url" else exc.message) from None
    command.stdout.write(f"Tenant {tenant.slug} syncs to the git remote {remote}.")
    return 0


def run(
    command: Any,
    *,
    tenant: str,
    gitlab_url: str | None,
    project: str | None,
    branch: str,
    directory: str,
    token_env: str | None,
    webhook_secret_env: str | None,
    review: bool,
    gitops_mode: bool,
    git_remote: str | None,
    **options: Any,
) -> int:
    found = Tenant.objects.filter(slug=tenant).first()
    if found is None:
        raise CommandError(f"No tenant {tenant!r}.")
    if git_remote:
        return _connect_git(command, found, git_remote, branch, directory)
    missing = [
        f"--{name}"
        for name, value in (("gitlab-url", gitlab_url), ("project", project), ("token-env", token_env))
        if not value
    ]
    if missing:
        raise CommandError(f"Give {', '.join(missing)} (or --git-remote).")
    token = _from_env(token_env, "GitLab access token")
    secret = _from_env(webhook_secret_env, "webhook secret") if webhook_secret_env else None
    try:
        connection = gitlab_connection_set(
            tenant=found,
            gitlab_url=gitlab_url,
            project=project,
            branch=branch,
            directory=directory,
            token=token,
            webhook_secret=secret,
            review_mode=review,
            gitops_mode=gitops_mode,
        )
    except ApplicationError as exc:
        field = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
        raise CommandError(f"{field}{exc.message}") from None
    command.stdout.write(f"Tenant {tenant} is connected to {connection}.")
    if connection.gitops_mode:
        command.stdout.write("GitOps mode: edits in the web UI open merge requests instead of saving.")
    command.stdout.write("Webhook URL for GitLab (Settings > Webhooks, push events): /api/v1/gitops/gitlab/webhook")
    return 0
