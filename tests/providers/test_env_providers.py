"""make run's seed and the Anthropic, Gemini and Azure OpenAI variables: each kind registered against its fake,
its models imported and published; a provider brought up to date when its variables change since the last start,
and left alone (no write at all) when they do not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apps.core.models import AuditEvent
from apps.providers.env_providers import ENV_PROVIDERS, FINGERPRINT
from apps.providers.models import Provider, ProviderModel, Route
from apps.providers.services import provider_create, provider_update
from apps.tenants.models import Tenant
from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.fakes.azure_openai_upstream import FakeAzureOpenAIUpstream
from tests.fakes.gemini_upstream import FakeGeminiUpstream
from tests.providers.test_seed_from_env import seed

pytestmark = pytest.mark.django_db

OLD, NEW = "key-from-last-start", "key-rotated-since"
# kind -> (fake, slug, key variable, URL variable, the header carrying the key, the models it publishes)
KINDS = {
    "anthropic": (
        FakeAnthropicUpstream,
        "anthropic",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "x-api-key",
        {"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"},
    ),
    "gemini": (
        FakeGeminiUpstream,
        "gemini",
        "GEMINI_API_KEY",
        "GEMINI_BASE_URL",
        "x-goog-api-key",
        {"gemini-2.5-flash", "gemini-2.0-flash-001", "gemini-embedding-001"},
    ),
    "azure_openai": (
        FakeAzureOpenAIUpstream,
        "azure-openai",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "api-key",
        {"chat", "embed", "legacy"},
    ),
}


@pytest.fixture(autouse=True)
def _local_fakes(settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = []  # providers from the environment are trusted: no allow-list needed


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_registered_with_its_models_published(monkeypatch, kind):
    fake_class, slug, key_var, url_var, header, published = KINDS[kind]
    with fake_class(api_key=OLD) as fake:
        out, err = seed(monkeypatch, **{key_var: OLD, url_var: fake.base_url})

    provider = Provider.objects.get(tenant__slug="demo", slug=slug)
    assert (provider.kind, provider.base_url, provider.api_key(), provider.trusted) == (kind, fake.base_url, OLD, True)
    assert set(ProviderModel.objects.filter(provider=provider).values_list("upstream_id", flat=True)) == published
    assert published <= set(Route.objects.filter(tenant__slug="demo").values_list("alias", flat=True))
    assert fake.requests[-1].headers[header] == OLD
    assert "(created): imported" in out
    assert err == ""


def test_azure_takes_its_api_version_and_a_deployment_list_from_the_environment(monkeypatch):
    with FakeAzureOpenAIUpstream(api_key=OLD) as fake:
        seed(
            monkeypatch,
            AZURE_OPENAI_API_KEY=OLD,
            AZURE_OPENAI_ENDPOINT=fake.base_url,
            AZURE_OPENAI_API_VERSION="2024-06-01",
            AZURE_OPENAI_DEPLOYMENTS="prod-chat=gpt-4o-mini, vectors=text-embedding-3-large",
        )

    provider = Provider.objects.get(slug="azure-openai")
    assert provider.options["api_version"] == "2024-06-01"
    assert provider.options["deployments"] == {"prod-chat": "gpt-4o-mini", "vectors": "text-embedding-3-large"}
    models = {m.upstream_id: m for m in ProviderModel.objects.filter(provider=provider)}
    assert set(models) == {"prod-chat", "vectors"}
    assert str(models["prod-chat"].input_price_per_mtok) == "0.150000"  # gpt-4o-mini's price
    assert models["vectors"].modalities == ["embedding"]
    assert fake.requests == []  # the listed deployments were not asked for


def test_azure_key_without_endpoint_is_reported_and_nothing_registered(monkeypatch):
    _, err = seed(monkeypatch, AZURE_OPENAI_API_KEY=OLD)

    assert "AZURE_OPENAI_API_KEY is set but AZURE_OPENAI_ENDPOINT is not" in err
    assert not Provider.objects.filter(kind="azure_openai").exists()


def test_a_rotated_key_updates_the_provider_and_is_the_one_sent_upstream(monkeypatch):
    with FakeAnthropicUpstream(api_key=OLD) as fake:
        seed(monkeypatch, ANTHROPIC_API_KEY=OLD, ANTHROPIC_BASE_URL=fake.base_url)
        fake.api_key = NEW  # the old key no longer works upstream
        fake.requests.clear()
        out, err = seed(monkeypatch, ANTHROPIC_API_KEY=NEW, ANTHROPIC_BASE_URL=fake.base_url)

    provider = Provider.objects.get(slug="anthropic")
    assert provider.api_key() == NEW
    assert "Anthropic (updated)" in out
    assert err == ""
    assert {request.headers["x-api-key"] for request in fake.requests} == {NEW}
    assert AuditEvent.objects.filter(action="provider.update", object_repr=str(provider)).count() == 1


def test_a_moved_url_updates_the_provider_and_imports_from_the_new_one(monkeypatch):
    with FakeGeminiUpstream(api_key=OLD) as first, FakeGeminiUpstream(api_key=OLD) as second:
        second.models = [*second.models[:1], {**second.models[0], "name": "models/gemini-2.5-pro"}]
        seed(monkeypatch, GEMINI_API_KEY=OLD, GEMINI_BASE_URL=first.base_url)
        seed(monkeypatch, GEMINI_API_KEY=OLD, GEMINI_BASE_URL=second.base_url)

    provider = Provider.objects.get(slug="gemini")
    assert provider.base_url == second.base_url
    assert len(second.requests) == 1
    assert ProviderModel.objects.filter(provider=provider, upstream_id="gemini-2.5-pro").exists()


def test_unchanged_variables_write_nothing_and_keep_the_operators_edits(monkeypatch):
    with FakeAzureOpenAIUpstream(api_key=OLD) as fake:
        env = {"AZURE_OPENAI_API_KEY": OLD, "AZURE_OPENAI_ENDPOINT": fake.base_url}
        seed(monkeypatch, **env)
        provider = Provider.objects.get(slug="azure-openai")
        provider_update(provider=provider, actor_membership=None, data={"name": "Azure (renamed in the portal)"})
        before = Provider.objects.get(pk=provider.pk).updated_at
        events = AuditEvent.objects.filter(action__startswith="provider.").count()
        fake.requests.clear()

        out, _ = seed(monkeypatch, **env)

    provider.refresh_from_db()
    assert (provider.name, provider.updated_at) == ("Azure (renamed in the portal)", before)
    assert AuditEvent.objects.filter(action__startswith="provider.").count() == events
    assert fake.requests == []
    assert "Azure OpenAI: unchanged since the last start" in out


def test_a_provider_registered_before_fingerprints_is_brought_up_to_date(monkeypatch):
    with FakeAnthropicUpstream(api_key=NEW) as fake:
        seed(monkeypatch)
        provider_create(
            tenant=Tenant.objects.get(slug="demo"),
            actor_membership=None,
            slug="anthropic",
            name="Anthropic",
            kind="anthropic",
            base_url=fake.base_url,
            api_key=OLD,
            trusted=True,
        )
        seed(monkeypatch, ANTHROPIC_API_KEY=NEW, ANTHROPIC_BASE_URL=fake.base_url)

    assert Provider.objects.get(slug="anthropic").api_key() == NEW


def test_the_fingerprint_is_not_the_key(monkeypatch):
    with FakeAnthropicUpstream(api_key=OLD) as fake:
        seed(monkeypatch, ANTHROPIC_API_KEY=OLD, ANTHROPIC_BASE_URL=fake.base_url)

    provider = Provider.objects.get(slug="anthropic")
    assert len(provider.options[FINGERPRINT]) == 64
    assert OLD not in str(provider.options)
    assert OLD not in provider.credentials_encrypted


def test_an_unreachable_provider_is_registered_and_the_seed_goes_on(monkeypatch):
    _, err = seed(monkeypatch, GEMINI_API_KEY=OLD, GEMINI_BASE_URL="http://127.0.0.1:9")

    assert "Google Gemini (created)" in err
    assert "sync it later" in err
    assert Provider.objects.filter(slug="gemini").exists()
    assert Route.objects.filter(alias="echo").exists()


def test_every_variable_is_listed_in_env_example():
    listed = set(
        re.findall(r"^([A-Z0-9_]+)=", (Path(__file__).resolve().parents[2] / ".env.example").read_text(), re.MULTILINE)
    )
    read = {name for spec in ENV_PROVIDERS for name in (spec.key_var, spec.url_var, *spec.option_vars.values())}

    assert read - listed == set()
