"""make run's seed registers a provider for each standard credential variable and publishes its models."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from apps.providers.env_providers import ENV_PROVIDERS
from apps.providers.models import Provider, ProviderModel, Route
from tests.conftest import FAKE_KEY

pytestmark = pytest.mark.django_db


def seed(monkeypatch, **env) -> tuple[str, str]:
    for spec in ENV_PROVIDERS:  # only the variables a test sets, whatever the machine's environment holds
        for name in (spec.key_var, spec.url_var, *spec.option_vars.values()):
            monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-password-for-tests")
    out, err = StringIO(), StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_without_credentials_only_the_echo_route_exists(monkeypatch):
    seed(monkeypatch)
    assert list(Route.objects.filter(tenant__slug="demo").values_list("alias", flat=True)) == ["echo"]
    assert list(Provider.objects.values_list("kind", flat=True)) == ["echo"]


def test_openai_credentials_import_the_model_list_as_routes(monkeypatch, fake_upstream):
    out, _ = seed(monkeypatch, OPENAI_API_KEY=FAKE_KEY, OPENAI_BASE_URL=fake_upstream.base_url)
    provider = Provider.objects.get(slug="openai")
    assert provider.base_url == fake_upstream.base_url
    assert provider.api_key() == FAKE_KEY
    assert FAKE_KEY not in provider.credentials_encrypted
    upstream_ids = {m["id"] for m in fake_upstream.models}
    assert set(ProviderModel.objects.filter(provider=provider).values_list("upstream_id", flat=True)) == upstream_ids
    aliases = set(Route.objects.filter(tenant__slug="demo").values_list("alias", flat=True))
    assert upstream_ids <= aliases
    assert "imported" in out
    assert FAKE_KEY not in out
    [request] = fake_upstream.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["Authorization"] == f"Bearer {FAKE_KEY}"


def test_a_provider_from_the_environment_is_trusted_to_reach_a_local_server(monkeypatch, fake_upstream, settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = []  # an Ollama on this machine, and no allow-list
    seed(monkeypatch, OPENAI_API_KEY=FAKE_KEY, OPENAI_BASE_URL=fake_upstream.base_url)
    assert Provider.objects.get(slug="openai").trusted is True
    assert ProviderModel.objects.filter(provider__slug="openai").exists()


def test_seed_is_idempotent_with_a_provider(monkeypatch, fake_upstream):
    seed(monkeypatch, OPENAI_API_KEY=FAKE_KEY, OPENAI_BASE_URL=fake_upstream.base_url)
    counts = (Provider.objects.count(), ProviderModel.objects.count(), Route.objects.count())
    seed(monkeypatch, OPENAI_API_KEY=FAKE_KEY, OPENAI_BASE_URL=fake_upstream.base_url)
    assert (Provider.objects.count(), ProviderModel.objects.count(), Route.objects.count()) == counts


def test_unreachable_provider_is_reported_and_the_seed_goes_on(monkeypatch):
    _, err = seed(monkeypatch, OPENAI_API_KEY="sk-x", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    assert "sync it later" in err
    assert Route.objects.filter(alias="echo").exists()
