"""What the Prometheus metrics add to each call on the request path: `python bench/metrics_emit.py`.

MetricsCallSink.emit in front of a sink that does nothing, over a mix of call records (chat with usage, streams,
upstream failures, refused keys) on a snapshot of 10 tenants, 50 services and 100 routes with 2 deployments each.
Rows: the bare no-op sink, the metrics with the default registry (one process), and with PROMETHEUS_MULTIPROC_DIR
(values in per-process files: the row runs in a child process, as prometheus_client picks the mode at import),
plus the one-off rebuild of the label tables after a configuration change. Best of 5 rounds of 100,000 emits."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.gateway.adapters.metrics_sink import LabelTables, MetricsCallSink, SnapshotLabels  # noqa: E402
from apps.gateway.pipeline.records import CallRecord  # noqa: E402
from apps.gateway.pipeline.snapshot import DeploymentEntry, RouteEntry, ServiceEntry, Snapshot  # noqa: E402

ROUNDS, EMITS = 5, 100_000


class NoOpSink:
    def emit(self, record: CallRecord) -> None:
        pass

    async def flush(self) -> int:
        return 0

    async def aclose(self) -> None:
        pass


def deployment(deployment_id: int, tenant: int) -> DeploymentEntry:
    return DeploymentEntry(
        deployment_id=deployment_id,
        provider_id=tenant,
        provider_kind="openai",
        provider_slug=f"provider-{tenant}",
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-bench",
        provider_options={},
        provider_revision="1",
        model_name=f"model-{deployment_id % 7}",
        upstream_model="gpt-4o-mini",
        modalities=frozenset({"text"}),
        weight=1,
        priority=deployment_id % 2,
        timeout=30.0,
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
    )


def service(service_id: int) -> ServiceEntry:
    return ServiceEntry(
        service_id=service_id,
        slug=f"service-{service_id}",
        tenant_id=service_id % 10,
        kind="prompt",
        lifecycle="published",
        visibility="public",
        shared_with=frozenset(),
        require_internal_subscription=False,
        route_alias=f"route-{service_id}",
        output_mode="text",
        output_schema={},
        output_validator=None,
        prompt=None,
    )


def snapshot() -> Snapshot:
    routes = [
        RouteEntry(
            route_id=r,
            tenant_id=r % 10,
            alias=f"route-{r}",
            deadline=60,
            retries=1,
            deployments=(deployment(2 * r, r % 10), deployment(2 * r + 1, r % 10)),
        )
        for r in range(100)
    ]
    return Snapshot.build(
        version=1,
        keys=[],
        routes=routes,
        services=[service(s) for s in range(50)],
        tenant_slugs={t: f"tenant-{t}" for t in range(10)},
    )


def records() -> list[CallRecord]:
    """100 records: 80 chat calls with usage, 10 streams, 5 upstream failures, 5 refused keys."""
    made = []
    for i in range(100):
        tenant, dep = i % 10, 2 * (i % 100) + (i % 2)
        record = CallRecord(request_id=f"req_{i}", created=0.0, endpoint="chat", tenant_id=tenant, deployment_id=dep)
        record.service_id = i % 50 if i % 3 == 0 else None
        record.status, record.latency_ms, record.upstream_ms, record.overhead_ms = 200, 850.0, 848.6, 1.4
        record.prompt_tokens, record.completion_tokens, record.cost = 120, 80, Decimal("0.000066")
        if 80 <= i < 90:
            record.stream, record.ttft_ms = True, 210.0
        elif 90 <= i < 95:
            record.status, record.error_type = 502, "upstream_error"
            record.prompt_tokens, record.completion_tokens, record.cost = 0, 0, Decimal(0)
        elif i >= 95:
            record = CallRecord(request_id=f"req_{i}", created=0.0, endpoint="chat", status=401, latency_ms=0.3)
            record.error_type, record.overhead_ms = "invalid_api_key", 0.3
        made.append(record)
    return made


def per_emit_us(sink) -> float:
    batch = records() * (EMITS // 100)
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for record in batch:
            sink.emit(record)
        best = min(best, time.perf_counter() - started)
    return best / len(batch) * 1e6


def measure(row: str) -> float:
    snap = snapshot()
    if row == "tables":
        started = time.perf_counter()
        for _ in range(100):
            LabelTables.of(snap)
        return (time.perf_counter() - started) / 100 * 1e6
    if row == "no-op":
        return per_emit_us(NoOpSink())
    return per_emit_us(MetricsCallSink(NoOpSink(), labels=SnapshotLabels(lambda: snap)))


def in_child(row: str, multiprocess_dir: str) -> float:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": multiprocess_dir}
    command = [sys.executable, __file__, "--row", row]
    return float(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", help=argparse.SUPPRESS)  # a child process measuring one row
    args = parser.parse_args()
    if args.row:
        print(measure(args.row))
        return
    no_op = measure("no-op")
    default = measure("metrics")
    with tempfile.TemporaryDirectory() as directory:
        multiprocess = in_child("metrics", directory)
    machine = f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores"
    print(f"{machine}; best of {ROUNDS} rounds of {EMITS:,} emits\n")
    print("| emit | µs per call | added by the metrics |")
    print("|---|---|---|")
    print(f"| no-op sink alone | {no_op:.2f} | |")
    print(f"| metrics, one process (default registry) | {default:.2f} | {default - no_op:.2f} |")
    print(f"| metrics, PROMETHEUS_MULTIPROC_DIR (files) | {multiprocess:.2f} | {multiprocess - no_op:.2f} |")
    print(f"\nlabel tables rebuilt once per configuration change: {measure('tables'):.0f} µs (100 routes, 50 services)")


if __name__ == "__main__":
    main()
