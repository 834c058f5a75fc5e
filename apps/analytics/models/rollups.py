from __future__ import annotations

from decimal import Decimal

from django.db import models

from apps.analytics import histogram

# One integer column per latency bucket (histogram.LATENCY_BOUNDS_MS): the database sums histograms over any
# slice with plain SUM()s. As one JSON array per row, a dashboard over a week of hourly rows spent 1.5 s reading
# and adding arrays in Python (bench/dashboard.py); as columns, its few GROUP BYs take tens of milliseconds.
LATENCY_COLUMNS = tuple(f"latency_bucket_{i:02d}" for i in range(histogram.BUCKETS))
# The figures that add up across rows (rollups merge them, dashboards sum them).
SUMMED_FIELDS = (
    "calls",
    "errors",
    "server_errors",
    "cache_hits",
    "streams",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "latency_sum_ms",
    "overhead_sum_ms",
)


class Granularity(models.TextChoices):
    MINUTE = "minute", "Minute"
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


class CallRollup(models.Model):
    """Calls aggregated per time bucket and (tenant, app, service, model): what dashboards and alerts read.

    Computed by apps/analytics/services/rollups.py — minutes from raw logs, hours from minutes, days from
    hours — and recomputed idempotently for any period. Sums are exact; latency percentiles come from the
    fixed-bucket histogram (apps/analytics/histogram.py) in the latency_bucket_NN columns, so any set of rows
    sums into a correct one."""

    granularity = models.CharField(max_length=6, choices=Granularity.choices)
    bucket = models.DateTimeField()
    tenant_id = models.BigIntegerField()
    # 0 and "" stand for "none" (a /v1 call on the tenant's own route has no service): the unique
    # constraint below then holds on every database, with no NULLs that compare unequal.
    app_id = models.BigIntegerField(default=0)
    service_id = models.BigIntegerField(default=0)
    model = models.CharField(max_length=200, blank=True)
    calls = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)  # status >= 400
    server_errors = models.PositiveIntegerField(default=0)  # status >= 500
    error_types = models.JSONField(default=dict, blank=True)  # {error type: count}
    cache_hits = models.PositiveIntegerField(default=0)
    streams = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=8, default=Decimal(0))
    latency_sum_ms = models.FloatField(default=0)
    overhead_sum_ms = models.FloatField(default=0)
    for _column in LATENCY_COLUMNS:
        locals()[_column] = models.PositiveIntegerField(default=0)
    del _column
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["granularity", "-bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "bucket", "tenant_id", "app_id", "service_id", "model"],
                name="callrollup_one_per_bucket",
            )
        ]
        indexes = [
            models.Index(fields=["tenant_id", "granularity", "bucket"], name="callrollup_tenant_period"),
            # A tenant also sees the calls other tenants make to its services.
            models.Index(fields=["service_id", "granularity", "bucket"], name="callrollup_service_period"),
        ]

    def __str__(self) -> str:
        return f"{self.granularity} {self.bucket:%Y-%m-%d %H:%M} tenant {self.tenant_id}: {self.calls} calls"

    @property
    def latency_histogram(self) -> list[int]:
        return [getattr(self, column) for column in LATENCY_COLUMNS]

    @latency_histogram.setter
    def latency_histogram(self, counts: list[int]) -> None:
        for column, count in zip(LATENCY_COLUMNS, counts, strict=True):
            setattr(self, column, count)
