from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from apps.catalog.models import BudgetCurrency, alert_percent_validators, budget_validators, limit_validators
from apps.core.models import TimeStampedModel
from apps.tenants.models import TenantOwnedModel, slug_validator

API_KEY_KIND = "gwk"
PERSONAL_TOKEN_KIND = "gwp"  # noqa: S105 - a token type prefix, not a secret


class App(TenantOwnedModel):
    """A consumer application of a tenant (e.g. "billing-bot"); API keys and subscriptions hang off it."""

    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="app_unique_slug_per_tenant")]
        permissions = [("manage_app", "Can manage this app and its keys")]

    def __str__(self) -> str:
        return self.name


class TokenState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class HashedToken(TimeStampedModel):
    """Abstract: a secret shown once, stored as lookup id + HMAC digest (apps.core.tokens)."""

    name = models.CharField(max_length=100)
    lookup_id = models.CharField(max_length=16, unique=True, editable=False)
    pepper_id = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    kind = ""

    class Meta:
        abstract = True

    @property
    def prefix(self) -> str:
        return f"{self.kind}_{self.lookup_id}"

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return TokenState.EXPIRED
        return TokenState.ACTIVE

    @property
    def is_usable(self) -> bool:
        return self.state == TokenState.ACTIVE


class ApiKeyScope(models.TextChoices):
    GATEWAY = "gateway", "Call models and services through the gateway"
    CATALOG = "catalog", "Read the service catalog"


class ApiKey(HashedToken):
    """An app's credential for the data plane. The database never holds the secret."""

    kind = API_KEY_KIND
    audit_name = "api_key"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="api_keys")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="keys")
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        indexes = [models.Index(fields=["app", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"


class PersonalAccessToken(HashedToken):
    """A person's token for the management API (CI scripts): acts as the user, with the user's roles."""

    kind = PERSONAL_TOKEN_KIND
    audit_name = "personal_token"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"
    CANCELLED = "cancelled", "Cancelled"  # by the app's side: a request withdrawn, or an unsubscribe


# A subscription in one of these states still holds the (app, service) pair; rejected/revoked/cancelled free it.
OPEN_SUBSCRIPTION_STATES = (SubscriptionStatus.PENDING, SubscriptionStatus.APPROVED, SubscriptionStatus.SUSPENDED)
EXPIRED = "expired"  # not a stored status: an approved subscription past its expires_at


class SubscriptionQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None) -> SubscriptionQuerySet:
        """Approved and not expired: what lets an app call the service (the same rule as `is_active`)."""
        now = now or timezone.now()
        unexpired = models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        return self.filter(unexpired, status=SubscriptionStatus.APPROVED)


class Subscription(TimeStampedModel):
    """An app's contract with a service under a plan, and where its approval stands."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="subscriptions")
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="subscriptions")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=12, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING)
    purpose = models.TextField(help_text="why the app needs the service, for the approver")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="why it was rejected, suspended or revoked")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="time-boxed approvals end here")

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "service"],
                condition=models.Q(status__in=OPEN_SUBSCRIPTION_STATES),
                name="subscription_one_open_per_app_service",
            ),
        ]
        indexes = [models.Index(fields=["service", "status"])]

    def __str__(self) -> str:
        return f"{self.app} → {self.service} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.status == SubscriptionStatus.APPROVED and not self.is_expired

    @property
    def state(self) -> str:
        """The status as the requester experiences it: an approved subscription past its expiry is "expired"."""
        return EXPIRED if self.status == SubscriptionStatus.APPROVED and self.is_expired else self.status


class LimitScope(models.TextChoices):
    TENANT = "tenant", "Tenant"
    APP = "app", "App"
    KEY = "key", "API key"


class LimitSet(TenantOwnedModel):
    """Rate limits, quotas and spend budgets of one scope: the whole tenant (no app, no key), one of its apps, or
    one of its keys. Empty fields: no limit. Each scope a call falls in is counted on its own (the gateway's limit
    steps); the tightest refuses first."""

    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.CASCADE, related_name="limit_sets")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="limit_sets")
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True, validators=limit_validators)
    tokens_per_minute = models.PositiveIntegerField(null=True, blank=True, validators=limit_validators)
    requests_per_day = models.PositiveIntegerField(null=True, blank=True, validators=limit_validators)
    requests_per_month = models.PositiveIntegerField(null=True, blank=True, validators=limit_validators)
    budget_per_day = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=budget_validators
    )
    budget_per_month = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=budget_validators
    )
    budget_currency = models.CharField(max_length=3, choices=BudgetCurrency.choices, default=BudgetCurrency.USD)
    budget_alert_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=alert_percent_validators,
        help_text="alert when this share of a budget is spent (1-100); empty: no alert",
    )
    # A reached budget sends calls to this (cheaper) route of the tenant instead of refusing them.
    over_budget_route = models.ForeignKey(
        "providers.Route", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(app__isnull=True) | models.Q(api_key__isnull=True), name="limitset_one_scope"
            ),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(app__isnull=True, api_key__isnull=True),
                name="limitset_one_per_tenant",
            ),
            models.UniqueConstraint(fields=["app"], condition=models.Q(app__isnull=False), name="limitset_one_per_app"),
            models.UniqueConstraint(
                fields=["api_key"], condition=models.Q(api_key__isnull=False), name="limitset_one_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"limits of {self.scope} {self.scope_label}"

    @property
    def scope(self) -> str:
        if self.api_key_id is not None:
            return LimitScope.KEY
        return LimitScope.APP if self.app_id is not None else LimitScope.TENANT

    @property
    def scope_label(self) -> str:
        if self.api_key_id is not None:
            return self.api_key.prefix
        return self.app.slug if self.app_id is not None else self.tenant.slug

    @property
    def summary(self) -> list[str]:
        """The limits that are set, in words (for lists: "60 req/min", "$5.00/day", "then cheap")."""
        counts = [
            (self.requests_per_minute, "req/min"),
            (self.tokens_per_minute, "tokens/min"),
            (self.requests_per_day, "req/day"),
            (self.requests_per_month, "req/month"),
        ]
        parts = [f"{value} {unit}" for value, unit in counts if value is not None]
        budgets = [(self.budget_per_day, "day"), (self.budget_per_month, "month")]
        parts += [f"${value}/{period}" for value, period in budgets if value is not None]
        if self.over_budget_route_id is not None:
            parts.append(f"then {self.over_budget_route.alias}")
        return parts

    def clean(self) -> None:
        if self.app_id is not None and self.api_key_id is not None:
            raise ValidationError({"api_key": "Limits apply to an app or to one key, not both."})
        for field in ("app", "api_key", "over_budget_route"):
            related = getattr(self, field) if getattr(self, f"{field}_id") is not None else None
            if related is not None and related.tenant_id != self.tenant_id:
                raise ValidationError({field: f"No such {field.replace('_', ' ')} in this tenant."})
