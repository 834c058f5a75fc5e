"""manage.py gitops <subcommand>: definitions as code. The subcommands live in apps/gitops/cli/."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from apps.core.audit import AuditContext, audit_context
from apps.gitops.cli import subcommands


class Command(BaseCommand):
    help = "Definitions as code: export, plan and apply a tenant's YAML definitions; GitLab connection and sync."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        for name, module in subcommands().items():
            module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        with audit_context(AuditContext(source="cli", actor_label=f"manage.py gitops {subcommand}")):
            code = subcommands()[subcommand].run(self, **options)
        if code:
            sys.exit(code)
