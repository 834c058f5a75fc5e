"""How the management schema documents the catalog: apps authenticate with their key, filters are parameters."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_catalog_accepts_app_keys_and_people(schema):
    security = schema["paths"]["/api/v1/services/"]["get"]["security"]
    assert {"apiKey": []} in security
    assert {"personalToken": []} in security
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    management = schema["paths"]["/api/v1/tenants/{tenant_slug}/services/"]["get"]["security"]
    assert {"apiKey": []} not in management


def test_the_catalog_filters_are_documented(schema):
    parameters = {p["name"] for p in schema["paths"]["/api/v1/services/"]["get"]["parameters"]}
    assert {"q", "tag", "kind", "lifecycle", "owner", "tenant", "limit", "offset"} <= parameters
    detail = {p["name"] for p in schema["paths"]["/api/v1/services/{slug}/"]["get"]["parameters"]}
    assert detail == {"slug", "tenant"}
