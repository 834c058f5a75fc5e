"""The composition root: the only place that picks the pipeline's adapters."""

from __future__ import annotations

import atexit
from functools import cache

from django.conf import settings
from django.db import close_old_connections

from apps.core.embedded_beat import EmbeddedBeat
from apps.core.services import gateway_config_channel
from apps.gateway.adapters.clients import ProcessClientPool
from apps.gateway.adapters.config_feed import RedisConfigFeed
from apps.gateway.adapters.keys import PepperKeyVerifier
from apps.gateway.adapters.metrics_sink import MetricsCallSink, SnapshotLabels
from apps.gateway.adapters.redis_cache import RedisCacheStore
from apps.gateway.adapters.redis_counters import RedisCounters, StoreErrorReport
from apps.gateway.adapters.responses_store import MemoryResponseStore, RedisResponseStore
from apps.gateway.adapters.sink import BatchingCallSink
from apps.gateway.adapters.snapshot_build import config_version_read, key_entry_find, snapshot_build
from apps.gateway.adapters.snapshot_store import SnapshotStore
from apps.gateway.adapters.stream_sink import RedisStreamCallSink
from apps.gateway.pipeline.invoke import ServiceInvoker
from apps.gateway.pipeline.pipeline import GatewayPipeline
from apps.gateway.pipeline.policies.admission import CountersStep
from apps.gateway.pipeline.policies.base import PolicyStep
from apps.gateway.pipeline.policies.budgets import BudgetPolicy
from apps.gateway.pipeline.policies.cache import CacheStep, MemoryCacheStore
from apps.gateway.pipeline.policies.counters import LocalCounters
from apps.gateway.pipeline.policies.limits import LimitPolicy
from apps.gateway.pipeline.policies.semantic import SemanticCache, router_embedder
from apps.gateway.pipeline.router import CircuitBreaker, Router


def _write_call_logs(records) -> int:
    from apps.analytics.services import call_logs_record

    try:
        return call_logs_record(records=records)
    finally:
        close_old_connections()  # runs in a worker thread: do not leave its connection behind


@cache
def get_snapshot_store() -> SnapshotStore:
    # With Redis, changes are pushed; the poll stays as the fallback (and is all there is without Redis).
    feed = None
    if settings.REDIS_URL:
        feed = RedisConfigFeed(url=settings.REDIS_URL, channel=gateway_config_channel(settings.REDIS_URL))
    return SnapshotStore(
        build=snapshot_build,
        read_version=config_version_read,
        find_key=key_entry_find,
        feed=feed,
        poll_seconds=settings.GATEWAY_SNAPSHOT_POLL_SECONDS,
    )


@cache
def get_call_sink() -> BatchingCallSink | RedisStreamCallSink:
    if settings.GATEWAY_CALL_SINK == "redis":
        sink = RedisStreamCallSink(
            url=settings.REDIS_URL,
            stream=settings.ANALYTICS_CALL_STREAM,
            maxlen=settings.ANALYTICS_CALL_STREAM_MAXLEN,
            fallback_write=_write_call_logs,
        )
    else:
        sink = BatchingCallSink(write=_write_call_logs, flush_seconds=settings.GATEWAY_LOG_FLUSH_SECONDS)
    atexit.register(sink.flush_at_exit)  # what is still buffered when the process ends
    return sink


@cache
def get_limit_counters() -> RedisCounters | LocalCounters:
    """The counters of limits and budgets: Redis (shared by every process), else this process's own."""
    return RedisCounters(url=settings.REDIS_URL) if settings.REDIS_URL else LocalCounters()


def policy_steps() -> list[PolicyStep]:
    """The policy steps every call passes, in order (policies/base.py): admitted first to last, told the outcome
    last to first."""
    return [
        # First: with Redis, its lookup goes out in the same write as the counters' admission. A call they refuse
        # is not answered from the cache either: the answers come after every admission (before_call).
        CacheStep(
            RedisCacheStore(url=settings.REDIS_URL) if settings.REDIS_URL else MemoryCacheStore(),
            semantic=SemanticCache(router_embedder(get_pipeline)),
        ),
        # Limits and budgets: one atomic admission of the counters, one round trip.
        CountersStep(get_limit_counters(), [LimitPolicy(), BudgetPolicy()], on_store_error=StoreErrorReport()),
    ]


@cache
def get_pipeline() -> GatewayPipeline:
    store = get_snapshot_store()
    sink = MetricsCallSink(get_call_sink(), labels=SnapshotLabels(lambda: store.snapshot))
    breaker = CircuitBreaker(
        threshold=settings.GATEWAY_BREAKER_THRESHOLD,
        cooldown=settings.GATEWAY_BREAKER_COOLDOWN_SECONDS,
        on_change=sink.breaker_changed,
    )
    return GatewayPipeline(
        config=store,
        keys=PepperKeyVerifier(settings.API_KEY_PEPPERS),
        clients=ProcessClientPool(),
        sink=sink,
        router=Router(breaker=breaker),
        steps=policy_steps(),
    )


@cache
def get_response_store() -> RedisResponseStore | MemoryResponseStore:
    """The responses of POST /v1/responses: on Redis (every process), else this process's own."""
    retention = settings.GATEWAY_RESPONSES_RETENTION_SECONDS
    if settings.REDIS_URL:
        return RedisResponseStore(url=settings.REDIS_URL, retention_seconds=retention)
    return MemoryResponseStore(retention_seconds=retention)


@cache
def get_invoker() -> ServiceInvoker:
    return ServiceInvoker(get_pipeline())


@cache
def get_embedded_beat() -> EmbeddedBeat:
    return EmbeddedBeat(schedule=settings.CELERY_BEAT_SCHEDULE, lock_path=settings.EMBEDDED_BEAT_LOCK)
