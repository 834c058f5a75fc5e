"""manage.py gitops plan DIR [--prune]: print what apply would change; exit 2 when something would, 0 when not
(like `terraform plan -detailed-exitcode`), 1 when the files are invalid."""

from __future__ import annotations

from typing import Any

from apps.gitops.cli._common import INVALID, load_dir, print_invalid
from apps.gitops.services import DefinitionsInvalid, definitions_plan

HELP = "show what applying DIR would create, change and delete (exit 2: changes, 0: none, 1: invalid files)"
CHANGES = 2


def add_arguments(parser: Any) -> None:
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--prune", action="store_true", help="also list what the files no longer have")


def run(command: Any, *, directory: str, prune: bool, **options: Any) -> int:
    definitions = load_dir(command, directory)
    if definitions is None:
        return INVALID
    try:
        plan = definitions_plan(tenant_slug=definitions.tenant_slug, definitions=definitions, prune=prune)
    except DefinitionsInvalid as exc:
        print_invalid(command, exc)
        return INVALID
    command.stdout.write(plan.render(), ending="")
    return CHANGES if plan.has_changes else 0
