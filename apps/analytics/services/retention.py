"""Retention: raw call logs go by whole days (dropped partitions on PostgreSQL), captured bodies when their
service's period ends, rollups per granularity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings

from apps.analytics.models import CallBody, CallLog, CallRollup
from apps.analytics.services.partitions import call_log_partitions_drop_before, partitioned


def retention_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Remove what is past retention; returns how many days, bodies and rollup rows went."""
    now = now or datetime.now(UTC)
    cutoff = (now - timedelta(days=settings.ANALYTICS_LOG_RETENTION_DAYS)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    if partitioned():
        pruned = {"log_days": len(call_log_partitions_drop_before(cutoff.date()))}
    else:
        pruned = {"log_rows": CallLog.objects.filter(created_at__lt=cutoff).delete()[0]}
    pruned["bodies"] = CallBody.objects.filter(expires_at__lte=now).delete()[0]
    for granularity, days in settings.ANALYTICS_ROLLUP_RETENTION_DAYS.items():
        old = CallRollup.objects.filter(granularity=granularity, bucket__lt=now - timedelta(days=days))
        pruned[f"{granularity}_rollups"] = old.delete()[0]
    return pruned
