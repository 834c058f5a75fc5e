"""Reading definition files: YAML, apiVersion and kind, secrets in clear, the JSON Schema, where each file
belongs, duplicates and references. Every problem is collected (file, path inside it, message) before refusing, so
one run shows them all; nothing here touches the database."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

from apps.core.errors import ApplicationError
from apps.gitops.services.backstage import FOLDER as BACKSTAGE_FOLDER
from apps.gitops.services.documents import API_VERSION, KINDS, TENANT, Document, document, path_for
from apps.gitops.services.references import reference_errors
from apps.gitops.services.secrets import secret_problems
from apps.gitops.services.yamltext import yaml_load

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "definitions.schema.json"


@dataclass(frozen=True)
class DefinitionError:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '(document)'}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "message": self.message}


class DefinitionsInvalid(ApplicationError):
    """The files cannot be applied; `errors` names each file, path and problem."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        super().__init__(
            f"{len(errors)} problem(s) in the definitions: " + "; ".join(str(e) for e in errors[:5]),
            extra={"errors": [e.as_dict() for e in errors]},
        )
        self.errors = errors


@dataclass(frozen=True)
class Definitions:
    """A tenant's definitions as validated documents, keyed by (kind, key), in creation order."""

    tenant_slug: str
    documents: dict[tuple[str, str], Document] = field(default_factory=dict)


@cache
def definitions_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@cache
def _validator(kind: str) -> Draft202012Validator:
    schema = definitions_schema()
    return Draft202012Validator({"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]}, format_checker=FormatChecker())


def json_path(parts: Any) -> str:
    """`plans[0].slug` for the parts of a location inside a document."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def is_definition_file(path: str) -> bool:
    """YAML files outside hidden folders (.gitlab-ci.yml) and the Backstage folder."""
    parts = PurePosixPath(path).parts
    return (
        path.endswith((".yaml", ".yml"))
        and not any(part.startswith(".") for part in parts)
        and parts[0] != BACKSTAGE_FOLDER
    )


def _dates_as_text(value: Any) -> Any:
    # An unquoted 2027-01-31 reads as a date; the format keeps dates as ISO text.
    if isinstance(value, dict):
        return {key: _dates_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(item) for item in value]
    return value.isoformat() if isinstance(value, date) else value


def _parse(path: str, text: str) -> tuple[Document | None, list[DefinitionError]]:
    try:
        data = yaml_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [DefinitionError(path, "", f"not valid YAML: {where}{problem}")]
    if not isinstance(data, dict):
        return None, [DefinitionError(path, "", "a definition file holds one YAML mapping")]
    if data.get("apiVersion") != API_VERSION:
        return None, [
            DefinitionError(path, "apiVersion", f"unknown apiVersion {data.get('apiVersion')!r}: use {API_VERSION}")
        ]
    kind = data.get("kind")
    if kind not in KINDS:
        return None, [DefinitionError(path, "kind", f"unknown kind {kind!r}: one of {', '.join(KINDS)}")]
    data = _dates_as_text(data)
    errors = [DefinitionError(path, where, message) for where, message in secret_problems(kind, data)]
    if errors:
        return None, errors
    schema_errors = sorted(_validator(kind).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    errors = [DefinitionError(path, json_path(e.absolute_path), e.message) for e in schema_errors]
    if errors:
        return None, errors
    doc = document(kind, data)
    if doc.path != path:
        return None, [DefinitionError(path, "", f"a {kind} {doc.key!r} belongs in {path_for(kind, doc.key)}")]
    return doc, []


def definitions_load(*, files: Mapping[str, str]) -> Definitions:
    """Parse and validate a tenant's files (relative path → text); raises DefinitionsInvalid listing every problem."""
    errors: list[DefinitionError] = []
    found: dict[tuple[str, str], Document] = {}
    for path in sorted(files):
        if not is_definition_file(path):
            continue
        doc, problems = _parse(path, files[path])
        errors += problems
        if doc is None:
            continue
        # Each object has exactly one path (checked above), so two files never define the same one.
        found[doc.kind, doc.key] = doc
    tenants = [doc for doc in found.values() if doc.kind == TENANT]
    if not tenants and not errors:
        errors.append(DefinitionError(path_for(TENANT, ""), "", "missing: the files must define their tenant"))
    if not errors:
        errors += [DefinitionError(*problem) for problem in reference_errors(list(found.values()))]
    if errors:
        raise DefinitionsInvalid(errors)
    ordered = sorted(found.values(), key=lambda doc: (KINDS.index(doc.kind), doc.key))
    return Definitions(tenant_slug=tenants[0].key, documents={(d.kind, d.key): d for d in ordered})


def files_read(path: str | Path) -> dict[str, str]:
    """Every definition file under `path` (relative POSIX path → text)."""
    root = Path(path)
    if not root.is_dir():
        raise ApplicationError(f"{root} is not a directory.")
    found = {}
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root).as_posix()
        if file.is_file() and (is_definition_file(relative) or relative.startswith(f"{BACKSTAGE_FOLDER}/")):
            found[relative] = file.read_text(encoding="utf-8")
    return found


_OWNED = re.compile(
    r"^(tenant\.yaml|limits\.yaml|(providers|routes|services|catalog-info)/[^/]+\.yaml|prompts/[^/]+/[^/]+\.yaml)$"
)


def files_write(path: str | Path, files: Mapping[str, str]) -> None:
    """Write exactly `files` under `path` and remove the stale files of the format's folders (never anything else)."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for file in sorted(root.rglob("*.yaml")):
        relative = file.relative_to(root).as_posix()
        if _OWNED.match(relative) and relative not in files:
            file.unlink()
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()) and _OWNED.match(f"{folder.relative_to(root).as_posix()}/x.yaml"):
            folder.rmdir()
