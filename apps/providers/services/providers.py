"""Providers (accounts at an LLM provider, credential encrypted) and their models: create, update, test, sync."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from apps.core.errors import ApplicationError, NotPermitted
from apps.core.netguard import address_refusal, url_problem
from apps.core.services import model_diff
from apps.providers.catalog_prices import known_price
from apps.providers.clients.azure_openai import API_VERSION_FORMAT, configured_deployments
from apps.providers.clients.base import ModelInfo, ProviderError, Upstream
from apps.providers.clients.registry import CLIENT_KINDS
from apps.providers.models import Deployment, Modality, Provider, ProviderModel, Route
from apps.providers.outbound import provider_address_policy, provider_client
from apps.providers.services.base import ProviderUnavailable, audited, require_admin, save_checked
from apps.tenants.models import Membership, Tenant

CONNECTION_TEST_TIMEOUT = 10.0


def _check_reachable(provider: Provider) -> None:
    """A tenant's provider may not point into the portal's network unless the operator allows it. The check made
    when connecting enforces this whatever DNS answers later; this one gives a clear error when saving."""
    if not provider.base_url:
        return
    if problem := url_problem(provider.base_url):
        raise ApplicationError(problem, field="base_url")
    if refusal := address_refusal(provider.base_url, provider_address_policy(trusted=provider.trusted)):
        raise ApplicationError(
            f"{refusal}: providers reach such addresses only when the operator allows them "
            "(PROVIDER_ALLOW_PRIVATE_NETWORKS, or a provider the operator trusts).",
            field="base_url",
        )


def _check_options(kind: str, options: dict[str, Any]) -> None:
    """The options a kind reads, checked when saved rather than at its first call."""
    if kind != "azure_openai":
        return
    if "api_version" in options and not API_VERSION_FORMAT.fullmatch(str(options["api_version"])):
        message = "Azure OpenAI's api-version is a date, e.g. 2024-10-21 or 2025-04-01-preview."
        raise ApplicationError(message, field="options.api_version")
    if "deployments" in options:
        try:
            configured_deployments(options["deployments"])
        except ProviderError as exc:
            raise ApplicationError(exc.message, field="options.deployments") from None


@sensitive_variables("api_key")  # kept out of error reports, like the audit trail
@transaction.atomic
def provider_create(
    *,
    tenant: Tenant,
    actor_membership: Membership | None,
    slug: str,
    name: str,
    kind: str,
    base_url: str = "",
    api_key: str = "",
    options: dict | None = None,
    trusted: bool = False,
) -> Provider:
    """`trusted` (the provider may reach internal addresses) is the operator's to give: seed, commands."""
    require_admin(actor_membership)
    if trusted and actor_membership is not None:
        raise NotPermitted("Only the operator marks a provider as trusted.")
    if kind not in CLIENT_KINDS:
        raise ApplicationError(f"Unknown provider kind {kind!r}.", field="kind")
    if kind != "echo" and not base_url:
        raise ApplicationError("A base URL is required for this kind.", field="base_url")
    provider = Provider(
        tenant=tenant, slug=slug, name=name, kind=kind, base_url=base_url, options=options or {}, trusted=trusted
    )
    provider.set_api_key(api_key)
    _check_reachable(provider)
    _check_options(kind, provider.options)
    save_checked(provider, field="slug", message=f"A provider with slug {slug!r} already exists.")
    # The credential is never part of an audit entry: only whether one is set.
    changes = {"kind": kind, "base_url": base_url, "credentials": bool(api_key), "trusted": trusted}
    audited("provider.create", provider, changes)
    return provider


@sensitive_variables("data")
@transaction.atomic
def provider_update(*, provider: Provider, actor_membership: Membership | None, data: dict[str, Any]) -> Provider:
    """Change name, base URL, options, enabled; `api_key` replaces the credential when given (empty: keep).
    The operator's trust went with the address: a member who moves a trusted provider elsewhere ends it."""
    require_admin(actor_membership)
    if provider.kind != "echo" and "base_url" in data and not data["base_url"]:
        raise ApplicationError("A base URL is required for this kind.", field="base_url")
    changes = model_diff(provider, {k: v for k, v in data.items() if k in {"name", "base_url", "options", "enabled"}})
    if "base_url" in changes and provider.trusted and actor_membership is not None:
        changes["trusted"] = [True, False]
    for field, (_, new) in changes.items():
        setattr(provider, field, new)
    if "base_url" in changes:
        _check_reachable(provider)
    if "options" in changes:
        _check_options(provider.kind, provider.options)
    if data.get("api_key"):
        provider.set_api_key(data["api_key"])
        changes["credentials"] = ["(replaced)", "(replaced)"]
    if changes:
        save_checked(provider, field="slug", message="Conflicting provider.")
        audited("provider.update", provider, changes)
    return provider


@transaction.atomic
def provider_delete(*, provider: Provider, actor_membership: Membership | None) -> None:
    require_admin(actor_membership)
    audited("provider.delete", provider, {"models": list(provider.models.values_list("name", flat=True))})
    provider.delete()


def _upstream(provider: Provider, model: str = "") -> Upstream:
    return Upstream(
        base_url=provider.base_url,
        api_key=provider.api_key(),
        model=model,
        timeout=CONNECTION_TEST_TIMEOUT,
        options=provider.options,
    )


