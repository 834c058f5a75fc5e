"""The outbound-address guard of provider clients, where aiohttp connects (the rules: apps.core.netguard).

A provider's base URL is chosen by a tenant admin, so every connection a client makes for it is checked:
- a host name is resolved by `_GuardedResolver`, which hands aiohttp only the addresses the policy permits (and
  aiohttp caches only those), so a name that resolved somewhere public when the URL was saved and resolves to
  127.0.0.1 now (DNS rebinding) gets no connection;
- aiohttp connects to an IP literal without asking a resolver, so a client middleware checks literal hosts;
- both run for every request, redirects included, so a redirect cannot lead inside either.
A refusal is a ForbiddenAddress naming the provider, never the address.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from apps.core.netguard import ALLOW_ALL, INTERNAL, AddressPolicy, AddressRefused, host_address, permitted_addresses
from apps.providers.clients.base import ProviderError


class ForbiddenAddress(ProviderError):
    """The provider's host is, or resolves only to, an internal address that the operator has not allowed."""

    def __init__(self, label: str) -> None:
        super().__init__(
            f"Provider {label!r} may not connect to an internal address ({INTERNAL}); the operator can allow it.",
            kind="forbidden_address",
            retryable=False,
        )


class OutboundGuard:
    """Makes the HTTP sessions of one provider's client: restricted to what `policy` permits, refusals named
    after `label` (the provider)."""

    def __init__(self, policy: AddressPolicy, *, label: str) -> None:
        self.policy = policy
        self.label = label

    def session(self, **connector_options: Any) -> aiohttp.ClientSession:
        """A session whose connector takes `connector_options` (aiohttp.TCPConnector's)."""
        if self.policy.allow_all:
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(**connector_options))
        connector = aiohttp.TCPConnector(resolver=_GuardedResolver(self), **connector_options)
        return aiohttp.ClientSession(connector=connector, middlewares=(self._literal_hosts,))

    async def _literal_hosts(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        address = host_address(request.url.raw_host or "")
        if address is not None and not self.policy.permits(address):
            raise ForbiddenAddress(self.label)
        return await handler(request)


# A client built without a guard: for callers that are the operator's own (tests of the wire format, tools).
UNGUARDED = OutboundGuard(ALLOW_ALL, label="")


class _GuardedResolver(AbstractResolver):
    """Resolves in a worker thread, as aiohttp's default resolver does, and returns only permitted addresses."""

    def __init__(self, guard: OutboundGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            addresses = await loop.run_in_executor(None, permitted_addresses, host, port, self._guard.policy, family)
        except AddressRefused:
            raise ForbiddenAddress(self._guard.label) from None
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        pass
