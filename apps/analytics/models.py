from __future__ import annotations

from decimal import Decimal

from django.db import models


class CallLog(models.Model):
    """One call through the gateway, as the data plane recorded it (written in batches, off the request path).

    Plain integer ids rather than foreign keys: a log row must outlive the key, app or route it names, and
    inserts must not pay for constraint checks."""

    request_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(db_index=True)
    endpoint = models.CharField(max_length=16)
    stream = models.BooleanField(default=False)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    app_id = models.BigIntegerField(null=True, blank=True)
    key_prefix = models.CharField(max_length=24, blank=True)
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

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.request_id} {self.endpoint} {self.route} {self.status}"
