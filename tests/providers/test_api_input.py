"""Bad input to the provider, model and route endpoints: a 400 or 409 naming the field, never a 500, and nothing
half-written."""

from __future__ import annotations

import pytest

from apps.tenants.models import Role
from tests.conftest import FAKE_KEY
from tests.factories import ProviderFactory, ProviderModelFactory
from tests.helpers import API, assert_field_error, row_counts, tenant_state

pytestmark = pytest.mark.django_db

T = f"{API}/tenants/acme"
PROVIDERS, MODELS, ROUTES = f"{T}/providers/", f"{T}/models/", f"{T}/routes/"
OPENAI = {"slug": "openai", "name": "OpenAI", "kind": "openai", "base_url": "https://api.openai.com/v1"}
LLAMA = {"provider": "echo", "name": "llama", "upstream_id": "llama3.1:8b"}


@pytest.fixture
def admin_api(members, api_client_for):
    return api_client_for(members[Role.ADMIN].user)


REFUSED_CREATES = [
    pytest.param(PROVIDERS, {**OPENAI, "kind": "bedrock"}, "kind", (400,), id="provider-unknown-kind"),
    pytest.param(PROVIDERS, {**OPENAI, "base_url": ""}, "base_url", (400,), id="provider-openai-without-base-url"),
    pytest.param(PROVIDERS, {**OPENAI, "base_url": "not a url"}, "base_url", (400,), id="provider-bad-base-url"),
    pytest.param(PROVIDERS, {**OPENAI, "slug": "Open AI"}, "slug", (400,), id="provider-bad-slug"),
    pytest.param(PROVIDERS, {**OPENAI, "slug": "echo"}, "slug", (409,), id="provider-duplicate-slug"),
    pytest.param(PROVIDERS, {**OPENAI, "api_key": ["not", "text"]}, "api_key", (400,), id="provider-key-not-text"),
    pytest.param(MODELS, {**LLAMA, "input_price_per_mtok": "-1"}, "input_price_per_mtok", (400,), id="negative-price"),
    pytest.param(MODELS, {**LLAMA, "provider": "nope"}, "provider", (400,), id="model-unknown-provider"),
    pytest.param(MODELS, {**LLAMA, "provider": "globex-echo"}, "provider", (400,), id="model-foreign-provider"),
    pytest.param(MODELS, {**LLAMA, "name": "echo"}, "name", (409,), id="model-duplicate-name"),
    pytest.param(MODELS, {**LLAMA, "name": "my model"}, "name", (400,), id="model-name-with-space"),
    pytest.param(MODELS, {**LLAMA, "modalities": ["smell"]}, "modalities", (400,), id="model-unknown-modality"),
    pytest.param(MODELS, {**LLAMA, "context_window": -5}, "context_window", (400,), id="model-negative-context"),
    pytest.param(ROUTES, {"alias": "my route"}, "alias", (400,), id="alias-with-space"),
    pytest.param(ROUTES, {"alias": "smart"}, "alias", (409,), id="duplicate-alias"),
    pytest.param(ROUTES, {"alias": "team/deployments"}, "alias", (400,), id="alias-with-reserved-part"),
    pytest.param(ROUTES, {"alias": "x", "deadline_seconds": 0}, "deadline_seconds", (400,), id="zero-deadline"),
    pytest.param(ROUTES, {"alias": "x", "retries": 99}, "retries", (400,), id="too-many-retries"),
    pytest.param(ROUTES, {"alias": "x", "cache_ttl_seconds": 0}, "cache_ttl_seconds", (400,), id="ttl-0"),
    pytest.param(ROUTES, {"alias": "x", "cache_ttl_seconds": -1}, "cache_ttl_seconds", (400,), id="ttl-negative"),
    pytest.param(ROUTES, {"alias": "x", "cache_ttl_seconds": 604801}, "cache_ttl_seconds", (400,), id="ttl-8-days"),
    pytest.param(ROUTES, {"alias": "x", "cache_ttl_seconds": "1h"}, "cache_ttl_seconds", (400,), id="ttl-text"),
    pytest.param(ROUTES, {"alias": "x", "strategy": "fastest"}, "strategy", (400,), id="unknown-strategy"),
    pytest.param(f"{ROUTES}smart/deployments/", {"model": "echo"}, "model", (409,), id="deployment-twice"),
    pytest.param(f"{ROUTES}smart/deployments/", {"model": "nope"}, "model", (400,), id="deployment-unknown-model"),
    pytest.param(f"{ROUTES}smart/deployments/", {"model": "globex-model"}, "model", (400,), id="foreign-model"),
    pytest.param(f"{ROUTES}smart/deployments/", {"model": "spare", "weight": 0}, "weight", (400,), id="weight-0"),
    pytest.param(f"{ROUTES}smart/deployments/", {"model": "spare", "priority": -1}, "priority", (400,), id="priority"),
    pytest.param(
        f"{ROUTES}smart/deployments/",
        {"model": "spare", "timeout_seconds": 0},
        "timeout_seconds",
        (400,),
        id="timeout-0",
    ),
]


