"""Bad input to the service and plan endpoints: a 400 or 409 naming the field, never a 500, nothing half-written."""

from __future__ import annotations

import pytest

from apps.catalog.models import Service
from tests.catalog.conftest import SENTIMENT_INPUT
from tests.factories import DeploymentFactory, ProviderModelFactory, RouteFactory, ServiceFactory
from tests.helpers import API, assert_field_error, row_counts

pytestmark = pytest.mark.django_db

SERVICES = f"{API}/tenants/acme/services/"
PLANS = f"{SERVICES}sentiment/plans/"
NEW = {"slug": "summarize", "name": "Summarize", "kind": "prompt", "route": "smart", "tags": ["brand-new-tag"]}

REFUSED = [
    pytest.param(SERVICES, {**NEW, "input_schema": {"type": "objekt"}}, "input_schema", 400, id="invalid-schema"),
    pytest.param(SERVICES, {**NEW, "input_schema": {"required": "text"}}, "input_schema", 400, id="required-str"),
    pytest.param(SERVICES, {**NEW, "input_schema": "text"}, "input_schema", 400, id="schema-is-a-string"),
    pytest.param(SERVICES, {**NEW, "input_schema": {"type": "array"}}, "input_schema", 400, id="input-not-object"),
    pytest.param(SERVICES, {**NEW, "output_mode": "json"}, "output_schema", 400, id="json-output-without-schema"),
    pytest.param(
        SERVICES,
        {**NEW, "output_mode": "json", "output_schema": {"type": "number", "minimum": "0"}},
        "output_schema",
        400,
        id="invalid-output-schema",
    ),
    pytest.param(SERVICES, {**NEW, "route": "globex-smart"}, "route", 400, id="route-of-another-tenant"),
    pytest.param(SERVICES, {**NEW, "route": "nope"}, "route", 400, id="unknown-route"),
    pytest.param(SERVICES, {**NEW, "slug": "sentiment"}, "slug", 409, id="duplicate-slug"),
    pytest.param(SERVICES, {**NEW, "slug": "taken-elsewhere"}, "slug", 409, id="slug-of-another-tenant"),
    pytest.param(SERVICES, {**NEW, "slug": "Not A Slug"}, "slug", 400, id="bad-slug"),
    pytest.param(SERVICES, {**NEW, "tags": ["bad tag!"]}, "tags", 400, id="tag-chars"),
    pytest.param(SERVICES, {**NEW, "tags": ["emoji-🙂"]}, "tags", 400, id="tag-emoji"),
    pytest.param(SERVICES, {**NEW, "tags": "nlp"}, "tags", 400, id="tags-not-a-list"),
    pytest.param(SERVICES, {**NEW, "tags": ["x" * 41]}, "tags", 400, id="tag-too-long"),
    pytest.param(SERVICES, {**NEW, "kind": "robot"}, "kind", 400, id="unknown-kind"),
    pytest.param(SERVICES, {**NEW, "visibility": "secret"}, "visibility", 400, id="unknown-visibility"),
    pytest.param(SERVICES, {**NEW, "shared_with": ["nowhere"]}, "shared_with", 400, id="unknown-tenant"),
    pytest.param(SERVICES, {**NEW, "shared_with": ["acme"]}, "shared_with", 400, id="shared-with-itself"),
    pytest.param(SERVICES, {**NEW, "expected_tokens_per_call": 0}, "expected_tokens_per_call", 400, id="zero-tokens"),
    pytest.param(SERVICES, {**NEW, "capture_bodies_days": 91}, "capture_bodies_days", 400, id="capture-too-long"),
    pytest.param(SERVICES, {**NEW, "capture_bodies_days": -1}, "capture_bodies_days", 400, id="capture-negative"),
    pytest.param(SERVICES, {**NEW, "name": "x" * 101}, "name", 400, id="name-too-long"),
    pytest.param(SERVICES, {**NEW, "name": None}, "name", 400, id="name-null"),
    pytest.param(f"{SERVICES}sentiment/share/", {"tenants": "globex"}, "tenants", 400, id="share-not-a-list"),
    pytest.param(f"{SERVICES}sentiment/share/", {"tenants": ["nowhere"]}, "tenants", 400, id="share-unknown"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "requests_per_day": -1}, "requests_per_day", 400, id="negative"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "tokens_per_minute": 2**40}, "tokens_per_minute", 400, id="huge"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "monthly_budget": "-5"}, "monthly_budget", 400, id="budget"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "monthly_budget": "1e400"}, "monthly_budget", 400, id="budget-inf"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "allowed_models": ["nope"]}, "allowed_models", 400, id="model"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "position": 500}, "position", 400, id="position"),
    pytest.param(PLANS, {"slug": "free", "name": "Again"}, "slug", 409, id="duplicate-plan"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "requests_per_minute": 0}, "requests_per_minute", 400, id="rpm-0"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "requests_per_day": 0}, "requests_per_day", 400, id="quota-0"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "tokens_per_minute": -1}, "tokens_per_minute", 400, id="tpm-neg"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "daily_budget": "-1"}, "daily_budget", 400, id="daily-budget"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "budget_currency": "EUR"}, "budget_currency", 400, id="currency"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "budget_alert_percent": 0}, "budget_alert_percent", 400, id="a0"),
    pytest.param(PLANS, {"slug": "p", "name": "P", "budget_alert_percent": 101}, "budget_alert_percent", 400, id="a1"),
    pytest.param(
        PLANS, {"slug": "p", "name": "P", "allowed_models": ["globex-smart"]}, "allowed_models", 400, id="model-theirs"
    ),
    pytest.param(PLANS, {"slug": "p", "name": "P", "over_budget_route": "nope"}, "over_budget_route", 400, id="obr"),
    pytest.param(
        PLANS,
        {"slug": "p", "name": "P", "over_budget_route": "globex-smart"},
        "over_budget_route",
        400,
        id="obr-theirs",
    ),
    pytest.param(
        PLANS, {"slug": "p", "name": "P", "over_budget_route": "smart"}, "over_budget_route", 400, id="obr-own-route"
    ),
    pytest.param(
        PLANS,
        {"slug": "p", "name": "P", "allowed_models": ["smart"], "over_budget_route": "embed"},
        "over_budget_route",
        400,
        id="obr-not-allowed",
    ),
    pytest.param(SERVICES, {**NEW, "cache_ttl_seconds": 0}, "cache_ttl_seconds", 400, id="ttl-0"),
    pytest.param(SERVICES, {**NEW, "cache_ttl_seconds": -1}, "cache_ttl_seconds", 400, id="ttl-negative"),
    pytest.param(SERVICES, {**NEW, "cache_ttl_seconds": 604801}, "cache_ttl_seconds", 400, id="ttl-over-a-week"),
    pytest.param(
        SERVICES,
        {**NEW, "cache_ttl_seconds": 60, "semantic_cache": True},
        "semantic_cache_route",
        400,
        id="sem-no-route",
    ),
    pytest.param(
        SERVICES,
        {**NEW, "semantic_cache": True, "semantic_cache_route": "embed"},
        "cache_ttl_seconds",
        400,
        id="sem-ttl",
    ),
    *(
        pytest.param(
            SERVICES,
            {**NEW, "cache_ttl_seconds": 60, "semantic_cache": True, "semantic_cache_route": alias},
            "semantic_cache_route",
            400,
            id=f"sem-route-{case}",
        )
        for case, alias in [("unknown", "nope"), ("of-another-tenant", "globex-smart"), ("not-embedding", "smart")]
    ),
    pytest.param(
        SERVICES, {**NEW, "semantic_cache_threshold": 0.5}, "semantic_cache_threshold", 400, id="sem-threshold-low"
    ),
    pytest.param(
        SERVICES, {**NEW, "semantic_cache_threshold": 1.5}, "semantic_cache_threshold", 400, id="sem-threshold-high"
    ),
]


