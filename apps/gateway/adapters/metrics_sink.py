"""A call sink that turns each call record into Prometheus samples (apps/analytics/metrics.py), then hands the
record on to the sink that stores it.

It runs on the request path: no I/O, ids resolved to label values by dict lookups in tables built once per
snapshot, and each metric's child per label set looked up once and kept. `python bench/metrics_emit.py` measures
what it adds per call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from apps.analytics.metrics import (
    BREAKER_OPEN,
    CACHE_HITS,
    COST,
    OVERHEAD,
    REQUEST_DURATION,
    REQUESTS,
    TIME_TO_FIRST_TOKEN,
    TOKENS,
    UPSTREAM_ERRORS,
)
from apps.gateway.pipeline.ports import CallSink
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import Snapshot

logger = logging.getLogger(__name__)


# Named tuples rather than dataclasses: the tables are rebuilt on the event loop, and tuples are made faster.
class ServiceLabels(NamedTuple):
    slug: str
    tenant_id: int  # the owner


class DeploymentLabels(NamedTuple):
    tenant: str  # the owner of the route, and so of its provider
    provider: str
    model: str
    deployment: str  # "<route alias>/<model name>": unique within the tenant, as (route, model) is


@dataclass(frozen=True, slots=True)
class LabelTables:
    """The label values of one snapshot's ids."""

    tenants: dict[int, str]
    services: dict[int, ServiceLabels]
    deployments: dict[int, DeploymentLabels]

    @classmethod
    def of(cls, snapshot: Snapshot) -> LabelTables:
        tenants = snapshot.tenant_slugs
        return cls(
            tenants=tenants,
            services={s.service_id: ServiceLabels(s.slug, s.tenant_id) for s in snapshot.services.values()},
            deployments={
                dep.deployment_id: DeploymentLabels(
                    tenant=tenants.get(route.tenant_id, ""),
                    provider=dep.provider_slug,
                    model=dep.model_name,
                    deployment=f"{route.alias}/{dep.model_name}",
                )
                for route in snapshot.routes.values()
                for dep in route.deployments
            },
        )


class SnapshotLabels:
    """Label values for the ids in call records, from the current snapshot; the tables are rebuilt on the first
    use after the snapshot is swapped, never per call."""

    def __init__(self, current: Callable[[], Snapshot]) -> None:
        self._current = current
        self._snapshot: Snapshot | None = None
        self._tables = LabelTables(tenants={}, services={}, deployments={})

    def tables(self) -> LabelTables:
        snapshot = self._current()
        if snapshot is not self._snapshot:
            self._tables = LabelTables.of(snapshot)
            self._snapshot = snapshot
        return self._tables


class _CallSeries:
    """The metric children of one (tenant, service, model, endpoint), made once and kept: metric.labels() takes a
    lock and converts every value on each call. Counters start at 0 (a rate of nothing is 0, not absent); the
    time-to-first-token histogram waits for a stream, or endpoints that never stream would show empty buckets."""

    __slots__ = ("cache_hits", "completion_tokens", "cost", "duration", "labels", "overhead", "prompt_tokens", "ttft")

    def __init__(self, tenant: str, service: str, model: str, endpoint: str) -> None:
        self.labels = (tenant, service, model, endpoint)
        self.duration = REQUEST_DURATION.labels(tenant, service, model, endpoint)
        self.overhead = OVERHEAD.labels(tenant, endpoint)
        self.prompt_tokens = TOKENS.labels(tenant, service, model, "prompt")
        self.completion_tokens = TOKENS.labels(tenant, service, model, "completion")
        self.cost = COST.labels(tenant, service, model)
        self.cache_hits = CACHE_HITS.labels(tenant, service, model)
        self.ttft: Any = None

    def first_token(self) -> Any:
        if self.ttft is None:
            self.ttft = TIME_TO_FIRST_TOKEN.labels(*self.labels)
        return self.ttft


class MetricsCallSink:
    def __init__(self, inner: CallSink, *, labels: SnapshotLabels) -> None:
        self._inner = inner
        self._labels = labels
        self._series: dict[tuple[str, str, str, str], _CallSeries] = {}
        self._requests: dict[tuple[str, str, str, str, int], Any] = {}  # by the series' labels and the status
        self._upstream_errors: dict[tuple[str, str, str], Any] = {}
        self._open_breakers: dict[int, DeploymentLabels] = {}

    def emit(self, record: CallRecord) -> None:
        try:
            self._observe(record)
        except Exception:
            logger.exception("call metrics failed; the call record is stored all the same")
        self._inner.emit(record)

    async def flush(self) -> int:
        return await self._inner.flush()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def breaker_changed(self, deployment_id: int, state: str) -> None:
        """The circuit breaker's on_change: the gauge follows each opening and closing."""
        try:
            if state == "open":
                labels = self._labels.tables().deployments.get(deployment_id)
                if labels is not None:
                    self._open_breakers[deployment_id] = labels
            else:
                # The series that was set to 1, even if the deployment has been renamed or removed since.
                labels = self._open_breakers.pop(deployment_id, None)
            if labels is not None:
                BREAKER_OPEN.labels(labels.tenant, labels.provider, labels.deployment).set(1 if state == "open" else 0)
        except Exception:
            logger.exception("the circuit breaker gauge could not be set")

    def _observe(self, record: CallRecord) -> None:
        tables = self._labels.tables()
        # An id of None finds nothing: "" for a call that never authenticated, a call on the tenant's own route
        # (no service), and a call that never reached a deployment (no model).
        service = tables.services.get(record.service_id)
        dep = tables.deployments.get(record.deployment_id)
        # The caller of another tenant's service learns which service it called, not which model serves it.
        shows_model = dep is not None and (service is None or service.tenant_id == record.tenant_id)
        key = (
            tables.tenants.get(record.tenant_id, ""),
            service.slug if service is not None else "",
            dep.model if shows_model else "",
            record.endpoint,
        )
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _CallSeries(*key)
        status_key = (*key, record.status)
        requests = self._requests.get(status_key)
        if requests is None:
            requests = self._requests[status_key] = REQUESTS.labels(*key, str(record.status))
        requests.inc()
        series.duration.observe(record.latency_ms / 1000)
        series.overhead.observe(record.overhead_ms / 1000)
        if record.ttft_ms is not None:
            series.first_token().observe(record.ttft_ms / 1000)
        if record.prompt_tokens:
            series.prompt_tokens.inc(record.prompt_tokens)
        if record.completion_tokens:
            series.completion_tokens.inc(record.completion_tokens)
        if record.cost:
            series.cost.inc(float(record.cost))
        if record.cache_hit:
            series.cache_hits.inc()
        if dep is not None and (record.status >= 500 or record.status == 429):
            self._upstream_error(dep, record.error_type or "unknown").inc()

    def _upstream_error(self, dep: DeploymentLabels, error_type: str) -> Any:
        key = (dep.tenant, dep.provider, error_type)
        child = self._upstream_errors.get(key)
        if child is None:
            child = self._upstream_errors[key] = UPSTREAM_ERRORS.labels(*key)
        return child
