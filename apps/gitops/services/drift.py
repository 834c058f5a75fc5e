"""The stored drift of a tenant: what differs between its database and its GitLab branch, checked by a Celery
task (on a schedule and after each sync) and kept on the connection, so that the banner of every page reads one
row instead of asking GitLab."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from django.utils import timezone

from apps.gitops.models import GitLabConnection
from apps.gitops.services.sync_connection import gitlab_connection_get
from apps.gitops.services.sync_outbound import SyncFailed, sync_drift
from apps.tenants.models import Tenant

ACTIONS = {"create": "only in the portal", "update": "changed", "delete": "only in GitLab"}


@dataclass(frozen=True)
class DriftItem:
    action: str  # create (only in the portal), update (both, different), delete (only in GitLab)
    path: str  # in the repository
    label: str  # the object the file defines, in words

    @property
    def action_label(self) -> str:
        return ACTIONS.get(self.action, self.action)


def drift_check(*, tenant: Tenant) -> GitLabConnection | None:
    """Compare the tenant's database with its branch and store the outcome on its connection (the error instead,
    the previous differences kept, when GitLab cannot be asked). None: the tenant has no connection."""
    connection = gitlab_connection_get(tenant=tenant)
    if connection is None:
        return None
    try:
        changes = sync_drift(tenant=tenant)
    except SyncFailed as exc:
        connection.drift_error = exc.message
    else:
        connection.drift = [{"action": c.action, "path": c.path} for c in changes]
        connection.drift_error = ""
    connection.drift_checked_at = timezone.now()
    connection.save(update_fields=["drift", "drift_error", "drift_checked_at", "updated_at"])
    return connection


def file_label(path: str) -> str:
    """The object a definition file (a path inside the folder) defines, in words."""
    parts = path.removesuffix(".yaml").split("/")
    match parts:
        case ["tenant"]:
            return "the tenant's settings"
        case ["limits"]:
            return "the tenant's limits"
        case ["providers", slug]:
            return f"provider {slug}"
        case ["routes", name]:
            return f"route {unquote(name)}"
        case ["services", slug]:
            return f"service {slug}"
        case ["prompts", slug, "prompt"]:
            return f"prompt {slug}"
        case ["prompts", slug, "tests"]:
            return f"the test cases of prompt {slug}"
        case ["prompts", slug, version] if version.startswith("v") and version[1:].isdigit():
            return f"prompt {slug}, version {version[1:]}"
        case ["catalog-info", name]:
            return f"Backstage entity {name}"
    return path


def drift_items(connection: GitLabConnection) -> list[DriftItem]:
    """The differences of the connection's last check, each with the object its file defines."""
    prefix = f"{connection.directory}/" if connection.directory else ""
    return [
        DriftItem(item["action"], item["path"], file_label(item["path"].removeprefix(prefix)))
        for item in connection.drift
    ]


def stored_drift(*, tenant: Tenant) -> list[DriftItem]:
    """The differences the last check found for the tenant's enabled connection ([] when none, or no connection)."""
    connection = (
        GitLabConnection.objects.for_tenant(tenant).filter(enabled=True).only("drift", "directory", "tenant").first()
    )
    return drift_items(connection) if connection is not None else []
