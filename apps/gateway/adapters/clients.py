from __future__ import annotations

import asyncio

from apps.gateway.pipeline.snapshot import DeploymentEntry
from apps.providers.clients.base import ProviderClient
from apps.providers.outbound import provider_client


class ProcessClientPool:
    """One client (one pooled connection set) per provider per event loop in this process.

    A provider whose settings changed gets a new client; the old one is closed in the background. Each client
    connects only where its provider may (apps/providers/outbound.py); a refusal is the ProviderError of a failed
    attempt, like any other."""

    def __init__(self) -> None:
        self._clients: dict[tuple[int, int], tuple[str, ProviderClient]] = {}
        self._closing: set[asyncio.Task] = set()

    def client_for(self, deployment: DeploymentEntry) -> ProviderClient:
        loop = asyncio.get_running_loop()
        slot = (id(loop), deployment.provider_id)
        cached = self._clients.get(slot)
        fingerprint = deployment.provider_revision
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        client = provider_client(
            kind=deployment.provider_kind,
            base_url=deployment.base_url,
            label=deployment.provider_slug,
            trusted=deployment.provider_trusted,
        )
        self._clients[slot] = (fingerprint, client)
        if cached is not None:
            task = loop.create_task(cached[1].aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return client

    async def aclose(self) -> None:
        loop_id = id(asyncio.get_running_loop())
        for slot in [s for s in self._clients if s[0] == loop_id]:
            await self._clients.pop(slot)[1].aclose()
