"""Definitions as code: a tenant's providers, routes, services, plans and prompts as YAML files, and back.

- definitions_export(tenant=…) → {relative path: file text}, stable (a re-export with no change is byte-identical)
- definitions_load(files=…) → Definitions, or DefinitionsInvalid naming every file, path and problem
- definitions_plan(tenant_slug=…, definitions=…, prune=…) → Plan (create/update/delete per object, with diffs)
- definitions_apply(definitions=…, prune=…, actor_membership=…, actor_user=…, source=…) → the Plan applied
- files_read(path) / files_write(path, files): a directory of definition files"""

from __future__ import annotations

from apps.catalog.models import Service
from apps.gitops.services.apply import definitions_apply
from apps.gitops.services.backstage import backstage_files
from apps.gitops.services.documents import API_VERSION, KINDS, Document
from apps.gitops.services.export import tenant_documents
from apps.gitops.services.load import (
    DefinitionError,
    Definitions,
    DefinitionsInvalid,
    definitions_load,
    definitions_schema,
    files_read,
    files_write,
)
from apps.gitops.services.plan import Change, Plan, definitions_plan
from apps.gitops.services.yamltext import yaml_dump
from apps.tenants.models import Tenant


def definitions_export(*, tenant: Tenant) -> dict[str, str]:
    """The tenant's definition files, the tenant itself included, plus a Backstage entity per service under
    catalog-info/."""
    files = {doc.path: yaml_dump(doc.data) for doc in tenant_documents(tenant=tenant)}
    services = Service.objects.for_tenant(tenant).select_related("tenant").prefetch_related("tags").order_by("slug")
    files |= backstage_files(services=list(services))
    return dict(sorted(files.items()))


__all__ = [
    "API_VERSION",
    "KINDS",
    "Change",
    "DefinitionError",
    "Definitions",
    "DefinitionsInvalid",
    "Document",
    "Plan",
    "definitions_apply",
    "definitions_export",
    "definitions_load",
    "definitions_plan",
    "definitions_schema",
    "files_read",
    "files_write",
]
