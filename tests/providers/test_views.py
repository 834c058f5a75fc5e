"""The Providers and Models pages: lists, admin forms, the write-only API key, htmx connection tests and model
sync against the fake upstream, read-only pages for other roles, and 404 for another tenant's objects."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from apps.core.models import AuditEvent
from apps.providers.models import Provider, ProviderModel, Route
from apps.tenants.models import Role
from apps.tenants.web import SESSION_KEY
from tests.conftest import FAKE_KEY
from tests.factories import ProviderFactory
from tests.helpers import tenant_state

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin_web(members, client_for):
    return client_for(members[Role.ADMIN].user)


@pytest.fixture
def openai_provider(tenant, fake_upstream) -> Provider:
    provider = Provider(tenant=tenant, slug="openai", name="OpenAI", kind="openai", base_url=fake_upstream.base_url)
    provider.set_api_key(FAKE_KEY)
    provider.save()
    return provider


def _provider_form(base_url: str, **overrides) -> dict:
    return {
        "name": "OpenAI",
        "slug": "openai",
        "kind": "openai",
        "base_url": base_url,
        "api_key": FAKE_KEY,
        **overrides,
    }


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER])
def test_every_member_finds_the_three_pages_in_the_navigation(client_for, members, role):
    html = client_for(members[role].user).get("/").content.decode()
    for url, label in [("/providers/", "Providers"), ("/models/", "Models"), ("/routes/", "Routes")]:
        assert f'href="{url}"' in html
        assert f">{label}</a>" in html


def test_empty_providers_page_says_how_to_get_one(admin_web, tenant):
    html = admin_web.get("/providers/").content.decode()
    assert "No providers yet" in html
    assert "OPENAI_API_KEY" in html
    assert "Add provider" in html


def test_adding_a_provider_keeps_the_key_out_of_every_page_and_the_audit(admin_web, fake_upstream):
    response = admin_web.post("/providers/", _provider_form(fake_upstream.base_url))
    assert response.status_code == 302, response.content
    provider = Provider.objects.get(slug="openai")
    assert provider.credentials_encrypted.startswith("gAAAAA")
    assert FAKE_KEY not in provider.credentials_encrypted
    assert provider.api_key() == FAKE_KEY
    for page in ("/providers/", "/providers/openai/edit/"):
        html = admin_web.get(page).content.decode()
        assert FAKE_KEY not in html
    assert '<span class="badge badge-active">Set</span>' in admin_web.get("/providers/").content.decode()
    assert FAKE_KEY not in json.dumps(list(AuditEvent.objects.values_list("changes", flat=True)))


def test_an_invalid_provider_form_does_not_render_the_key_back(admin_web):
    response = admin_web.post("/providers/", _provider_form("", kind="openai"))
    assert response.status_code == 400
    assert "A base URL is required" in response.context["form"].errors["base_url"][0]
    assert FAKE_KEY not in response.content.decode()
    assert not Provider.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "status"),
    [({"kind": "bedrock"}, "kind", 400), ({"slug": "Not A Slug"}, "slug", 400), ({"slug": "echo"}, "slug", 409)],
)
def test_bad_provider_input_is_an_error_on_its_field(admin_web, echo_provider, overrides, field, status):
    response = admin_web.post("/providers/", _provider_form("https://api.example.com/v1", **overrides))
    assert response.status_code == status
    assert response.context["form"].errors[field]
    assert list(Provider.objects.values_list("slug", flat=True)) == ["echo"]


def test_test_connection_shows_the_outcome_in_the_row(admin_web, openai_provider):
    response = admin_web.post("/providers/openai/test/", headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<tr id="provider-openai">')
    assert 'badge-active">OK</span>' in html
    assert "Connected: 2 model(s) available." in html


def test_a_failed_connection_test_shows_a_redacted_message(admin_web, openai_provider):
    openai_provider.set_api_key("sk-wrong")
    openai_provider.save()
    html = admin_web.post("/providers/openai/test/", headers=HTMX).content.decode()
    assert 'badge-revoked">Failed</span>' in html
    assert "Incorrect API key provided: [redacted]" in html
    assert "sk-wrong" not in html


def test_sync_imports_models_and_says_how_many(admin_web, openai_provider):
    first = admin_web.post("/providers/openai/sync/", headers=HTMX)
    assert first.status_code == 200
    assert "Imported 2 new models." in first.content.decode()
    assert set(Route.objects.values_list("alias", flat=True)) == {"gpt-4o-mini", "text-embedding-3-small"}
    assert "No new models." in admin_web.post("/providers/openai/sync/", headers=HTMX).content.decode()
    assert ProviderModel.objects.count() == 2


def test_a_failed_sync_is_shown_in_the_row(admin_web, openai_provider, fake_upstream):
    fake_upstream.script("status:503")
    response = admin_web.post("/providers/openai/sync/", headers=HTMX)
    assert response.status_code == 200
    assert "OpenAI did not list its models: server_error" in response.content.decode()
    assert not ProviderModel.objects.exists()


def test_sync_without_htmx_redirects_with_a_message(admin_web, echo_provider):
    response = admin_web.post("/providers/echo/sync/", follow=True)
    assert "Imported 1 new model." in response.content.decode()


def test_editing_a_provider_keeps_the_key_unless_a_new_one_is_given(admin_web, openai_provider):
    form = {"name": "OpenAI EU", "base_url": openai_provider.base_url, "api_key": "", "enabled": "on"}
    assert admin_web.post("/providers/openai/edit/", form).status_code == 302
    assert Provider.objects.get(slug="openai").api_key() == FAKE_KEY
    assert admin_web.post("/providers/openai/edit/", {**form, "api_key": "sk-new"}).status_code == 302
    provider = Provider.objects.get(slug="openai")
    assert (provider.name, provider.api_key()) == ("OpenAI EU", "sk-new")
    removed = admin_web.post("/providers/openai/edit/", {**form, "base_url": ""})
    assert removed.status_code == 400
    assert removed.context["form"].errors["base_url"]


def test_deleting_a_provider_removes_its_row(admin_web, echo_model):
    response = admin_web.post("/providers/echo/delete/", headers=HTMX)
    assert (response.status_code, response.content) == (200, b"")
    assert not Provider.objects.exists()
    assert not ProviderModel.objects.exists()


def test_models_page_lists_prices_and_adds_a_model(admin_web, echo_model):
    html = admin_web.get("/models/").content.decode()
    assert "<strong>echo</strong>" in html
    form = {"provider": "echo", "name": "llama3.1:8b", "upstream_id": "llama3.1:8b", "modalities": ["text"]}
    form |= {"context_window": "8192", "input_price_per_mtok": "0.05", "output_price_per_mtok": "0.08"}
    assert admin_web.post("/models/", form).status_code == 302
    model = ProviderModel.objects.get(name="llama3.1:8b")
    assert (model.context_window, model.output_price_per_mtok) == (8192, Decimal("0.08"))
    assert "0.08" in admin_web.get("/models/").content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "status"),
    [
        ({"input_price_per_mtok": "-1"}, "input_price_per_mtok", 400),
        ({"provider": "globex-echo"}, "provider", 400),
        ({"name": "echo"}, "name", 409),
        ({"name": "with space"}, "name", 400),
    ],
)
def test_bad_model_input_is_an_error_on_its_field(admin_web, echo_model, other_tenant, overrides, field, status):
    ProviderFactory(tenant=other_tenant, slug="globex-echo")
    form = {"provider": "echo", "name": "new", "upstream_id": "new", "modalities": ["text"]}
    form |= {"input_price_per_mtok": "0", "output_price_per_mtok": "0", **overrides}
    response = admin_web.post("/models/", form)
    assert response.status_code == status
    assert response.context["form"].errors[field]
    assert list(ProviderModel.objects.filter(tenant=echo_model.tenant).values_list("name", flat=True)) == ["echo"]


def test_editing_and_deleting_a_model(admin_web, echo_model):
    form = {"upstream_id": "echo-2", "modalities": ["text", "embedding"]}
    form |= {"input_price_per_mtok": "1.5", "output_price_per_mtok": "2"}
    assert 'value="echo"' in admin_web.get(f"/models/{echo_model.pk}/edit/").content.decode()
    assert admin_web.post(f"/models/{echo_model.pk}/edit/", form).status_code == 302
    echo_model.refresh_from_db()
    assert (echo_model.upstream_id, echo_model.modalities) == ("echo-2", ["text", "embedding"])
    assert admin_web.post(f"/models/{echo_model.pk}/delete/", headers=HTMX).content == b""
    assert not ProviderModel.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_viewers_and_developers_read_but_cannot_write(client_for, members, echo_model, tenant, role):
    client = client_for(members[role].user)
    providers, models = client.get("/providers/"), client.get("/models/")
    assert "Echo" in providers.content.decode()
    for button in ("Add provider", "Test connection", "Sync models", "Delete"):
        assert button not in providers.content.decode()
    assert "echo" in models.content.decode()
    assert "Add model" not in models.content.decode()
    before = tenant_state(tenant)
    writes = [
        ("/providers/", {"name": "X", "slug": "x", "kind": "echo"}),
        ("/providers/echo/edit/", {"name": "X"}),
        ("/providers/echo/test/", {}),
        ("/providers/echo/sync/", {}),
        ("/providers/echo/delete/", {}),
        ("/models/", {"provider": "echo", "name": "x", "upstream_id": "x", "modalities": ["text"]}),
        (f"/models/{echo_model.pk}/delete/", {}),
    ]
    for url, data in writes:
        data |= {"input_price_per_mtok": "0", "output_price_per_mtok": "0"} if url == "/models/" else {}
        assert client.post(url, data, headers=HTMX).status_code == 403, url
    assert tenant_state(tenant) == before


@pytest.mark.parametrize("session_points_at_tenant", [False, True], ids=["own-session", "tampered-session"])
def test_another_tenants_admin_gets_404_and_changes_nothing(
    client_for, mallory, echo_model, tenant, session_points_at_tenant
):
    client = client_for(mallory)
    if session_points_at_tenant:
        session = client.session
        session[SESSION_KEY] = tenant.pk
        session.save()
    before = tenant_state(tenant)
    for url in ["/providers/echo/edit/", f"/models/{echo_model.pk}/edit/"]:
        assert client.get(url).status_code == 404
    for url in ["/providers/echo/test/", "/providers/echo/sync/", "/providers/echo/delete/"]:
        assert client.post(url, headers=HTMX).status_code == 404
    assert client.post(f"/models/{echo_model.pk}/delete/", headers=HTMX).status_code == 404
    assert 'id="provider-echo"' not in client.get("/providers/").content.decode()
    assert tenant_state(tenant) == before