@pytest.fixture
def world(sentiment, route, other_route, other_tenant, admin):
    ServiceFactory(tenant=other_tenant, route=other_route, slug="taken-elsewhere")
    embedding_route(sentiment.tenant)
    sentiment.plans.create(slug="free", name="Free", is_default=True)


def embedding_route(tenant):
    """Route `embed` of the tenant, served by a model with the embedding modality."""
    model = ProviderModelFactory(provider__tenant=tenant, modalities=["embedding"])
    return DeploymentFactory(route=RouteFactory(tenant=tenant, alias="embed"), model=model).route


@pytest.mark.parametrize(("url", "body", "field", "status"), REFUSED)
def test_refused_writes_name_the_field_and_write_nothing(world, admin, api_client_for, url, body, field, status):
    before = row_counts()
    assert_field_error(api_client_for(admin.user).post(url, body, format="json"), field, (status,))
    assert row_counts() == before


REFUSED_UPDATES = [
    pytest.param({"input_schema": {"type": 1}}, "input_schema", id="invalid-schema"),
    pytest.param({"output_schema": {}}, "output_schema", id="json-output-loses-its-schema"),
    pytest.param({"output_mode": "yaml"}, "output_mode", id="unknown-output-mode"),
    pytest.param({"route": "globex-smart"}, "route", id="route-of-another-tenant"),
    pytest.param({"tags": ["a b"]}, "tags", id="tag-chars"),
    pytest.param({"cache_ttl_seconds": 0}, "cache_ttl_seconds", id="ttl-0"),
    pytest.param({"semantic_cache": True}, "semantic_cache_route", id="semantic-without-route"),
]


