"""Each service as a Backstage `kind: API` entity (catalog-info/<slug>.yaml), for teams whose developer portal is
Backstage: owner, lifecycle, tags and the service's generated OpenAPI document as its definition.

Register catalog-info/_location.yaml (a `kind: Location` listing them all) in Backstage once: new services join
through it. Written by the export only; loading skips the folder (Backstage reads it, the portal does not)."""

from __future__ import annotations

import json

from django.conf import settings

from apps.catalog.models import Service
from apps.catalog.openapi import service_openapi
from apps.gitops.services.yamltext import yaml_dump

FOLDER = "catalog-info"
# Backstage's customary lifecycle values for ours.
# Service slugs never start with "_": this name cannot clash with an entity's file.
LOCATION = f"{FOLDER}/_location.yaml"
LIFECYCLES = {"draft": "experimental", "published": "production", "deprecated": "deprecated", "retired": "deprecated"}


def backstage_files(*, services: list[Service]) -> dict[str, str]:
    files = {}
    for service in services:
        document = service_openapi(service, server_url=settings.SITE_URL)
        # The generated document versions itself by its last change time; a file must not change without a change.
        document["info"]["version"] = "1"
        entity = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "API",
            "metadata": {
                "name": service.slug,
                "title": service.name,
                "description": service.summary,
                "tags": sorted(tag.name for tag in service.tags.all()),
            },
            "spec": {
                "type": "openapi",
                "lifecycle": LIFECYCLES[service.lifecycle],
                "owner": service.team or service.tenant.slug,
                "definition": json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            },
        }
        files[f"{FOLDER}/{service.slug}.yaml"] = yaml_dump(entity)
    if services:
        location = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Location",
            "metadata": {"name": f"{services[0].tenant.slug}-apis", "description": "The APIs of the gateway portal"},
            "spec": {"targets": [f"./{service.slug}.yaml" for service in sorted(services, key=lambda s: s.slug)]},
        }
        files[LOCATION] = yaml_dump(location)
    return files