def provider_fetch_models(*, provider: Provider) -> list[ModelInfo]:
    """The provider's model list, from its API (off the request path; raises ProviderError)."""
    client = provider_client(
        kind=provider.kind, base_url=provider.base_url, label=provider.slug, trusted=provider.trusted
    )

    async def fetch() -> list[ModelInfo]:
        try:
            return await client.list_models(_upstream(provider))
        finally:
            await client.aclose()

    return async_to_sync(fetch)()


def _failure_message(provider: Provider, exc: ProviderError) -> str:
    """What the provider said, for people: never its credential, even where an upstream echoes it back."""
    message = f"{exc.kind}: {exc.message}"
    api_key = provider.api_key()
    return (message.replace(api_key, "[redacted]") if api_key else message)[:300]


def provider_test_connection(*, provider: Provider, actor_membership: Membership | None) -> tuple[bool, str]:
    """Try the provider's model list with its credential; remember and return the outcome."""
    require_admin(actor_membership)
    try:
        count = len(provider_fetch_models(provider=provider))
        ok, message = True, f"Connected: {count} model(s) available."
    except ProviderError as exc:
        ok, message = False, _failure_message(provider, exc)
    Provider.objects.filter(pk=provider.pk).update(
        last_checked_at=timezone.now(), last_check_ok=ok, last_check_message=message
    )
    return ok, message


def _modalities_for(model_id: str) -> list[str]:
    return [Modality.EMBEDDING] if "embed" in model_id.lower() else [Modality.TEXT]


def provider_sync_models(
    *, provider: Provider, actor_membership: Membership | None, publish_routes: bool = True
) -> list[ProviderModel]:
    """Import the provider's models (new ones only; existing prices are kept) and, when asked, publish each
    as a route of the same name unless the tenant already has a route by that name. The provider is asked
    before the transaction starts, so no database transaction waits on the network."""
    require_admin(actor_membership)
    try:
        infos = provider_fetch_models(provider=provider)
    except ProviderError as exc:
        raise ProviderUnavailable(f"{provider} did not list its models: {_failure_message(provider, exc)}") from None
    return _models_import(provider=provider, infos=infos, publish_routes=publish_routes)


@transaction.atomic
def _models_import(*, provider: Provider, infos: list[ModelInfo], publish_routes: bool) -> list[ProviderModel]:
    created = []
    taken = set(ProviderModel.objects.filter(tenant=provider.tenant).values_list("name", flat=True))
    known = set(provider.models.values_list("upstream_id", flat=True))
    for info in infos:
        if info.id in known:
            continue
        name = info.id if info.id not in taken else f"{provider.slug}/{info.id}"
        served = info.base_model or info.id  # an Azure deployment is priced by the model it serves
        price = known_price(served)
        model = ProviderModel.objects.create(
            tenant=provider.tenant,
            provider=provider,
            name=name[:100],
            upstream_id=info.id,
            modalities=_modalities_for(served),
            context_window=info.context_window,
            input_price_per_mtok=price.input,
            output_price_per_mtok=price.output,
            cached_input_price_per_mtok=price.cached_input,
        )
        taken.add(model.name)
        created.append(model)
        if publish_routes and not Route.objects.filter(tenant=provider.tenant, alias=model.name).exists():
            route = Route(tenant=provider.tenant, alias=model.name, description=provider.name)
            try:
                route.full_clean(validate_constraints=False)
            except ValidationError:
                continue  # a model id that cannot be an alias (a space, a trailing /…) is deployed by hand
            route.save()
            Deployment.objects.create(route=route, model=model)
    audited("provider.sync_models", provider, {"imported": [m.name for m in created]})
    return created


@transaction.atomic
def model_create(
    *,
    provider: Provider,
    actor_membership: Membership | None,
    name: str,
    upstream_id: str,
    modalities: list[str] | None = None,
    context_window: int | None = None,
    input_price_per_mtok: Decimal = Decimal(0),
    output_price_per_mtok: Decimal = Decimal(0),
    cached_input_price_per_mtok: Decimal | None = None,
) -> ProviderModel:
    require_admin(actor_membership)
    unknown = sorted(set(modalities or []) - set(Modality.values))
    if unknown:
        raise ApplicationError(f"Unknown modality: {', '.join(unknown)}.", field="modalities")
    model = ProviderModel(
        tenant=provider.tenant,
        provider=provider,
        name=name,
        upstream_id=upstream_id,
        modalities=modalities or [Modality.TEXT],
        context_window=context_window,
        input_price_per_mtok=input_price_per_mtok,
        output_price_per_mtok=output_price_per_mtok,
        cached_input_price_per_mtok=cached_input_price_per_mtok,
    )
    save_checked(model, field="name", message=f"A model named {name!r} already exists in this tenant.")
    audited("model.create", model, {"upstream_id": upstream_id, "provider": provider.slug})
    return model


@transaction.atomic
def model_update(*, model: ProviderModel, actor_membership: Membership | None, data: dict[str, Any]) -> ProviderModel:
    require_admin(actor_membership)
    fields = {
        "upstream_id",
        "modalities",
        "context_window",
        "input_price_per_mtok",
        "output_price_per_mtok",
        "cached_input_price_per_mtok",
    }
    changes = model_diff(model, {k: v for k, v in data.items() if k in fields})
    for field, (_, new) in changes.items():
        setattr(model, field, new)
    if changes:
        save_checked(model, field="name", message="Conflicting model.")
        audited("model.update", model, changes)
    return model


@transaction.atomic
def model_delete(*, model: ProviderModel, actor_membership: Membership | None) -> None:
    require_admin(actor_membership)
    audited("model.delete", model)
    model.delete()
