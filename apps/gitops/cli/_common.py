"""What the export, plan and apply subcommands share: reading a directory and printing refusals."""

from __future__ import annotations

from typing import Any

from apps.core.errors import ApplicationError
from apps.gitops.services import Definitions, DefinitionsInvalid, definitions_load, files_read

INVALID = 1


def load_dir(command: Any, directory: str) -> Definitions | None:
    """The directory's definitions, or None after printing one `file: path: problem` line per problem."""
    try:
        return definitions_load(files=files_read(directory))
    except DefinitionsInvalid as exc:
        print_invalid(command, exc)
    except ApplicationError as exc:
        command.stderr.write(exc.message)
    return None


def print_invalid(command: Any, exc: DefinitionsInvalid) -> None:
    for error in exc.errors:
        command.stderr.write(str(error))