@pytest.mark.parametrize(("body", "field"), REFUSED_UPDATES)
def test_refused_updates_change_nothing(world, admin, api_client_for, body, field):
    before = (row_counts(), list(sentiment_rows()))
    response = api_client_for(admin.user).patch(f"{SERVICES}sentiment/", body, format="json")
    assert_field_error(response, field)
    assert (row_counts(), list(sentiment_rows())) == before


def sentiment_rows():
    return Service.objects.filter(slug="sentiment").values_list("name", "output_schema", "route_id", "tags__name")


def test_a_body_that_is_not_json_is_a_400(world, admin, api_client_for):
    response = api_client_for(admin.user).post(SERVICES, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"]


def test_a_valid_schema_with_every_feature_is_accepted(world, admin, api_client_for):
    schema = {**SENTIMENT_INPUT, "$defs": {"x": {"type": "string"}}, "additionalProperties": False}
    response = api_client_for(admin.user).post(SERVICES, {**NEW, "input_schema": schema}, format="json")
    assert response.status_code == 201, response.content


def test_plan_budgets_and_limits_are_saved_and_shown(world, admin, api_client_for):
    body = {
        "slug": "team",
        "name": "Team",
        "requests_per_minute": 60,
        "tokens_per_minute": 40000,
        "requests_per_day": 5000,
        "requests_per_month": 100000,
        "daily_budget": "10.00",
        "monthly_budget": "200.00",
        "budget_currency": "USD",
        "budget_alert_percent": 75,
        "allowed_models": ["smart", "embed"],
        "over_budget_route": "embed",
    }
    response = api_client_for(admin.user).post(PLANS, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json() | body == response.json()
    patched = api_client_for(admin.user).patch(f"{PLANS}team/", {"daily_budget": None}, format="json")
    assert patched.json()["daily_budget"] is None
    # Narrowing the models allowed may not leave the over-budget route outside them; clearing both is fine.
    narrowed = api_client_for(admin.user).patch(f"{PLANS}team/", {"allowed_models": ["smart"]}, format="json")
    assert_field_error(narrowed, "over_budget_route", (400,))
    cleared = {"allowed_models": ["smart"], "over_budget_route": ""}
    assert api_client_for(admin.user).patch(f"{PLANS}team/", cleared, format="json").json()["over_budget_route"] == ""


def test_a_service_caches_by_ttl_and_semantically_on_an_embedding_route(world, admin, api_client_for):
    cache = {
        "cache_ttl_seconds": 3600,
        "semantic_cache": True,
        "semantic_cache_route": "embed",
        "semantic_cache_threshold": 0.9,
    }
    response = api_client_for(admin.user).post(SERVICES, {**NEW, **cache}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() | cache == response.json()
    response = api_client_for(admin.user).patch(f"{SERVICES}sentiment/", {"cache_ttl_seconds": 604800}, format="json")
    assert (response.status_code, response.json()["cache_ttl_seconds"]) == (200, 604800)
    response = api_client_for(admin.user).patch(f"{SERVICES}sentiment/", {"cache_ttl_seconds": None}, format="json")
    assert (response.status_code, response.json()["cache_ttl_seconds"]) == (200, None)
