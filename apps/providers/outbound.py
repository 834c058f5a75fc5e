"""Where a tenant's providers may connect, and the clients that keep to it.

Tenant providers reach public addresses only. The operator opens more in two ways: PROVIDER_ALLOW_PRIVATE_NETWORKS
(networks and host names, e.g. `10.0.0.0/8,ollama`), or a provider's `trusted` flag, which only the operator sets
(providers registered from the environment by `seed_demo`, a superuser in the Django admin). The rules are in
apps/core/netguard.py; apps/providers/clients/netguard.py applies them where aiohttp connects.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core.netguard import ALLOW_ALL, AddressPolicy, url_problem
from apps.providers.clients.base import ProviderClient, ProviderError
from apps.providers.clients.netguard import OutboundGuard
from apps.providers.clients.registry import client_class

# Kinds that make no network call take no guard; every other kind's client must accept one (TypeError otherwise).
OFFLINE_KINDS = frozenset({"echo"})


def provider_address_policy(*, trusted: bool) -> AddressPolicy:
    """What a provider may reach: anything when the operator trusts it, else public addresses and the allow-list."""
    if trusted:
        return ALLOW_ALL
    try:
        return AddressPolicy.from_entries(settings.PROVIDER_ALLOW_PRIVATE_NETWORKS)
    except ValueError as exc:
        raise ImproperlyConfigured(f"PROVIDER_ALLOW_PRIVATE_NETWORKS: {exc}") from None


def provider_client(*, kind: str, base_url: str, label: str, trusted: bool) -> ProviderClient:
    """A client for one provider, connecting only where it may; `label` names the provider in its refusals.
    A base URL no call can use (saved before such URLs were refused) is a ProviderError, not a crash later."""
    cls = client_class(kind)
    if kind in OFFLINE_KINDS:
        return cls()
    if problem := url_problem(base_url):
        raise ProviderError(
            f"Provider {label!r} has an unusable base URL: {problem}", kind="bad_config", retryable=False
        )
    guard = OutboundGuard(provider_address_policy(trusted=trusted), label=label)
    return cls(guard=guard)
