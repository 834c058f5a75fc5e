"""The gateway's Prometheus metrics, and their exposition for `GET /metrics`.

Label values are slugs and names that configuration bounds (tenants, services, models, providers, HTTP statuses),
never request ids, key prefixes or database ids, so the number of series grows with the configuration, not the
traffic. Every series carries a `tenant` label, which is what lets a tenant read its own samples and nobody
else's: the caller's tenant on call metrics, the owner of the provider on provider metrics; "" for calls that
never authenticated.

Several worker processes (`make run`): prometheus_client chooses, at its import, to keep values in files under
PROMETHEUS_MULTIPROC_DIR (one set per process) when that variable is set, and the exposition then merges every
process's files; otherwise it keeps them in this process's default registry. Importing no Django here keeps the
definitions usable in any process."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.metrics_core import Metric

CALL_LABELS = ("tenant", "service", "model", "endpoint")
USAGE_LABELS = ("tenant", "service", "model")

REQUESTS = Counter("gateway_requests", "Calls answered by the gateway, by HTTP status.", [*CALL_LABELS, "status"])
REQUEST_DURATION = Histogram(
    "gateway_request_duration_seconds",
    "Time from the request's arrival to its last byte (streams: to the end of the stream).",
    CALL_LABELS,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300),  # LLM answers take seconds to minutes
)
OVERHEAD = Histogram(
    "gateway_overhead_seconds",
    "The gateway's own time per call: the duration minus the time spent waiting on providers.",
    ("tenant", "endpoint"),
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),  # the target is p50 <= 2 ms
)
TIME_TO_FIRST_TOKEN = Histogram(
    "gateway_time_to_first_token_seconds",
    "Streams: time from the request's arrival to the first chunk from the provider.",
    CALL_LABELS,
    buckets=(0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
)
TOKENS = Counter(
    "gateway_tokens", "Tokens of the calls, as providers reported them (else estimated).", [*USAGE_LABELS, "direction"]
)
COST = Counter("gateway_cost_usd", "What the calls cost at the models' prices, in US dollars.", USAGE_LABELS)
CACHE_HITS = Counter("gateway_cache_hits", "Calls answered from the response cache.", USAGE_LABELS)
# The gateway's own Redis, an operator's matter: no tenant label, so only the full exposition shows it.
CACHE_ERRORS = Counter(
    "gateway_cache_errors",
    "Response cache operations that failed on Redis (lookups count as misses, stores are skipped).",
    ("operation",),
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors",
    "Calls that failed at a provider (5xx, 429), by the last provider tried; the tenant owns the provider. "
    "Failures that a retry or a failover absorbed are not counted here.",
    ("tenant", "provider", "error_type"),
)
LIMIT_STORE_ERRORS = Counter(
    "gateway_limit_store_errors",
    "Calls for which the limit store (Redis) was unreachable, by the tenant's setting: served (open) or 503 (closed).",
    ("tenant", "mode"),
)
# Each worker process has its own circuit breakers, so each reports its own 0 or 1. "max" merges them into "open in
# at least one worker", the state worth an alert; "live" drops the value of a process that has ended (the ASGI
# lifespan marks it dead), so a worker that stopped with an open breaker does not leave a 1 behind forever.
BREAKER_OPEN = Gauge(
    "gateway_breaker_open",
    "1 while a deployment's circuit breaker is open in at least one worker process, else 0; the tenant owns it.",
    ("tenant", "provider", "deployment"),
    multiprocess_mode="livemax",
)


class _TenantSamples:
    """What a registry collects, narrowed to the samples of these tenants (families left empty are dropped)."""

    def __init__(self, source: CollectorRegistry, tenants: frozenset[str]) -> None:
        self._source = source
        self._tenants = tenants

    def collect(self) -> Iterator[Metric]:
        for family in self._source.collect():
            samples = [sample for sample in family.samples if sample.labels.get("tenant") in self._tenants]
            if samples:
                kept = Metric(family.name, family.documentation, family.type, family.unit)
                kept.samples = samples
                yield kept


def metrics_exposition(*, multiprocess_dir: str = "", tenants: Iterable[str] | None = None) -> bytes:
    """The Prometheus text exposition: every sample (tenants=None), or only those labelled with one of `tenants`.
    With `multiprocess_dir`, the merged samples of every process writing there; else this process's registry."""
    registry = REGISTRY
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    if tenants is not None:
        registry = _TenantSamples(registry, frozenset(tenants))
    return generate_latest(registry)


def metrics_process_exit(multiprocess_dir: str) -> None:
    """At a worker's shutdown: drop its live gauges (breaker states) from the merged view."""
    if multiprocess_dir:
        multiprocess.mark_process_dead(os.getpid(), multiprocess_dir)
