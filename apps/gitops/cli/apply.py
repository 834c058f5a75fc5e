"""manage.py gitops apply DIR [--prune] [--owner USERNAME]: make the tenant match DIR in one transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from apps.gitops.cli._common import INVALID, load_dir, print_invalid
from apps.gitops.services import DefinitionsInvalid, definitions_apply

HELP = "apply DIR: create and change what differs (--prune: delete what the files no longer have)"


def add_arguments(parser: Any) -> None:
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--prune", action="store_true", help="delete what the files no longer have")
    parser.add_argument("--owner", metavar="USERNAME", help="owner of the tenant when the files create it")


def run(command: Any, *, directory: str, prune: bool, owner: str | None, **options: Any) -> int:
    user = None
    if owner:
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"No user {owner!r}.")
    definitions = load_dir(command, directory)
    if definitions is None:
        return INVALID
    try:
        plan = definitions_apply(definitions=definitions, prune=prune, actor_user=user, source="cli")
    except DefinitionsInvalid as exc:
        print_invalid(command, exc)
        command.stderr.write("Nothing was applied.")
        return INVALID
    if plan.has_changes:
        command.stdout.write(plan.render(), ending="")
        command.stdout.write(f"Applied to tenant {definitions.tenant_slug}.")
    else:
        command.stdout.write(plan.render(), ending="")
    return 0
