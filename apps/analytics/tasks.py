"""Celery tasks of the analytics app, run by the worker on beat's schedule (portal/settings.py
CELERY_BEAT_SCHEDULE) or, on the embedded default, in-process (apps/core/embedded_beat.py)."""

from __future__ import annotations

from datetime import datetime
from functools import cache

import redis
from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from apps.analytics.services import ingest, partitions, retention, rollups
from apps.analytics.services.alert_deliveries import DeliveryFailed, alert_delivery_send
from apps.analytics.services.alerts import alerts_evaluate


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10, health_check_interval=30)


@shared_task(name="analytics.call_logs_ingest")
def call_logs_ingest_task() -> dict[str, int]:
    """Drain the call-record stream into the database (when the data plane writes to Redis)."""
    if settings.GATEWAY_CALL_SINK != "redis" or not settings.REDIS_URL:
        return {}
    result = ingest.call_logs_ingest(
        client=_redis(), batch=settings.ANALYTICS_INGEST_BATCH, max_seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT - 10
    )
    return {"written": result.written, "entries": result.entries, "claimed": result.claimed}


@shared_task(name="analytics.rollups_refresh")
def rollups_refresh_task(granularities: list[str] | None = None) -> dict[str, int]:
    """Minute and hour rollups of the last few minutes (by default), or the granularities named."""
    return rollups.rollups_refresh(granularities=tuple(granularities or ("minute", "hour")))


@shared_task(name="analytics.rollups_recompute")
def rollups_recompute_task(start: str, end: str) -> dict[str, int]:
    """Recompute the rollups of a period given as ISO 8601 times (`manage.py rollups_recompute` too)."""
    return rollups.rollups_recompute(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))


@shared_task(name="analytics.call_log_partitions_ahead")
def call_log_partitions_ahead_task() -> list[str]:
    return [day.isoformat() for day in partitions.call_log_partitions_ahead()]


@shared_task(name="analytics.retention_prune")
def retention_prune_task() -> dict[str, int]:
    return retention.retention_prune()


# Alerts

ALERT_DELIVERY_MAX_TRIES = 5


@shared_task(name="analytics.alerts_evaluate")
def alerts_evaluate_task() -> dict[str, int]:
    return alerts_evaluate()


@shared_task(name="analytics.budget_alerts_evaluate")
def budget_alerts_evaluate_task() -> dict[str, int]:
    from apps.analytics.services.budget_alerts import budget_alerts_evaluate

    return budget_alerts_evaluate()


@shared_task(bind=True, name="analytics.alert_delivery_send", max_retries=ALERT_DELIVERY_MAX_TRIES - 1)
def alert_delivery_send_task(self, delivery_id: int) -> str:
    """Send one alert notification; a failure is retried with exponential backoff (about 30 s, 1, 2 and 4 min,
    jittered: a receiver down for a few minutes still gets it) and recorded as failed after the last try."""
    try:
        return alert_delivery_send(delivery_id=delivery_id, final_attempt=self.request.retries >= self.max_retries)
    except DeliveryFailed as exc:
        if self.request.is_eager:
            # Run in-process (the embedded default, tests), Celery would hand its Retry exception to whoever
            # queued the task instead of retrying: try again here, without the wait.
            return self.apply((delivery_id,), retries=self.request.retries + 1).get()
        countdown = get_exponential_backoff_interval(
            factor=30, retries=self.request.retries, maximum=600, full_jitter=True
        )
        raise self.retry(exc=exc, countdown=countdown) from exc
