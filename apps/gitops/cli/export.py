"""manage.py gitops export DIR --tenant SLUG: write the tenant's definition files (stale ones removed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from apps.gitops.services import definitions_export, files_write
from apps.tenants.models import Tenant

HELP = "write a tenant's definitions (the tenant itself included) as YAML files into DIR"


def add_arguments(parser: Any) -> None:
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--tenant", required=True, metavar="SLUG")


def run(command: Any, *, directory: str, tenant: str, **options: Any) -> int:
    found = Tenant.objects.filter(slug=tenant).first()
    if found is None:
        raise CommandError(f"No tenant {tenant!r}.")
    files = definitions_export(tenant=found)
    files_write(directory, files)
    command.stdout.write(f"Wrote {len(files)} files of tenant {tenant} to {directory}.")
    return 0
