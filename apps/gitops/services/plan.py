"""What applying the files would change: per object, create / update / delete, each with a unified diff of its
file as the database would export it against the file given."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from apps.gitops.services.credentials import matching_references
from apps.gitops.services.documents import KINDS, PROMPT_VERSION, PROVIDER, TENANT, Document
from apps.gitops.services.export import tenant_documents
from apps.gitops.services.load import DefinitionError, Definitions, DefinitionsInvalid
from apps.gitops.services.yamltext import yaml_dump
from apps.tenants.models import Tenant

CREATE, UPDATE, DELETE = "create", "update", "delete"
SIGNS = {CREATE: "+", UPDATE: "~", DELETE: "-"}


@dataclass(frozen=True)
class Change:
    action: str
    kind: str
    key: str
    path: str
    diff: str
    desired: Document | None = None  # None for a deletion


@dataclass(frozen=True)
class Plan:
    tenant_slug: str
    changes: list[Change] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[str, int]:
        return {action: sum(c.action == action for c in self.changes) for action in (CREATE, UPDATE, DELETE)}

    def render(self) -> str:
        if not self.changes:
            return f"No changes: tenant {self.tenant_slug} matches the files.\n"
        counts = self.counts()
        lines = [
            f"Plan for tenant {self.tenant_slug}: {counts[CREATE]} to create, {counts[UPDATE]} to change, "
            f"{counts[DELETE]} to delete.",
            "",
        ]
        for change in self.changes:
            lines.append(f"{SIGNS[change.action]} {change.action} {change.kind} {change.key} ({change.path})")
            lines.append(change.diff.rstrip("\n"))
            lines.append("")
        return "\n".join(lines)


def _diff(current: Document | None, desired: Document | None, path: str) -> str:
    before = yaml_dump(current.data).splitlines(keepends=True) if current else []
    after = yaml_dump(desired.data).splitlines(keepends=True) if desired else []
    return "".join(difflib.unified_diff(before, after, fromfile=f"a/{path}", tofile=f"b/{path}"))


def _current_documents(tenant_slug: str) -> tuple[Tenant | None, dict[tuple[str, str], Document]]:
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    if tenant is None:
        return None, {}
    return tenant, {(doc.kind, doc.key): doc for doc in tenant_documents(tenant=tenant)}


def definitions_plan(*, tenant_slug: str, definitions: Definitions, prune: bool = False) -> Plan:
    """The changes that would make tenant `tenant_slug` match `definitions` (its files must be of that tenant).
    Prompt versions are history: a version in the database and not in the files is left alone, prune or not."""
    if definitions.tenant_slug != tenant_slug:
        message = f"the files define tenant {definitions.tenant_slug!r}, not {tenant_slug!r}"
        raise DefinitionsInvalid([DefinitionError("tenant.yaml", "slug", message)])
    tenant, current = _current_documents(tenant_slug)
    changes = []
    for ident, desired in definitions.documents.items():
        existing = current.get(ident)
        if existing is not None and desired.kind == PROVIDER and tenant is not None:
            existing = matching_references(existing, desired, tenant)
        if existing is None:
            changes.append(
                Change(CREATE, desired.kind, desired.key, desired.path, _diff(None, desired, desired.path), desired)
            )
        elif existing.data != desired.data:
            diff = _diff(existing, desired, desired.path)
            changes.append(Change(UPDATE, desired.kind, desired.key, desired.path, diff, desired))
    if prune:
        gone = [doc for ident, doc in current.items() if ident not in definitions.documents]
        for doc in sorted(gone, key=lambda d: (-KINDS.index(d.kind), d.key)):
            if doc.kind not in (TENANT, PROMPT_VERSION):
                changes.append(Change(DELETE, doc.kind, doc.key, doc.path, _diff(doc, None, doc.path)))
    return Plan(tenant_slug=tenant_slug, changes=changes)
