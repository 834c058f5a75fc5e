"""The management API's OpenAPI schema: it renders, is valid OpenAPI 3, documents every endpoint and how to
authenticate, and generating it raises no drf-spectacular warning (warnings become `check` failures)."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

EXPECTED_OPERATIONS = {
    "/api/v1/tenants/": {"get", "post"},
    "/api/v1/tenants/{slug}/": {"get", "patch"},
    "/api/v1/tenants/{tenant_slug}/members/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/members/{id}/": {"get", "patch", "delete"},
    "/api/v1/tenants/{tenant_slug}/audit/": {"get"},
    "/api/v1/tenants/{tenant_slug}/apps/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/apps/{slug}/": {"get", "patch", "delete"},
    "/api/v1/tenants/{tenant_slug}/apps/{slug}/managers/": {"post"},
    "/api/v1/tenants/{tenant_slug}/apps/{slug}/managers/{username}/": {"delete"},
    "/api/v1/tenants/{tenant_slug}/apps/{app_slug}/keys/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/apps/{app_slug}/keys/{id}/": {"get"},
    "/api/v1/tenants/{tenant_slug}/apps/{app_slug}/keys/{id}/revoke/": {"post"},
    "/api/v1/me/tokens/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/providers/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/providers/{slug}/": {"get", "patch", "delete"},
    "/api/v1/tenants/{tenant_slug}/providers/{slug}/test/": {"post"},
    "/api/v1/tenants/{tenant_slug}/providers/{slug}/sync-models/": {"post"},
    "/api/v1/tenants/{tenant_slug}/models/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/models/{id}/": {"get", "patch", "delete"},
    "/api/v1/tenants/{tenant_slug}/routes/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/routes/{alias}/": {"get", "patch", "delete"},
    "/api/v1/tenants/{tenant_slug}/routes/{alias}/deployments/": {"post"},
    "/api/v1/tenants/{tenant_slug}/routes/{alias}/deployments/{deployment_id}/": {"patch", "delete"},
    "/api/v1/me/tokens/{id}/": {"delete"},
    "/api/v1/tenants/{tenant_slug}/subscriptions/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/subscriptions/{id}/": {"get"},
    "/api/v1/tenants/{tenant_slug}/approvals/": {"get"},
    "/api/v1/tenants/{tenant_slug}/approvals/{id}/": {"get"},
    "/api/v1/tenants/{tenant_slug}/approvals/{id}/approve/": {"post"},
    "/api/v1/tenants/{tenant_slug}/approvals/{id}/reject/": {"post"},
    "/api/v1/tenants/{tenant_slug}/approvals/{id}/suspend/": {"post"},
    "/api/v1/tenants/{tenant_slug}/approvals/{id}/resume/": {"post"},
    "/api/v1/tenants/{tenant_slug}/approvals/{id}/revoke/": {"post"},
    "/api/v1/tenants/{tenant_slug}/approvals/{id}/renew/": {"post"},
    "/api/v1/me/notifications/": {"get"},
    "/api/v1/me/notifications/{id}/read/": {"post"},
    "/api/v1/me/notifications/read-all/": {"post"},
    "/api/v1/tenants/{tenant_slug}/services/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/services/{slug}/": {"get", "patch"},
    "/api/v1/tenants/{tenant_slug}/services/{slug}/publish/": {"post"},
    "/api/v1/tenants/{tenant_slug}/services/{slug}/deprecate/": {"post"},
    "/api/v1/tenants/{tenant_slug}/services/{slug}/retire/": {"post"},
    "/api/v1/tenants/{tenant_slug}/services/{slug}/share/": {"post"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/plans/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/plans/{slug}/": {"get", "patch", "delete"},
    "/api/v1/services/": {"get"},
    "/api/v1/services/{slug}/": {"get"},
    "/api/v1/services/{slug}/openapi.json": {"get"},
    "/api/v1/tenants/{tenant_slug}/prompt-services/": {"post"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/prompt/": {"get"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/prompt/rollback/": {"post"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/prompt/ab/": {"put"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/prompt/diff/": {"get"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/prompt/versions/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/prompt/versions/{number}/": {"get"},
    "/api/v1/tenants/{tenant_slug}/services/{service_slug}/prompt/versions/{number}/publish/": {"post"},
    "/api/v1/tenants/{tenant_slug}/analytics/alert-rules/": {"get", "post"},
    "/api/v1/tenants/{tenant_slug}/analytics/alert-rules/{id}/": {"get", "patch", "delete"},
    "/api/v1/tenants/{tenant_slug}/analytics/alert-rules/{id}/rotate-secret/": {"post"},
    "/api/v1/tenants/{tenant_slug}/analytics/alert-rules/{id}/test/": {"post"},
    "/api/v1/tenants/{tenant_slug}/analytics/alerts/": {"get"},
    "/api/v1/tenants/{tenant_slug}/analytics/alerts/{id}/": {"get"},
    "/api/v1/tenants/{tenant_slug}/analytics/rollups/": {"get"},
    "/api/v1/tenants/{tenant_slug}/analytics/logs/": {"get"},
    "/api/v1/tenants/{tenant_slug}/analytics/logs/{request_id}/": {"get"},
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema():
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    yield generated
    GENERATOR_STATS.reset()


def test_schema_generation_emits_no_warnings_or_errors(schema):
    assert dict(GENERATOR_STATS._warn_cache) == {}
    assert dict(GENERATOR_STATS._error_cache) == {}


def test_schema_is_valid_openapi_3_with_every_management_endpoint(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    management = {path: ops for path, ops in schema["paths"].items() if path.startswith("/api/v1/")}
    documented = {path: set(ops) & HTTP_METHODS for path, ops in management.items()}
    for path, methods in EXPECTED_OPERATIONS.items():
        assert documented.get(path) == methods, path


def test_schema_documents_both_ways_to_authenticate(schema):
    schemes = schema["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(
        s for s in schemes.values() if s.get("scheme") == "bearer"
    ).items()
    assert any(s.get("in") == "cookie" for s in schemes.values())


def test_issued_secrets_are_documented_only_on_create(schema):
    components = schema["components"]["schemas"]
    assert "secret" in components["ApiKeyIssuedOut"]["properties"]
    assert "secret" not in components["ApiKeyOut"]["properties"]
    assert "digest" not in components["ApiKeyOut"]["properties"]
    created = schema["paths"]["/api/v1/tenants/{tenant_slug}/apps/{app_slug}/keys/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/ApiKeyIssuedOut")


def test_provider_credentials_are_write_only_in_the_schema(schema):
    components = schema["components"]["schemas"]
    assert "api_key" not in components["ProviderOut"]["properties"]
    assert "has_credentials" in components["ProviderOut"]["properties"]
    for name in ("ProviderCreateInRequest", "PatchedProviderUpdateInRequest"):
        assert components[name]["properties"]["api_key"]["writeOnly"] is True


def test_alert_webhook_secrets_are_write_only_and_returned_only_on_create(schema):
    components = schema["components"]["schemas"]
    assert "webhook_secret" not in components["AlertRuleOut"]["properties"]
    assert "webhook_secret" in components["AlertRuleCreatedOut"]["properties"]
    for name in ("AlertRuleCreateInRequest", "PatchedAlertRuleUpdateInRequest"):
        assert components[name]["properties"]["webhook_secret"]["writeOnly"] is True
    created = schema["paths"]["/api/v1/tenants/{tenant_slug}/analytics/alert-rules/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/AlertRuleCreatedOut")


def test_schema_endpoint_renders(client, owner):
    client.force_login(owner)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    body = response.json()
    validate_schema(body)
    assert set(EXPECTED_OPERATIONS) <= set(body["paths"])


def test_swagger_ui_renders_for_a_logged_in_user(client, owner):
    client.force_login(owner)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    script = client.get("/api/docs/?script=").content.decode()  # its own URL: no inline script (CSP)
    assert "SwaggerUIBundle" in script
    assert "/api/schema/" in script


def test_approvals_embed_the_cost_projection_with_its_inputs(schema):
    components = schema["components"]["schemas"]
    projection = components["SubscriptionApprovalOut"]["properties"]["cost_projection"]
    assert projection["allOf"][0]["$ref"].endswith("/CostProjectionOut")
    assert {"monthly_requests", "tokens_per_call", "price_per_mtok", "monthly_budget", "monthly_cost"} <= set(
        components["CostProjectionOut"]["properties"]
    )
