"""Alerting: rules a tenant sets on its traffic, the incidents they raise, and the notifications sent about them.

Rules are evaluated every minute by the `analytics.alerts_evaluate` beat task (apps/analytics/services/alerts.py)
over minute rollups (and the raw call log for circuit breakers)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models

from apps.core.crypto import decrypt_text, encrypt_text
from apps.tenants.models import TenantOwnedModel

MAX_WINDOW_MINUTES = 1440
webhook_url_validator = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")


class AlertMetric(models.TextChoices):
    ERROR_RATE = "error_rate", "Error rate"
    P95_LATENCY = "p95_latency", "p95 latency"
    DAILY_SPEND = "daily_spend", "Spend today (UTC)"
    BREAKER_OPEN = "breaker_open", "Circuit breakers opened"
    # Not a measure of traffic: a rule of this kind says who is told when a budget (a plan's or a limit set's)
    # reaches its own alert percent (apps/analytics/services/budget_alerts.py). Its threshold is not used.
    BUDGET = "budget", "Budget alert percent reached"


# What a metric's value (and threshold) is measured in: shown next to numbers and in notifications.
METRIC_UNITS = {
    AlertMetric.ERROR_RATE: "%",
    AlertMetric.P95_LATENCY: "ms",
    AlertMetric.DAILY_SPEND: "USD",
    AlertMetric.BREAKER_OPEN: "openings",
    AlertMetric.BUDGET: "%",
}
# Metrics that mean nothing over too few calls (one failed call of two is not a 50 % error rate worth a page).
METRICS_WITH_MIN_CALLS = {AlertMetric.ERROR_RATE, AlertMetric.P95_LATENCY}


class AlertRule(TenantOwnedModel):
    """A condition on a tenant's traffic: `metric` over the last `window_minutes` above `threshold`.

    The optional scope narrows it to one service and/or one upstream model. Who is told: `email_recipients`
    (empty: the tenant's owners and admins) and `webhook_url`, signed with the rule's webhook secret (stored
    encrypted: the portal needs it to sign, so it cannot keep only a hash of it)."""

    name = models.CharField(max_length=100)
    metric = models.CharField(max_length=16, choices=AlertMetric.choices)
    threshold = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Fires when the value is above it: percent, milliseconds, USD or a count, by metric.",
    )
    window_minutes = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WINDOW_MINUTES)],
        help_text="The trailing period the metric is computed over (1-1440; spend counts from 00:00 UTC).",
    )
    min_calls = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1)],
        help_text="Error rate and p95 latency are judged only over at least this many calls in the window.",
    )
    service = models.ForeignKey(
        "catalog.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="Only its calls"
    )
    model = models.CharField(max_length=200, blank=True, help_text="Only calls answered by this upstream model.")
    email_recipients = models.JSONField(
        default=list, blank=True, help_text="E-mail addresses; empty: the tenant's owners and admins."
    )
    webhook_url = models.URLField(max_length=500, blank=True, validators=[webhook_url_validator])
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="alertrule_unique_name_per_tenant"),
            models.CheckConstraint(condition=models.Q(threshold__gte=0), name="alertrule_threshold_not_negative"),
            models.CheckConstraint(
                condition=models.Q(window_minutes__gte=1, window_minutes__lte=MAX_WINDOW_MINUTES),
                name="alertrule_window_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def unit(self) -> str:
        return METRIC_UNITS[AlertMetric(self.metric)]

    def set_webhook_secret(self, secret: str) -> None:
        self.webhook_secret_encrypted = encrypt_text(secret) if secret else ""

    def webhook_secret(self) -> str:
        return decrypt_text(self.webhook_secret_encrypted)

    def describe(self, value: Decimal | None) -> str:
        """A value of this rule's metric for people: "12.5 %", "830 ms", "1.20 USD", "2 openings"."""
        if value is None:
            return "no data"
        if self.metric == AlertMetric.DAILY_SPEND:
            return f"{value:.2f} USD"
        number = f"{value:.2f}".rstrip("0").rstrip(".")
        return f"{number} {self.unit}"

    def scope(self) -> str:
        """Which calls the rule looks at: "service billing, model gpt-4o" or "all calls"."""
        parts = [f"service {self.service.slug}" if self.service_id else "", f"model {self.model}" if self.model else ""]
        return ", ".join(part for part in parts if part) or "all calls"

    def condition(self) -> str:
        """The rule as a sentence: "Error rate above 5 % over 10 min"."""
        label = AlertMetric(self.metric).label
        if self.metric == AlertMetric.BUDGET:
            return "A budget's spend reached its alert percent"
        if self.metric == AlertMetric.DAILY_SPEND:
            return f"{label} above {self.describe(self.threshold)}"
        return f"{label} above {self.describe(self.threshold)} over {self.window_minutes} min"


class Alert(models.Model):
    """One incident of a rule: from the evaluation that found its condition true to the one that found it false.

    At most one per rule (and subject) is open (resolved_at is null): the database refuses a second, so two
    evaluations running at once cannot both fire."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    fired_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    value = models.DecimalField(max_digits=24, decimal_places=6, help_text="The metric when it fired")
    last_value = models.DecimalField(
        max_digits=24, decimal_places=6, null=True, blank=True, help_text="The metric at the latest evaluation"
    )
    message = models.CharField(max_length=300, help_text="What fired, in words")
    # What a rule's alert is about when one rule watches many things: a budget rule's alerts each name a budget and
    # its period ("subscription:12:budget_per_day:2026-12-04"); empty for the metric rules.
    subject = models.CharField(max_length=120, blank=True, default="")
    resolution = models.CharField(max_length=200, blank=True, help_text="Why it was resolved, in words")

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(resolved_at__isnull=True),
                name="alert_one_open_per_rule_subject",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-fired_at"], name="alert_tenant_fired"),
            models.Index(fields=["rule", "-fired_at"], name="alert_rule_fired"),
        ]

    def __str__(self) -> str:
        state = "firing" if self.resolved_at is None else "resolved"
        return f"{self.rule} ({state} since {self.resolved_at or self.fired_at:%Y-%m-%d %H:%M})"

    @property
    def is_firing(self) -> bool:
        return self.resolved_at is None


class AlertEvent(models.TextChoices):
    FIRED = "fired", "Fired"
    RESOLVED = "resolved", "Resolved"


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class AlertDelivery(models.Model):
    """One notification about one event of an alert, to one address or webhook, and how sending it went."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=10, choices=AlertEvent.choices)
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    target = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "alert deliveries"

    def __str__(self) -> str:
        return f"{self.event} {self.channel} to {self.target}: {self.status}"
