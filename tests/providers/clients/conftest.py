"""Helpers the tests of the native-format clients (anthropic, gemini) share against their fake upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from apps.providers.clients.base import ProviderClient, ProviderError, Upstream
from apps.providers.clients.netguard import ForbiddenAddress


async def chunks_before_failure(stream: AsyncIterator[dict[str, Any]]) -> tuple[list[dict[str, Any]], ProviderError]:
    """The chunks a stream gave before it failed, and its ProviderError; a stream that does not fail fails the test."""
    received: list[dict[str, Any]] = []

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(ProviderError) as failed:
        await consume()
    return received, failed.value


async def assert_the_guard_refuses(
    guarded: ProviderClient, upstream: Upstream, request: Mapping[str, Any], *, label: str, fake: Any
) -> None:
    """`guarded` (a client whose outbound guard allows no address) refuses the call naming `label`, and nothing
    reaches the fake; the client is closed either way."""
    try:
        with pytest.raises(ForbiddenAddress, match=label):
            await guarded.chat(upstream, request)
    finally:
        await guarded.aclose()
    assert fake.requests == []
