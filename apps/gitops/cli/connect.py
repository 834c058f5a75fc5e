"""manage.py gitops connect --tenant SLUG --gitlab-url URL --project PATH [--branch main] --token-env VAR
[--webhook-secret-env VAR]: connect a tenant to a GitLab project (checked with the token before it is saved)."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError

from apps.core.errors import ApplicationError
from apps.gitops.services.sync_connection import gitlab_connection_set
from apps.tenants.models import Tenant

HELP = "connect a tenant to a GitLab project; the token is read from an environment variable, never an argument"


def add_arguments(parser: Any) -> None:
    parser.add_argument("--tenant", required=True, metavar="SLUG")
    parser.add_argument("--gitlab-url", required=True, metavar="URL", help="e.g. https://gitlab.com")
    parser.add_argument("--project", required=True, metavar="PATH", help="group/name or the numeric project id")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--directory", default="definitions", help="the repository folder the portal owns")
    parser.add_argument("--token-env", required=True, metavar="VAR", help="the variable holding the access token")
    parser.add_argument("--webhook-secret-env", metavar="VAR", help="the variable holding the webhook secret")
    parser.add_argument("--review", action="store_true", help="push a branch and open a merge request per sync")


def _from_env(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise CommandError(f"The variable {name} is empty or unset: it must hold the {what}.")
    return value


def run(
    command: Any,
    *,
    tenant: str,
    gitlab_url: str,
    project: str,
    branch: str,
    directory: str,
    token_env: str,
    webhook_secret_env: str | None,
    review: bool,
    **options: Any,
) -> int:
    found = Tenant.objects.filter(slug=tenant).first()
    if found is None:
        raise CommandError(f"No tenant {tenant!r}.")
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
        )
    except ApplicationError as exc:
        field = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
        raise CommandError(f"{field}{exc.message}") from None
    command.stdout.write(f"Tenant {tenant} is connected to {connection}.")
    command.stdout.write("Webhook URL for GitLab (Settings > Webhooks, push events): /api/v1/gitops/gitlab/webhook")
    return 0
