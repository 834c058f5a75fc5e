"""The call stream's consumer group on a real Redis: each worker process and thread reads as a consumer of its own,
and a restart leaves the old ones behind. Every ingest run deletes those that hold nothing and have been idle past
the bound; one that still holds entries stays until they are claimed and written."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
import redis
from django.conf import settings

from apps.analytics.models import CallLog
from apps.analytics.services.ingest import RECORD_FIELD, call_logs_ingest, records_encode, stream_group_ensure
from apps.gateway.pipeline.records import CallRecord

pytestmark = pytest.mark.django_db

GROUP = "call-log-writers"


@pytest.fixture
def stream():
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = f"test:calls:{uuid.uuid4().hex}"
    stream_group_ensure(client, name, GROUP)
    yield client, name
    client.delete(name)


def _consumers(client, stream) -> dict[str, int]:
    return {row["name"].decode(): row["pending"] for row in client.xinfo_consumers(stream, GROUP)}


def _ingest(client, stream, **options):
    return call_logs_ingest(client=client, stream=stream, group=GROUP, consumer="worker-now", **options)


def test_a_restart_leaves_no_dead_consumer_behind(stream):
    client, name = stream
    for dead in ("worker-1-pid-101", "worker-1-pid-102", "worker-1-pid-103", "worker-1-pid-104"):
        client.xgroup_createconsumer(name, GROUP, dead)  # a reader of a process that is gone, nothing pending
    assert len(_consumers(client, name)) == 4
    time.sleep(0.02)  # the dead ones have now been idle for longer than the bound below
    result = _ingest(client, name, consumer_idle_ms=10)
    assert result.consumers_removed == 4
    assert _consumers(client, name) == {"worker-now": 0}  # the live reader stays


def test_a_consumer_still_holding_entries_is_kept_until_they_are_taken_over(stream):
    client, name = stream
    record = CallRecord(request_id="req-held", created=time.time(), endpoint="chat", tenant_id=1, status=200)
    client.xadd(name, {RECORD_FIELD: records_encode([dataclasses.asdict(record)])})
    client.xreadgroup(GROUP, "worker-dead", {name: ">"}, count=1)  # took the entry, then its process died
    time.sleep(0.02)
    first = _ingest(client, name, consumer_idle_ms=10, claim_idle_ms=60_000)  # too early to claim its entry
    assert first.consumers_removed == 0
    assert _consumers(client, name) == {"worker-dead": 1, "worker-now": 0}
    second = _ingest(client, name, consumer_idle_ms=10, claim_idle_ms=10)  # claimed, written, then pruned
    assert second.claimed == 1
    assert CallLog.objects.filter(request_id="req-held").exists()
    assert second.consumers_removed == 1
    assert _consumers(client, name) == {"worker-now": 0}


def test_the_consumer_running_the_prune_is_never_removed(stream):
    # Its last read can be older than the bound when its own batch took long to write (a loaded machine).
    client, name = stream
    client.xreadgroup(GROUP, "worker-now", {name: ">"}, count=1)
    time.sleep(0.02)
    assert _ingest(client, name, consumer_idle_ms=0).consumers_removed == 0
    assert _consumers(client, name) == {"worker-now": 0}


def test_recently_active_consumers_are_kept(stream):
    client, name = stream
    client.xgroup_createconsumer(name, GROUP, "worker-busy")
    assert _ingest(client, name, consumer_idle_ms=60_000).consumers_removed == 0
    assert set(_consumers(client, name)) == {"worker-busy", "worker-now"}
