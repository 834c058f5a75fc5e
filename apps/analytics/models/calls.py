from __future__ import annotations

from decimal import Decimal

from django.db import models


class CallLog(models.Model):
    """One call through the gateway, as the data plane recorded it (written in batches, off the request path).

    Plain integer ids rather than foreign keys: a log row must outlive the key, app or route it names, and
    inserts must not pay for constraint checks. On PostgreSQL the table is partitioned by day on
    `created_at` (migration 0003; apps/analytics/services/partitions.py): its primary key there is
    (id, created_at), and a request id is unique together with its time, which a retried write repeats."""

    request_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    endpoint = models.CharField(max_length=16)
    stream = models.BooleanField(default=False)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    app_id = models.BigIntegerField(null=True, blank=True)
    key_prefix = models.CharField(max_length=24, blank=True)
    service_id = models.BigIntegerField(null=True, blank=True)
    route = models.CharField(max_length=100, blank=True)
    provider_id = models.BigIntegerField(null=True, blank=True)
    deployment_id = models.BigIntegerField(null=True, blank=True)
    model = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField()
    error_type = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    latency_ms = models.FloatField()
    upstream_ms = models.FloatField(default=0)
    overhead_ms = models.FloatField(default=0)
    ttft_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    usage_estimated = models.BooleanField(default=False)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal(0))
    cache_hit = models.BooleanField(default=False)
    masked_items = models.PositiveIntegerField(default=0)
    # Each policy step that acted, e.g. {"pii": "masked", "guardrail": "blocked:jailbreak"}.
    policy_outcomes = models.JSONField(default=dict, blank=True)
    # The deployment whose circuit breaker this call's failure opened (alerts: apps/analytics/services/alerts).
    breaker_opened_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["request_id", "created_at"], name="calllog_request_once")]
        indexes = [
            models.Index(fields=["tenant_id", "-created_at"], name="calllog_tenant_time"),
            models.Index(fields=["created_at"], name="calllog_time"),
            models.Index(fields=["service_id", "-created_at"], name="calllog_service_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.endpoint} {self.route} {self.status}"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class CallBody(models.Model):
    """Request and response bodies of one call, captured only for services that opt in, masked before they
    are stored, and deleted after the service's retention period."""

    request_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    tenant_id = models.BigIntegerField()
    service_id = models.BigIntegerField(null=True, blank=True)
    request = models.TextField(blank=True)
    response = models.TextField(blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["request_id", "created_at"], name="callbody_request_once")]
        indexes = [models.Index(fields=["expires_at"], name="callbody_expiry")]

    def __str__(self) -> str:
        return f"bodies of {self.request_id}"
