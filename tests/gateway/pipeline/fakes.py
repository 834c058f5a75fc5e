"""In-memory fakes for the pipeline's ports: no database, no network."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import DeploymentEntry, KeyEntry, RouteEntry, Snapshot

PEPPER = b"pepper"


def deployment(dep_id: int, *, weight: int = 1, priority: int = 0, timeout: float = 5.0, kind: str = "echo"):
    return DeploymentEntry(
        deployment_id=dep_id,
        provider_id=dep_id,
        provider_kind=kind,
        provider_slug=f"p{dep_id}",
        base_url="http://upstream.invalid/v1",
        api_key="sk-upstream",
        provider_options={},
        provider_revision="1",
        model_name=f"m{dep_id}",
        upstream_model=f"upstream-{dep_id}",
        modalities=frozenset({"text"}),
        weight=weight,
        priority=priority,
        timeout=timeout,
        input_price_per_mtok=Decimal("1.00"),
        output_price_per_mtok=Decimal("2.00"),
    )


def route(*deps: DeploymentEntry, alias: str = "smart", tenant_id: int = 1, deadline: float = 10.0, retries: int = 1):
    return RouteEntry(
        route_id=1, tenant_id=tenant_id, alias=alias, deadline=deadline, retries=retries, deployments=deps
    )


def key(plaintext: str, *, tenant_id: int = 1, scopes=("gateway",), expires_at=None) -> KeyEntry:
    _, lookup_id, _ = plaintext.split("_", 2)
    return KeyEntry(
        key_id=1,
        lookup_id=lookup_id,
        pepper_id="1",
        digest=hmac.new(PEPPER, plaintext.encode(), hashlib.sha256).hexdigest(),
        tenant_id=tenant_id,
        tenant_slug=f"t{tenant_id}",
        app_id=7,
        app_slug="bot",
        scopes=frozenset(scopes),
        expires_at=expires_at,
    )


class StaticConfig:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    async def current(self) -> Snapshot:
        return self.snapshot

    async def find_key(self, lookup_id: str) -> KeyEntry | None:
        return None  # the database knows no more keys than the snapshot


class HmacVerifier:
    def verify(self, plaintext: str, entry: KeyEntry) -> bool:
        return hmac.compare_digest(hmac.new(PEPPER, plaintext.encode(), hashlib.sha256).hexdigest(), entry.digest)


class ListSink:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def emit(self, record: CallRecord) -> None:
        self.records.append(record)

    async def flush(self) -> int:
        return 0  # nothing buffered: emit keeps every record at once

    async def aclose(self) -> None:
        return None
