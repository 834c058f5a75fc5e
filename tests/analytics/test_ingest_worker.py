"""The call-log pipeline with Redis, end to end on real parts: the data plane's stream sink XADDs records,
real Celery worker processes drain the stream into PostgreSQL. Nothing is lost and nothing doubled when a
worker is killed mid-batch or when the database refuses connections for a while."""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import contextmanager

import psycopg
import pytest
import redis
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.db import connection

from apps.analytics.models import CallLog, CallRollup
from apps.analytics.services.calls import call_logs_record
from apps.analytics.services.ingest import call_logs_ingest, stream_backlog
from apps.analytics.services.rollups import rollups_catch_up
from apps.analytics.tasks import call_logs_ingest_task, rollups_refresh_task
from apps.gateway.adapters.stream_sink import RedisStreamCallSink
from apps.gateway.pipeline.records import CallRecord
from tests.celery_workers import WORKER_APPLICATION_NAME, celery_worker_pool, database_params, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 4_000  # stream entries of up to 500 records: each half spans more than one batch of the worker


def _emit(stream: str, count: int, *, tag: str) -> None:
    """What the data plane does for `count` calls: emit() per call, the sink's own flushes in between."""

    async def burst() -> None:
        sink = RedisStreamCallSink(url=settings.REDIS_URL, stream=stream, maxlen=10**7, fallback_write=None)
        for i in range(count):
            sink.emit(
                CallRecord(
                    request_id=f"{tag}-{i}",
                    created=time.time(),
                    endpoint="chat",
                    tenant_id=1,
                    app_id=2,
                    model="gpt-4o-mini",
                    status=200 if i % 10 else 502,
                    error_type="" if i % 10 else "upstream_error",
                    latency_ms=5.0 + i % 300,
                    prompt_tokens=10,
                    completion_tokens=i % 7,
                )
            )
            if i % 500 == 0:
                await asyncio.sleep(0)  # let the background flusher run, as it would between requests
        await sink.aclose()

    asyncio.run(burst())


def _stored(tag: str) -> tuple[int, int]:
    rows = CallLog.objects.filter(request_id__startswith=f"{tag}-")
    return rows.count(), rows.values("request_id").distinct().count()


@contextmanager
def _table_locked():
    """Another session holds a lock that makes INSERTs into the call log wait."""
    with psycopg.connect(**database_params(), autocommit=False) as admin:
        admin.execute("LOCK TABLE analytics_calllog IN SHARE ROW EXCLUSIVE MODE")
        yield
        admin.rollback()


