from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

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
