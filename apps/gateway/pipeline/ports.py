"""What the pipeline needs from the outside world; adapters implement these, tests fake them."""

from __future__ import annotations

from typing import Protocol

from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import DeploymentEntry, KeyEntry, Snapshot
from apps.providers.clients.base import ProviderClient


class ConfigSource(Protocol):
    async def current(self) -> Snapshot:
        """The latest snapshot; does I/O only to build the very first one."""

    async def find_key(self, lookup_id: str) -> KeyEntry | None:
        """A key id the snapshot does not know (a key issued since it was built): looked up once, budgeted."""


class KeyVerifier(Protocol):
    def verify(self, plaintext: str, entry: KeyEntry) -> bool:
        """Constant-time check of a presented key against the stored digest."""


class ClientPool(Protocol):
    def client_for(self, deployment: DeploymentEntry) -> ProviderClient:
        """The pooled client of the deployment's provider, in this process."""

    async def aclose(self) -> None:
        """Close the pooled connections of the running event loop."""


class CallSink(Protocol):
    def emit(self, record: CallRecord) -> None:
        """Hand a record over without waiting; durability is the sink's business."""

    async def flush(self) -> int:
        """Write what is buffered now."""

    async def aclose(self) -> None:
        """At shutdown: stop sending in the background and write what is left."""
