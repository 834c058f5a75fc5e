"""The subcommands of `manage.py gitops`: one module each in this package, found by name (G2's connect and sync
sit next to export, plan and apply). A module defines:

    HELP: str                                   one line for `manage.py gitops --help`
    def add_arguments(parser) -> None           its own arguments
    def run(command, **options) -> int          the exit code (0 fine, 1 refused input, 2 plan with changes)

`command` is the Django BaseCommand: write with command.stdout / command.stderr."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def subcommands() -> dict[str, ModuleType]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            found[info.name] = importlib.import_module(f"{__name__}.{info.name}")
    return found
