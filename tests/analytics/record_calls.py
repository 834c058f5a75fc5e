"""Call records through MetricsCallSink on a hand-built snapshot, without Django: for tests/analytics/test_metrics.py,
in its own process and as a worker process of its own.

    python -m tests.analytics.record_calls --calls 3 [--open-breaker]   # with PROMETHEUS_MULTIPROC_DIR set

records 3 successful chat calls of tenant `acme` (10 prompt and 5 completion tokens each) and, with
--open-breaker, opens the breaker of acme's deployment; without it, the breaker opens and closes again."""

from __future__ import annotations

import argparse
from decimal import Decimal

from apps.gateway.adapters.metrics_sink import MetricsCallSink, SnapshotLabels
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import DeploymentEntry, RouteEntry, ServiceEntry, Snapshot
from tests.entries import service_entry

ACME_DEPLOYMENT, GLOBEX_DEPLOYMENT = 11, 21
SUMMARY_SERVICE = 31


class NoOpSink:
    def emit(self, record: CallRecord) -> None:
        pass

    async def flush(self) -> int:
        return 0

    async def aclose(self) -> None:
        pass


def _route(tenant_id: int, deployment_id: int, provider: str) -> RouteEntry:
    deployment = DeploymentEntry(
        deployment_id=deployment_id,
        provider_id=deployment_id,
        provider_kind="openai",
        provider_slug=provider,
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-test",
        provider_options={},
        provider_revision="1",
        model_name="gpt-4o-mini",
        upstream_model="gpt-4o-mini",
        modalities=frozenset({"text"}),
        weight=1,
        priority=0,
        timeout=5.0,
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
    )
    return RouteEntry(
        route_id=deployment_id, tenant_id=tenant_id, alias="smart", deadline=10, retries=0, deployments=(deployment,)
    )


def _service(tenant_id: int) -> ServiceEntry:
    return service_entry(service_id=SUMMARY_SERVICE, slug="summary", tenant_id=tenant_id, visibility="public")


def metrics_sink(*, acme_id: int = 1, globex_id: int = 2) -> MetricsCallSink:
    """Tenants `acme` (provider `acme-openai`, public prompt service `summary`) and `globex` (provider
    `globex-openai`), each with route `smart`."""
    snapshot = Snapshot.build(
        version=1,
        keys=[],
        routes=[_route(acme_id, ACME_DEPLOYMENT, "acme-openai"), _route(globex_id, GLOBEX_DEPLOYMENT, "globex-openai")],
        services=[_service(acme_id)],
        tenant_slugs={acme_id: "acme", globex_id: "globex"},
    )
    return MetricsCallSink(NoOpSink(), labels=SnapshotLabels(lambda: snapshot))


def chat_call(tenant_id: int | None, deployment_id: int | None, status: int = 200, **fields: object) -> CallRecord:
    record = CallRecord(
        request_id="req_test",
        created=0.0,
        endpoint="chat",
        tenant_id=tenant_id,
        deployment_id=deployment_id,
        status=status,
        latency_ms=800.0,
        upstream_ms=798.0,
        overhead_ms=2.0,
    )
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--open-breaker", action="store_true")
    args = parser.parse_args()
    sink = metrics_sink()
    for _ in range(args.calls):
        sink.emit(chat_call(1, ACME_DEPLOYMENT, prompt_tokens=10, completion_tokens=5, cost=Decimal("0.0000045")))
    sink.breaker_changed(ACME_DEPLOYMENT, "open")
    if not args.open_breaker:
        sink.breaker_changed(ACME_DEPLOYMENT, "closed")


if __name__ == "__main__":
    main()
