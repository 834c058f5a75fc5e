"""An Azure OpenAI provider's endpoint and api-version, from the portal's form and the API: stored in its options,
and a malformed api-version or deployment list refused naming the field, with nothing written."""

from __future__ import annotations

import pytest

from apps.providers.models import Provider
from apps.tenants.models import Role
from tests.helpers import API, assert_field_error, row_counts

pytestmark = pytest.mark.django_db

PROVIDERS = f"{API}/tenants/acme/providers/"
AZURE = {
    "slug": "azure",
    "name": "Azure OpenAI",
    "kind": "azure_openai",
    "base_url": "https://contoso.openai.azure.com",
    "api_key": "azure-key",
}


@pytest.fixture
def admin_api(members, api_client_for):
    return api_client_for(members[Role.ADMIN].user)


@pytest.fixture
def admin_web(members, client_for):
    return client_for(members[Role.ADMIN].user)


def test_the_api_stores_the_api_version_and_deployments(admin_api):
    options = {"api_version": "2025-04-01-preview", "deployments": {"prod-chat": "gpt-4o"}}
    response = admin_api.post(PROVIDERS, {**AZURE, "options": options}, format="json")

    assert response.status_code == 201, response.content
    assert Provider.objects.get(slug="azure").options == options


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"api_version": "2024-1021"}, "options.api_version"),
        ({"api_version": "latest"}, "options.api_version"),
        ({"deployments": "gpt-4o"}, "options.deployments"),
        ({"deployments": [1, 2]}, "options.deployments"),
    ],
)
def test_malformed_azure_options_are_refused_naming_them(admin_api, tenant, options, field):
    before = row_counts()
    assert_field_error(admin_api.post(PROVIDERS, {**AZURE, "options": options}, format="json"), field)
    assert row_counts() == before


def test_an_update_to_a_malformed_api_version_is_refused(admin_api):
    admin_api.post(PROVIDERS, AZURE, format="json")

    response = admin_api.patch(f"{PROVIDERS}azure/", {"options": {"api_version": "v1"}}, format="json")

    assert_field_error(response, "options.api_version")
    assert Provider.objects.get(slug="azure").options == {}


def test_the_form_asks_for_the_api_version(admin_web, tenant):
    page = admin_web.get("/providers/").content.decode()
    assert 'name="api_version"' in page

    response = admin_web.post("/providers/", {**AZURE, "api_version": "2024-06-01"})

    assert response.status_code == 302
    assert Provider.objects.get(slug="azure").options == {"api_version": "2024-06-01"}


def test_the_form_puts_a_malformed_api_version_on_its_field(admin_web, tenant):
    response = admin_web.post("/providers/", {**AZURE, "api_version": "June 2024"})

    assert response.status_code == 400
    assert "2024-10-21" in response.context["form"].errors["api_version"][0]
    assert not Provider.objects.filter(slug="azure").exists()
