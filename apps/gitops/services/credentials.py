"""Secrets of providers in definition files: always references, never values.

- `env:VARIABLE`: the variable's value where the apply runs (a CI job's masked variable, the portal's environment);
- `credential:<provider slug>`: what the portal already stores for that provider of the tenant (encrypted).

They stand for the provider's API key and for the values of its credential-carrying headers (options.headers whose
name says authorization, key, token, secret, password or cookie). The export writes `credential:<its own slug>` for
each stored secret, or the `env:` reference the applied file gave for it (services/secret_references.py); a plan
compares an `env:` reference with the variable's current value."""

from __future__ import annotations

import os
from typing import Any

from apps.core.errors import ApplicationError
from apps.gitops.services.documents import Document
from apps.gitops.services.secret_references import kept_reference, secret_references_remember
from apps.gitops.services.secrets import SECRET_HEADERS
from apps.providers.models import Provider
from apps.tenants.models import Tenant

CREDENTIAL_PREFIX, ENV_PREFIX = "credential:", "env:"


def _secret_headers(options: dict[str, Any]) -> dict[str, Any]:
    headers = options.get("headers")
    if not isinstance(headers, dict):
        return {}
    return {name: value for name, value in headers.items() if SECRET_HEADERS.search(str(name))}


def exported_secrets(provider: Provider) -> tuple[str | None, dict[str, Any]]:
    """The provider's api_key and options as a file holds them: the `env:` reference a file gave for a secret while
    it still holds that variable's value, `credential:<slug>` otherwise."""
    reference = f"{CREDENTIAL_PREFIX}{provider.slug}"
    options = dict(provider.options)
    if hidden := _secret_headers(options):
        options["headers"] = {
            **options["headers"],
            **{
                name: kept_reference(provider, f"options.headers.{name}", str(value)) or reference
                for name, value in hidden.items()
            },
        }
    if not provider.has_credentials:
        return None, options
    return kept_reference(provider, "api_key", provider.api_key()) or reference, options


def _resolve(reference: str, *, field: str, stored: str | None, own_slug: str, tenant: Tenant) -> str:
    """The value a reference stands for; `stored` is the provider's own stored value (None: nothing stored)."""
    if reference.startswith(ENV_PREFIX):
        variable = reference.removeprefix(ENV_PREFIX)
        if not os.environ.get(variable):
            raise ApplicationError(f"the environment variable {variable} is not set where this runs", field=field)
        return os.environ[variable]
    slug = reference.removeprefix(CREDENTIAL_PREFIX)
    if slug == own_slug and stored:
        return stored
    source = Provider.objects.for_tenant(tenant).filter(slug=slug).first() if slug != own_slug else None
    value = None
    if source is not None:
        value = source.api_key() if field == "api_key" else _secret_headers(source.options).get(field.split(".")[-1])
    if not value:
        raise ApplicationError(f"no credential is stored in the portal for provider {slug!r}", field=field)
    return value


def resolved_secrets(data: dict[str, Any], provider: Provider | None, tenant: Tenant) -> tuple[str, dict[str, Any]]:
    """(api key to store, "" to keep the stored one; options with header values resolved) of a provider's file."""
    stored_key = provider.api_key() if provider is not None and provider.has_credentials else None
    stored_headers = _secret_headers(provider.options) if provider is not None else {}
    api_key = ""
    if data["api_key"]:
        value = _resolve(data["api_key"], field="api_key", stored=stored_key, own_slug=data["slug"], tenant=tenant)
        api_key = "" if value == stored_key else value
    options = dict(data["options"])
    if references := _secret_headers(options):
        resolved = {
            name: _resolve(
                reference,
                field=f"options.headers.{name}",
                stored=stored_headers.get(name),
                own_slug=data["slug"],
                tenant=tenant,
            )
            for name, reference in references.items()
        }
        options["headers"] = {**options["headers"], **resolved}
    return api_key, options


def applied_references_keep(*, provider: Provider, data: dict[str, Any]) -> None:
    """After a provider's file is applied: keep its `env:` references for the next export."""
    file_headers = _secret_headers(data["options"])
    stored_headers = _secret_headers(provider.options)
    secret_references_remember(
        provider=provider,
        references={"api_key": data["api_key"]}
        | {f"options.headers.{name}": reference for name, reference in file_headers.items()},
        values={"api_key": provider.api_key() if provider.has_credentials else ""}
        | {f"options.headers.{name}": str(value) for name, value in stored_headers.items()},
    )


def _is_env_value(reference: str, stored: str | None) -> bool:
    return bool(stored) and reference.startswith(ENV_PREFIX) and stored == os.environ.get(reference[len(ENV_PREFIX) :])


def _as_planned(current: Any, wanted: str, stored: str | None, slug: str) -> Any:
    """The current side of one secret: the file's `env:` reference when the stored secret is that variable's value
    here; the file's kept `env:` reference, when this environment does not confirm it, stands as
    `credential:<slug>` (applying the file would store another value, so the plan shows a change)."""
    if _is_env_value(wanted, stored):
        return wanted
    if current == wanted and wanted.startswith(ENV_PREFIX):
        return f"{CREDENTIAL_PREFIX}{slug}"
    return current


def matching_references(current: Document, desired: Document, tenant: Tenant) -> Document:
    """The current document with each `env:` reference of the file in place of `credential:<slug>` when the stored
    secret is that variable's value, so that an unchanged secret plans no change."""
    provider = Provider.objects.for_tenant(tenant).get(slug=current.key)
    data = {**current.data, "options": dict(current.data["options"])}
    stored_key = provider.api_key() if provider.has_credentials else None
    data["api_key"] = _as_planned(data["api_key"], desired.data["api_key"] or "", stored_key, provider.slug)
    stored = _secret_headers(provider.options)
    wanted = _secret_headers(desired.data["options"])
    for name in stored:
        current_header = data["options"]["headers"][name]
        planned = _as_planned(current_header, str(wanted.get(name, "")), stored[name], provider.slug)
        data["options"]["headers"] = {**data["options"]["headers"], name: planned}
    return Document(current.kind, current.key, current.path, data)
