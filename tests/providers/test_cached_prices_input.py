"""The cached-input price of a model, set per tenant in the API and the model pages: at least 0, empty or null
for the input price; bad input is a 400 naming the field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.providers.models import ProviderModel
from apps.tenants.models import Role
from tests.helpers import API, assert_field_error, tenant_state

pytestmark = pytest.mark.django_db

MODELS = f"{API}/tenants/acme/models/"
FIELD = "cached_input_price_per_mtok"


@pytest.fixture
def admin_api(members, api_client_for):
    return api_client_for(members[Role.ADMIN].user)


@pytest.fixture
def admin_web(members, client_for):
    return client_for(members[Role.ADMIN].user)


def test_the_api_sets_changes_and_clears_the_cached_price(admin_api, echo_provider):
    body = {"provider": "echo", "name": "llama", "upstream_id": "llama", "input_price_per_mtok": "1", FIELD: "0.1"}
    created = admin_api.post(MODELS, body, format="json")
    assert (created.status_code, created.json()[FIELD]) == (201, "0.100000")
    url = f"{MODELS}{created.json()['id']}/"
    assert admin_api.patch(url, {FIELD: "0.25"}, format="json").json()[FIELD] == "0.250000"
    assert admin_api.patch(url, {FIELD: None}, format="json").json()[FIELD] is None
    assert ProviderModel.objects.get(name="llama").cached_input_price_per_mtok is None


@pytest.mark.parametrize("value", ["-0.01", "cheap", "1e400"])
def test_a_bad_cached_price_is_a_400_naming_it(admin_api, echo_model, value):
    before = tenant_state(echo_model.tenant)
    body = {"provider": "echo", "name": "llama", "upstream_id": "llama", FIELD: value}
    assert_field_error(admin_api.post(MODELS, body, format="json"), FIELD)
    assert_field_error(admin_api.patch(f"{MODELS}{echo_model.pk}/", {FIELD: value}, format="json"), FIELD)
    assert tenant_state(echo_model.tenant) == before


def test_the_model_pages_edit_and_list_the_cached_price(admin_web, echo_model):
    form = {"upstream_id": "echo", "modalities": ["text"], "input_price_per_mtok": "3", "output_price_per_mtok": "15"}
    assert admin_web.post(f"/models/{echo_model.pk}/edit/", {**form, FIELD: "0.3"}).status_code == 302
    echo_model.refresh_from_db()
    assert echo_model.cached_input_price_per_mtok == Decimal("0.3")
    assert "<td>0.300000</td>" in admin_web.get("/models/").content.decode()
    assert admin_web.post(f"/models/{echo_model.pk}/edit/", {**form, FIELD: ""}).status_code == 302
    echo_model.refresh_from_db()
    assert echo_model.cached_input_price_per_mtok is None


def test_a_negative_cached_price_in_the_form_is_an_error_on_its_field(admin_web, echo_provider):
    form = {"provider": "echo", "name": "new", "upstream_id": "new", "modalities": ["text"]}
    form |= {"input_price_per_mtok": "1", "output_price_per_mtok": "1", FIELD: "-1"}
    response = admin_web.post("/models/", form)
    assert response.status_code == 400
    assert response.context["form"].errors[FIELD]
    assert not ProviderModel.objects.filter(name="new").exists()
