from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction

from apps.access.services import api_key_issue
from apps.analytics.models import CallLog
from apps.analytics.services import call_logs_record
from apps.analytics.services.partitions import (
    call_log_partitions,
    call_log_partitions_ensure,
    partition_name,
    partitioned,
)
from apps.gateway.adapters.sink import _row
from apps.gateway.pipeline.records import CallRecord

pytestmark = pytest.mark.django_db


def record(request_id: str, **fields) -> dict:
    base = CallRecord(request_id=request_id, created=time.time(), endpoint="chat", status=200, latency_ms=12.5)
    for name, value in fields.items():
        setattr(base, name, value)
    return _row(base)


def test_a_batch_is_stored_field_for_field(app):
    key, _ = api_key_issue(app=app, name="k", actor_membership=None)
    rows = [
        record(
            "req_a",
            tenant_id=app.tenant_id,
            app_id=app.pk,
            key_prefix=key.prefix,
            route="smart",
            prompt_tokens=10,
            completion_tokens=5,
            cost=Decimal("0.00001234"),
            stream=True,
            ttft_ms=3.5,
        ),
        record("req_b", status=401, error_type="invalid_api_key"),
    ]
    assert call_logs_record(records=rows) == 2
    stored = CallLog.objects.get(request_id="req_a")
    assert (stored.route, stored.prompt_tokens, stored.completion_tokens, stored.stream) == ("smart", 10, 5, True)
    assert stored.cost == Decimal("0.00001234")
    assert stored.ttft_ms == 3.5
    assert abs(stored.created_at.timestamp() - rows[0]["created"]) < 0.001
    assert CallLog.objects.get(request_id="req_b").error_type == "invalid_api_key"
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_record_written_twice_is_stored_once(app):
    first = record("req_dup", route="one")
    call_logs_record(records=[first])
    call_logs_record(records=[{**first, "route": "two"}, record("req_new")])
    assert CallLog.objects.count() == 2
    assert CallLog.objects.get(request_id="req_dup").route == "one"


@pytest.mark.django_db(transaction=True)
def test_a_partition_rolled_back_with_its_batch_is_made_again_by_the_next_write():
    # The process cache of partitions must hold only committed ones: a batch whose transaction failed after its
    # day's partition was made would otherwise leave every later write of that day failing.
    if not partitioned():
        pytest.skip("partitions exist on PostgreSQL only")
    day_ago = time.time() - 3 * 86400
    day = datetime.fromtimestamp(day_ago, tz=UTC).date()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {partition_name(day)}")

    def failing_batch():
        with transaction.atomic():
            call_log_partitions_ensure({day})
            raise RuntimeError("the batch's insert failed")

    with pytest.raises(RuntimeError):
        failing_batch()
    assert day not in call_log_partitions()

    assert call_logs_record(records=[record("req_after_rollback", created=day_ago)]) == 1
    assert day in call_log_partitions()
    assert CallLog.objects.filter(request_id="req_after_rollback").exists()
