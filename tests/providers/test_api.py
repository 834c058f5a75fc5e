"""Providers, models and routes through the REST API: CRUD, the write-only credential, connection tests and model
sync against a fake OpenAI upstream, and who may change what."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from apps.core.models import AuditEvent
from apps.providers.models import Deployment, Provider, ProviderModel, Route
from apps.tenants.models import Role
from tests.conftest import FAKE_KEY
from tests.helpers import API, tenant_state

pytestmark = pytest.mark.django_db

T = f"{API}/tenants/acme"
PROVIDERS, MODELS, ROUTES = f"{T}/providers/", f"{T}/models/", f"{T}/routes/"


@pytest.fixture
def admin_api(members, api_client_for):
    return api_client_for(members[Role.ADMIN].user)


@pytest.fixture
def openai_provider(admin_api, fake_upstream) -> dict:
    """An OpenAI-compatible provider of `tenant` pointing at the fake upstream, created through the API."""
    body = {
        "slug": "openai",
        "name": "OpenAI",
        "kind": "openai",
        "base_url": fake_upstream.base_url,
        "api_key": FAKE_KEY,
    }
    response = admin_api.post(PROVIDERS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("action", "changes", "object_repr")))


def test_creating_a_provider_stores_the_key_encrypted_and_never_returns_it(admin_api, fake_upstream, caplog):
    caplog.set_level(logging.DEBUG)
    body = {
        "slug": "openai",
        "name": "OpenAI",
        "kind": "openai",
        "base_url": fake_upstream.base_url,
        "api_key": FAKE_KEY,
    }
    created = admin_api.post(PROVIDERS, body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["has_credentials"] is True
    assert "api_key" not in created.json()
    renamed = admin_api.patch(
        f"{PROVIDERS}openai/", {"name": "OpenAI EU", "api_key": "sk-second-secret"}, format="json"
    )
    responses = [created, renamed, admin_api.get(PROVIDERS), admin_api.get(f"{PROVIDERS}openai/")]
    for response in responses:
        assert response.status_code in (200, 201)
        assert FAKE_KEY not in response.content.decode()
        assert "sk-second-secret" not in response.content.decode()
    stored = Provider.objects.get(slug="openai")
    assert stored.credentials_encrypted.startswith("gAAAAA")  # a Fernet token
    assert "sk-second-secret" not in stored.credentials_encrypted
    assert stored.api_key() == "sk-second-secret"
    assert FAKE_KEY not in _audit_text()
    assert "sk-second-secret" not in _audit_text()
    assert AuditEvent.objects.get(action="provider.update").changes["credentials"] == ["(replaced)", "(replaced)"]
    assert FAKE_KEY not in caplog.text
    assert "sk-second-secret" not in caplog.text


def test_an_update_without_a_key_keeps_the_stored_one(admin_api, openai_provider):
    response = admin_api.patch(f"{PROVIDERS}openai/", {"enabled": False, "api_key": ""}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["enabled"], response.json()["has_credentials"]) == (False, True)
    assert Provider.objects.get(slug="openai").api_key() == FAKE_KEY


def test_connection_test_against_the_fake_upstream(admin_api, openai_provider):
    response = admin_api.post(f"{PROVIDERS}openai/test/")
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "message": "Connected: 2 model(s) available."}
    provider = admin_api.get(f"{PROVIDERS}openai/").json()
    assert (provider["last_check_ok"], provider["last_check_message"]) == (True, "Connected: 2 model(s) available.")
    assert provider["last_checked_at"]


def test_a_refused_key_fails_the_test_without_echoing_the_key(admin_api, fake_upstream):
    # The fake answers 401 with "Incorrect API key provided: sk-wrong.", as OpenAI echoes (part of) a wrong key.
    body = {"slug": "bad", "name": "Bad", "kind": "openai", "base_url": fake_upstream.base_url, "api_key": "sk-wrong"}
    admin_api.post(PROVIDERS, body, format="json")
    response = admin_api.post(f"{PROVIDERS}bad/test/")
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["message"].startswith("auth: Incorrect API key provided: [redacted]")
    assert "sk-wrong" not in admin_api.get(f"{PROVIDERS}bad/").content.decode()


def test_the_echo_provider_connects_offline(admin_api, echo_provider):
    assert admin_api.post(f"{PROVIDERS}echo/test/").json() == {
        "ok": True,
        "message": "Connected: 1 model(s) available.",
    }


def test_sync_imports_models_with_known_prices_and_publishes_routes_once(admin_api, openai_provider):
    imported = admin_api.post(f"{PROVIDERS}openai/sync-models/")
    assert imported.status_code == 200, imported.content
    assert {m["name"]: m["provider"] for m in imported.json()} == {
        "gpt-4o-mini": "openai",
        "text-embedding-3-small": "openai",
    }
    mini = ProviderModel.objects.get(name="gpt-4o-mini")
    assert (mini.input_price_per_mtok, mini.output_price_per_mtok) == (Decimal("0.15"), Decimal("0.60"))
    assert ProviderModel.objects.get(name="text-embedding-3-small").modalities == ["embedding"]
    routes = admin_api.get(ROUTES).json()["results"]
    assert {(r["alias"], r["deployments"][0]["model"], r["deployments"][0]["provider"]) for r in routes} == {
        ("gpt-4o-mini", "gpt-4o-mini", "openai"),
        ("text-embedding-3-small", "text-embedding-3-small", "openai"),
    }
    again = admin_api.post(f"{PROVIDERS}openai/sync-models/")
    assert (again.status_code, again.json()) == (200, [])
    assert (ProviderModel.objects.count(), Route.objects.count(), Deployment.objects.count()) == (2, 2, 2)


def test_a_failing_sync_is_a_502_that_writes_nothing(admin_api, openai_provider, fake_upstream):
    fake_upstream.script("status:500")
    response = admin_api.post(f"{PROVIDERS}openai/sync-models/")
    assert response.status_code == 502, response.content
    assert response.json()["message"].startswith("OpenAI did not list its models: server_error")
    assert not ProviderModel.objects.exists()
    assert not AuditEvent.objects.filter(action="provider.sync_models").exists()


def test_provider_delete_takes_its_models_and_deployments(admin_api, route):
    assert admin_api.delete(f"{PROVIDERS}echo/").status_code == 204
    assert not Provider.objects.exists()
    assert not Deployment.objects.exists()
    assert admin_api.get(f"{PROVIDERS}echo/").status_code == 404


def test_model_crud(admin_api, echo_provider):
    body = {"provider": "echo", "name": "llama3.1:8b", "upstream_id": "llama3.1:8b", "input_price_per_mtok": "0.05"}
    created = admin_api.post(MODELS, body, format="json")
    assert created.status_code == 201, created.content
    url = f"{MODELS}{created.json()['id']}/"
    assert (created.json()["provider"], created.json()["modalities"]) == ("echo", ["text"])
    changed = admin_api.patch(url, {"output_price_per_mtok": "0.1", "context_window": 128000}, format="json")
    assert changed.status_code == 200, changed.content
    assert admin_api.get(url).json()["output_price_per_mtok"] == "0.100000"
    assert admin_api.get(url).json()["context_window"] == 128000
    assert [m["name"] for m in admin_api.get(MODELS).json()["results"]] == ["llama3.1:8b"]
    assert admin_api.delete(url).status_code == 204
    assert admin_api.get(url).status_code == 404


def test_route_crud_with_an_alias_full_of_punctuation(admin_api, echo_model):
    alias = "team.a/llama3.1:8b@eu"
    created = admin_api.post(ROUTES, {"alias": alias, "description": "EU llama", "retries": 2}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["deployments"] == []
    url = f"{ROUTES}{alias}/"
    assert admin_api.get(url).json()["description"] == "EU llama"
    changed = admin_api.patch(url, {"enabled": False, "deadline_seconds": 30}, format="json")
    assert (changed.json()["enabled"], changed.json()["deadline_seconds"]) == (False, 30.0)
    assert admin_api.delete(url).status_code == 204
    assert not Route.objects.filter(alias=alias).exists()


def test_deployments_are_added_changed_and_removed_on_a_route_with_slashes(admin_api, echo_model):
    admin_api.post(ROUTES, {"alias": "openai/smart"}, format="json")
    added = admin_api.post(f"{ROUTES}openai/smart/deployments/", {"model": "echo", "weight": 3}, format="json")
    assert added.status_code == 201, added.content
    assert {k: added.json()[k] for k in ("model", "provider", "weight", "priority")} == {
        "model": "echo",
        "provider": "echo",
        "weight": 3,
        "priority": 0,
    }
    url = f"{ROUTES}openai/smart/deployments/{added.json()['id']}/"
    changed = admin_api.patch(url, {"priority": 1, "timeout_seconds": 5, "enabled": False}, format="json")
    assert changed.status_code == 200, changed.content
    listed = admin_api.get(f"{ROUTES}openai/smart/").json()["deployments"]
    assert [(d["priority"], d["timeout_seconds"], d["enabled"]) for d in listed] == [(1, 5.0, False)]
    assert admin_api.delete(url).status_code == 204
    assert admin_api.get(f"{ROUTES}openai/smart/").json()["deployments"] == []
    actions = list(
        AuditEvent.objects.filter(action__startswith="route.").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["route.create", "route.add_deployment", "route.update_deployment", "route.remove_deployment"]


def _writes(deployment_id: int) -> dict[str, tuple[str, str, dict | None]]:
    return {
        "provider-create": ("post", PROVIDERS, {"slug": "new", "name": "New", "kind": "echo"}),
        "provider-update": ("patch", f"{PROVIDERS}echo/", {"name": "Renamed"}),
        "provider-test": ("post", f"{PROVIDERS}echo/test/", None),
        "provider-sync": ("post", f"{PROVIDERS}echo/sync-models/", None),
        "provider-delete": ("delete", f"{PROVIDERS}echo/", None),
        "model-create": ("post", MODELS, {"provider": "echo", "name": "new", "upstream_id": "new"}),
        "route-create": ("post", ROUTES, {"alias": "new"}),
        "route-update": ("patch", f"{ROUTES}smart/", {"retries": 3}),
        "route-delete": ("delete", f"{ROUTES}smart/", None),
        "deployment-update": ("patch", f"{ROUTES}smart/deployments/{deployment_id}/", {"weight": 7}),
        "deployment-remove": ("delete", f"{ROUTES}smart/deployments/{deployment_id}/", None),
    }


WRITE_MATRIX = [
    (role, write, role in (Role.ADMIN, Role.OWNER))
    for role in (Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER)
    for write in _writes(0)
]


@pytest.mark.parametrize(("role", "write", "allowed"), WRITE_MATRIX)
def test_only_admins_and_owners_change_providers_models_and_routes(
    members, route, api_client_for, role, write, allowed
):
    method, path, body = _writes(route.deployments.get().pk)[write]
    before = tenant_state(route.tenant)
    response = getattr(api_client_for(members[role].user), method)(path, body, format="json")
    if allowed:
        assert response.status_code in (200, 201, 204), response.content
    else:
        assert response.status_code == 403, response.content
        assert "admin role" in response.json()["message"]
        assert tenant_state(route.tenant) == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER])
def test_every_member_reads_providers_models_and_routes(members, route, api_client_for, role):
    client = api_client_for(members[role].user)
    assert [p["slug"] for p in client.get(PROVIDERS).json()["results"]] == ["echo"]
    assert client.get(f"{PROVIDERS}echo/").json()["has_credentials"] is False
    assert [m["name"] for m in client.get(MODELS).json()["results"]] == ["echo"]
    assert client.get(f"{ROUTES}smart/").json()["deployments"][0]["model"] == "echo"