@pytest.fixture
def foreign_model(other_tenant):
    """Tenant B's provider `globex-echo` and its model `globex-model`: tenant A's requests must not find them."""
    return ProviderModelFactory(provider=ProviderFactory(tenant=other_tenant, slug="globex-echo"), name="globex-model")


@pytest.mark.parametrize(("url", "body", "field", "statuses"), REFUSED_CREATES)
def test_refused_creates_name_the_field_and_write_nothing(
    admin_api, route, echo_provider, foreign_model, url, body, field, statuses
):
    ProviderModelFactory(provider=echo_provider, name="spare")  # a model `smart` does not deploy yet
    before = row_counts()
    assert_field_error(admin_api.post(url, body, format="json"), field, statuses)
    assert row_counts() == before


REFUSED_UPDATES = [
    pytest.param(f"{PROVIDERS}openai/", {"base_url": ""}, "base_url", id="provider-base-url-removed"),
    pytest.param(f"{PROVIDERS}openai/", {"options": ["not", "a", "dict"]}, "options", id="provider-options-list"),
    pytest.param(f"{PROVIDERS}openai/", {"enabled": "maybe"}, "enabled", id="provider-enabled-not-bool"),
    pytest.param(f"{ROUTES}smart/", {"deadline_seconds": -1}, "deadline_seconds", id="route-negative-deadline"),
    pytest.param(f"{ROUTES}smart/", {"retries": "many"}, "retries", id="route-retries-not-int"),
    pytest.param(f"{ROUTES}smart/", {"cache_ttl_seconds": 0}, "cache_ttl_seconds", id="route-ttl-0"),
    pytest.param(f"{ROUTES}smart/", {"strategy": "random"}, "strategy", id="route-unknown-strategy"),
    pytest.param("{deployment}", {"weight": 0}, "weight", id="deployment-weight-0"),
    pytest.param("{deployment}", {"weight": 10**12}, "weight", id="deployment-weight-huge"),
    pytest.param("{model}", {"output_price_per_mtok": "-0.01"}, "output_price_per_mtok", id="negative-price"),
    pytest.param("{model}", {"input_price_per_mtok": "1e400"}, "input_price_per_mtok", id="price-too-big"),
]


@pytest.mark.parametrize(("url", "body", "field"), REFUSED_UPDATES)
def test_refused_updates_name_the_field_and_change_nothing(admin_api, route, url, body, field):
    admin_api.post(PROVIDERS, {**OPENAI, "api_key": FAKE_KEY}, format="json")
    deployment = route.deployments.get()
    url = url.format(deployment=f"{ROUTES}smart/deployments/{deployment.pk}/", model=f"{MODELS}{deployment.model_id}/")
    before = tenant_state(route.tenant)
    response = admin_api.patch(url, body, format="json")
    assert_field_error(response, field)
    assert FAKE_KEY not in response.content.decode()
    assert tenant_state(route.tenant) == before


@pytest.mark.parametrize(
    "url",
    [
        f"{PROVIDERS}nope/",
        f"{MODELS}999999/",
        f"{MODELS}not-a-number/",
        f"{ROUTES}no/such/route/",
        f"{ROUTES}smart/deployments/999999/",
    ],
)
def test_unknown_objects_are_404(admin_api, route, url):
    assert admin_api.patch(url, {}, format="json").status_code == 404
    assert admin_api.delete(url).status_code == 404


def test_a_body_that_is_not_json_is_a_400(admin_api, echo_provider):
    response = admin_api.post(PROVIDERS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "message" in response.json()


def test_a_route_caches_answers_for_its_ttl_and_null_turns_the_cache_off(admin_api, route):
    created = admin_api.post(ROUTES, {"alias": "cached", "cache_ttl_seconds": 604800}, format="json")
    assert (created.status_code, created.json()["cache_ttl_seconds"]) == (201, 604800)
    response = admin_api.patch(f"{ROUTES}cached/", {"cache_ttl_seconds": None}, format="json")
    assert (response.status_code, response.json()["cache_ttl_seconds"]) == (200, None)


def test_a_route_strategy_is_set_and_changed_through_the_api(admin_api, route):
    created = admin_api.post(ROUTES, {"alias": "thrifty", "strategy": "cost"}, format="json")
    assert (created.status_code, created.json()["strategy"]) == (201, "cost")
    response = admin_api.patch(f"{ROUTES}thrifty/", {"strategy": "latency"}, format="json")
    assert (response.status_code, response.json()["strategy"]) == (200, "latency")
    assert admin_api.get(f"{ROUTES}smart/").json()["strategy"] == "priority"  # the default
