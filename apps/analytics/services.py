from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from apps.access.models import ApiKey
from apps.analytics.models import CallLog


def call_logs_record(*, records: Iterable[Mapping[str, Any]]) -> int:
    """Store a batch of call records (one INSERT) and note when each key was last used.

    A record has CallLog's fields, with `created` as unix time; a request id seen before is skipped."""
    rows = []
    last_used: dict[str, datetime] = {}
    for record in records:
        data = dict(record)
        created = datetime.fromtimestamp(data.pop("created"), tz=UTC)
        rows.append(CallLog(created_at=created, **data))
        if data["key_prefix"]:
            lookup_id = data["key_prefix"].removeprefix("gwk_")
            last_used[lookup_id] = max(created, last_used.get(lookup_id, created))
    with transaction.atomic():
        CallLog.objects.bulk_create(rows, ignore_conflicts=True)
        for lookup_id, when in last_used.items():
            ApiKey.objects.filter(lookup_id=lookup_id).update(last_used_at=when)
    return len(rows)
