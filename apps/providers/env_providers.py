"""Providers from the operator's environment: the standard credential variables of each provider kind, registered
as trusted providers of a tenant (make run's demo seed), their models imported and published as routes.

A provider registered this way remembers a fingerprint of the variables it came from (an HMAC under SECRET_KEY,
in its options: never the key itself). At the next start, variables whose fingerprint matches change nothing, so
what the operator edited since in the portal stays; changed variables (a new key, another URL or API version)
update the provider and import any new models. A provider that cannot be reached is registered anyway and
reported: its models can be synced later."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.utils.crypto import salted_hmac

from apps.core.errors import ApplicationError
from apps.providers.models import Provider, Route
from apps.providers.services import provider_create, provider_sync_models, provider_update
from apps.tenants.models import Tenant

FINGERPRINT = "env_fingerprint"  # the options key holding the variables' fingerprint


@dataclass(frozen=True)
class EnvProvider:
    """One kind's variables: `key_var` registers it; `url_var` (else `default_url`) is its base URL; `option_vars`
    maps an option of the kind to the variable that sets it."""

    slug: str
    name: str
    kind: str
    key_var: str
    url_var: str
    default_url: str = ""  # empty: the URL variable is required
    option_vars: Mapping[str, str] = field(default_factory=dict)

    def options(self, environ: Mapping[str, str]) -> dict[str, object]:
        options: dict[str, object] = {}
        for option, variable in self.option_vars.items():
            if value := environ.get(variable, "").strip():
                options[option] = _deployments(value) if option == "deployments" else value
        return options


ENV_PROVIDERS = (
    EnvProvider("openai", "OpenAI", "openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    EnvProvider(
        "anthropic", "Anthropic", "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com"
    ),
    EnvProvider(
        "gemini",
        "Google Gemini",
        "gemini",
        "GEMINI_API_KEY",
        "GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com",
    ),
    EnvProvider(
        "azure-openai",
        "Azure OpenAI",
        "azure_openai",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        option_vars={"api_version": "AZURE_OPENAI_API_VERSION", "deployments": "AZURE_OPENAI_DEPLOYMENTS"},
    ),
)


@dataclass(frozen=True)
class EnvOutcome:
    """What became of one kind's variables: `action` created, updated, unchanged or skipped."""

    name: str
    action: str
    imported: int = 0
    routes: int = 0
    problem: str = ""


def env_providers_register(*, tenant: Tenant, environ: Mapping[str, str]) -> list[EnvOutcome]:
    """A provider of `tenant` for each kind whose key variable is set in `environ`, created or brought up to date
    with its variables (see the module's docstring); nothing is written for variables that did not change."""
    outcomes = []
    for spec in ENV_PROVIDERS:
        if api_key := environ.get(spec.key_var, "").strip():
            outcomes.append(_register(spec, tenant=tenant, environ=environ, api_key=api_key))
    return outcomes


def _register(spec: EnvProvider, *, tenant: Tenant, environ: Mapping[str, str], api_key: str) -> EnvOutcome:
    base_url = environ.get(spec.url_var, "").strip() or spec.default_url
    if not base_url:
        return EnvOutcome(spec.name, "skipped", problem=f"{spec.key_var} is set but {spec.url_var} is not")
    options = spec.options(environ)
    fingerprint = _fingerprint(spec, base_url=base_url, api_key=api_key, options=options)
    provider = Provider.objects.filter(tenant=tenant, slug=spec.slug).first()
    if provider is not None and provider.kind != spec.kind:
        problem = f"provider {spec.slug!r} exists with kind {provider.kind!r}; left as it is"
        return EnvOutcome(spec.name, "skipped", problem=problem)
    if provider is not None and provider.options.get(FINGERPRINT) == fingerprint:
        return EnvOutcome(spec.name, "unchanged")
    action = "created" if provider is None else "updated"
    try:
        if provider is None:
            provider = provider_create(
                tenant=tenant,
                actor_membership=None,
                slug=spec.slug,
                name=spec.name,
                kind=spec.kind,
                base_url=base_url,
                api_key=api_key,
                options={**options, FINGERPRINT: fingerprint},
                trusted=True,  # the operator's own setting: its URL may be a local Ollama or vLLM
            )
        else:
            kept = {name: value for name, value in provider.options.items() if name not in spec.option_vars}
            data = {"base_url": base_url, "api_key": api_key, "options": {**kept, **options, FINGERPRINT: fingerprint}}
            provider = provider_update(provider=provider, actor_membership=None, data=data)
    except ApplicationError as exc:  # e.g. a URL no provider may have
        where = spec.url_var if exc.field == "base_url" else spec.slug
        return EnvOutcome(spec.name, "skipped", problem=f"{where}: {exc.message}")
    try:
        models = provider_sync_models(provider=provider, actor_membership=None)
    except ApplicationError as exc:  # unreachable, refused the key…: registered anyway, synced later
        return EnvOutcome(spec.name, action, problem=exc.message)
    routes = Route.objects.filter(tenant=tenant, deployments__model__in=models).count()
    return EnvOutcome(spec.name, action, imported=len(models), routes=routes)


def _fingerprint(spec: EnvProvider, *, base_url: str, api_key: str, options: Mapping[str, object]) -> str:
    variables = json.dumps([spec.kind, base_url, api_key, options], sort_keys=True)
    return salted_hmac("apps.providers.env_providers", variables, algorithm="sha256").hexdigest()


def _deployments(value: str) -> dict[str, str]:
    """`AZURE_OPENAI_DEPLOYMENTS`: comma-separated deployment names, each `name` or `name=model`."""
    pairs = (item.strip().partition("=") for item in value.split(","))
    return {name.strip(): (model.strip() or name.strip()) for name, _, model in pairs if name.strip()}
