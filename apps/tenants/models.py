from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from apps.core.models import TimeStampedModel

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)

# A response cache's time to live, shared by routes (providers) and services (catalog): 1 s to 7 days; no value
# means no cache (0 is refused rather than read as "off", so a typo never silently turns caching off or on).
CACHE_TTL_MAX_SECONDS = 7 * 24 * 3600
cache_ttl_validators = [MinValueValidator(1), MaxValueValidator(CACHE_TTL_MAX_SECONDS)]


class Tenant(TimeStampedModel):
    """An organization: owns apps, keys, services and routes; people reach it through memberships."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    require_internal_subscriptions = models.BooleanField(
        default=False, help_text="apps of this tenant also need an approved subscription to its own services"
    )
    limits_fail_open = models.BooleanField(
        default=True,
        help_text="limit store (Redis) unreachable: serve calls unlimited (on) or refuse them with 503",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    DEVELOPER = "developer", "Developer"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


# Each role includes the rights of the ones before it.
ROLE_RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Membership(TimeStampedModel):
    """A user's role in one tenant. A user may belong to several tenants."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        ordering = ["tenant__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(minimum)]


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> TenantQuerySet:
        return self.filter(tenant=tenant)


class TenantOwnedModel(TimeStampedModel):
    """Abstract base of everything a tenant owns; selectors always scope with for_tenant()."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