@contextmanager
def _database_refusing_connections():
    """The database is down as far as the workers can tell: new connections refused, theirs cut."""
    name = connection.settings_dict["NAME"]
    connection.ensure_connection()  # the test's own session stays: only new ones are refused
    with psycopg.connect(**database_params(dbname="postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                [WORKER_APPLICATION_NAME],
            )
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def test_a_burst_is_stored_exactly_once_although_a_worker_dies_mid_batch():
    tag = uuid.uuid4().hex[:8]
    with celery_worker_pool(ANALYTICS_INGEST_BATCH="2", ANALYTICS_INGEST_CLAIM_IDLE_MS="300") as workers:
        client = redis.Redis.from_url(settings.REDIS_URL)
        first = workers.start()
        _emit(workers.stream, BURST // 2, tag=tag)
        assert workers.run(call_logs_ingest_task)["written"] == BURST // 2

        with _table_locked():
            _emit(workers.stream, BURST // 2, tag=f"{tag}-late")
            workers.send(call_logs_ingest_task)
            # The worker has read a batch (delivered, unacknowledged) and waits on the insert: kill it there.
            wait_until(lambda: stream_backlog(client, workers.stream)["pending"] > 0, what="a batch in flight")
            workers.kill(first)
        assert stream_backlog(client, workers.stream)["pending"] > 0

        workers.start()
        time.sleep(0.4)  # the dead worker's entries become claimable
        result = workers.run(call_logs_ingest_task)
        assert result["claimed"] > 0
        backlog = stream_backlog(client, workers.stream)

    assert _stored(tag) == (BURST, BURST)  # the late half's ids start with the tag too
    assert backlog == {"length": 0, "pending": 0}


def test_records_wait_in_redis_while_the_database_is_down_then_all_arrive_once():
    tag = uuid.uuid4().hex[:8]
    with celery_worker_pool() as workers:
        client = redis.Redis.from_url(settings.REDIS_URL)
        workers.start()
        workers.run(call_logs_ingest_task)  # up, and connected to the database
        with _database_refusing_connections():
            _emit(workers.stream, BURST, tag=tag)
            for _ in range(2):
                failed = workers.send(call_logs_ingest_task)
                with pytest.raises(Exception) as refused:  # noqa: PT011 - whatever the worker re-raises
                    failed.get(timeout=60)
                assert not isinstance(refused.value, CeleryTimeout)
                assert "connect" in str(refused.value).lower() or "terminat" in str(refused.value).lower()
            assert CallLog.objects.filter(request_id__startswith=tag).count() == 0
            assert stream_backlog(client, workers.stream)["length"] > 0
        result = workers.run(call_logs_ingest_task)
        assert result["written"] == BURST
        assert _stored(tag) == (BURST, BURST)
        assert stream_backlog(client, workers.stream) == {"length": 0, "pending": 0}

        # The worker's rollups of the same minutes match the raw logs exactly.
        workers.run(rollups_refresh_task)
    minutes = CallRollup.objects.filter(granularity="minute", tenant_id=1, app_id=2, model="gpt-4o-mini")
    assert sum(r.calls for r in minutes) == BURST
    assert sum(r.errors for r in minutes) == BURST // 10
    assert sum(r.completion_tokens for r in minutes) == sum(i % 7 for i in range(BURST))
    assert sum(r.error_types.get("upstream_error", 0) for r in minutes) == BURST // 10


def test_a_batch_written_but_not_acknowledged_is_not_written_twice(settings):
    """The other way a reader can die: after its commit, before its XACK. The next reader writes the batch
    again, and the database keeps one row per record."""
    settings.ANALYTICS_CALL_STREAM = stream = f"test-{uuid.uuid4().hex[:8]}:calls"
    client = redis.Redis.from_url(settings.REDIS_URL)
    tag = uuid.uuid4().hex[:8]
    _emit(stream, 1500, tag=tag)

    class Died(Exception):
        pass

    def write_then_die(*, records, catch_up):
        call_logs_record(records=records, catch_up=catch_up)
        raise Died

    try:
        with pytest.raises(Died):
            call_logs_ingest(client=client, consumer="doomed", batch=1, write=write_then_die)
        first_entry, _ = _stored(tag)
        assert 0 < first_entry < 1500
        time.sleep(0.05)
        result = call_logs_ingest(client=client, consumer="heir", batch=1, claim_idle_ms=10)
        assert (result.claimed, result.written) == (1, 1500)
        assert _stored(tag) == (1500, 1500)
        assert stream_backlog(client, stream) == {"length": 0, "pending": 0}
    finally:
        client.delete(stream)


def test_an_entry_that_is_not_a_record_is_dropped_without_blocking_the_others(settings):
    settings.ANALYTICS_CALL_STREAM = stream = f"test-{uuid.uuid4().hex[:8]}:calls"
    client = redis.Redis.from_url(settings.REDIS_URL)
    tag = uuid.uuid4().hex[:8]
    try:
        client.xadd(stream, {"r": b"{not json"})
        _emit(stream, 3, tag=tag)
        result = call_logs_ingest(client=client, consumer="reader")
        assert (result.undecodable, result.written) == (1, 3)
        assert stream_backlog(client, stream)["length"] == 0
    finally:
        client.delete(stream)


def test_the_sink_keeps_records_while_redis_is_away_and_writes_them_to_the_database_at_exit():
    tag = uuid.uuid4().hex[:8]
    sink = RedisStreamCallSink(
        url="redis://127.0.0.1:1/0",
        stream="unused",
        maxlen=100,
        fallback_write=lambda rows: call_logs_record(records=rows),
    )

    async def emit_and_try() -> None:
        for i in range(5):
            sink.emit(CallRecord(request_id=f"{tag}-{i}", created=time.time(), endpoint="chat", status=200))
        with pytest.raises(redis.ConnectionError):
            await sink.flush()

    asyncio.run(emit_and_try())
    sink.flush_at_exit()
    assert _stored(tag) == (5, 5)


def test_records_that_arrive_late_get_their_rollups_recomputed_once_per_run(settings, monkeypatch):
    settings.ANALYTICS_CALL_STREAM = stream = f"test-{uuid.uuid4().hex[:8]}:calls"
    client = redis.Redis.from_url(settings.REDIS_URL)
    hour_ago = time.time() - 3600
    recomputed = []
    monkeypatch.setattr(
        "apps.analytics.services.ingest.rollups_catch_up",
        lambda *, oldest: recomputed.append(oldest) or rollups_catch_up(oldest=oldest),
    )

    async def late_records() -> None:
        sink = RedisStreamCallSink(url=settings.REDIS_URL, stream=stream, maxlen=1000, fallback_write=None)
        for i in range(1200):  # three entries of up to 500
            sink.emit(CallRecord(request_id=f"late-{i}", created=hour_ago + i / 100, endpoint="chat", tenant_id=7))
        await sink.aclose()

    try:
        asyncio.run(late_records())
        result = call_logs_ingest(client=client, consumer="reader", batch=1)
        assert result.written == 1200
        assert len(recomputed) == 1  # not once per batch
        minutes = CallRollup.objects.filter(granularity="minute", tenant_id=7)
        assert sum(minutes.values_list("calls", flat=True)) == 1200
    finally:
        client.delete(stream)
