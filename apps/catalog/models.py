from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from apps.tenants.models import TenantOwnedModel, cache_ttl_validators, slug_validator

tag_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
    "A tag is 1-40 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


class Tag(models.Model):
    """A label for finding services in the catalog (e.g. "nlp", "finance"); created on first use."""

    name = models.SlugField(max_length=40, unique=True, validators=[tag_validator])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceKind(models.TextChoices):
    PROMPT = "prompt", "Prompt API"
    MODEL = "model", "Model API"


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private to its tenant"
    SHARED = "shared", "Shared with chosen tenants"
    PUBLIC = "public", "Public to every tenant"


class Lifecycle(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


INVOCABLE = (Lifecycle.PUBLISHED, Lifecycle.DEPRECATED)


class ApprovalMode(models.TextChoices):
    MANUAL = "manual", "An admin approves each subscription"
    AUTO = "auto", "Subscriptions are approved at once"


class OutputMode(models.TextChoices):
    TEXT = "text", "Text"
    JSON = "json", "JSON matching the output schema"


class BudgetCurrency(models.TextChoices):
    """The currencies budgets are kept in: calls are priced in US dollars, so budgets are too (for now)."""

    USD = "USD", "US dollar"


# Shared by plans and limit sets (access): a limit, when set, is at least 1; a budget at least 0.
limit_validators = [MinValueValidator(1)]
budget_validators = [MinValueValidator(Decimal(0))]
alert_percent_validators = [MinValueValidator(1), MaxValueValidator(100)]
SEMANTIC_THRESHOLD_MIN = 0.80


class Service(TenantOwnedModel):
    """A published API in the catalog: a prompt API (template + route + schemas) or a model API (a route).

    The slug is global: it is the service's address (/api/v1/services/<slug>/invoke)."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    summary = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True, help_text="Markdown; rendered sanitized")
    team = models.CharField(max_length=100, blank=True, help_text="who owns it inside the tenant")
    tags = models.ManyToManyField(Tag, blank=True, related_name="services")
    kind = models.CharField(max_length=10, choices=ServiceKind.choices)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    shared_with = models.ManyToManyField("tenants.Tenant", blank=True, related_name="services_shared_with_me")
    lifecycle = models.CharField(max_length=12, choices=Lifecycle.choices, default=Lifecycle.DRAFT)
    approval_mode = models.CharField(max_length=10, choices=ApprovalMode.choices, default=ApprovalMode.MANUAL)
    route = models.ForeignKey("providers.Route", on_delete=models.PROTECT, related_name="services")
    input_schema = models.JSONField(default=dict, blank=True, help_text="JSON Schema of the invocation body")
    output_mode = models.CharField(max_length=8, choices=OutputMode.choices, default=OutputMode.TEXT)
    output_schema = models.JSONField(default=dict, blank=True, help_text="JSON Schema of the output (JSON mode)")
    capture_bodies_days = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(90)],
        help_text="keep the masked request and response bodies of its calls this many days; 0: never capture",
    )
    expected_tokens_per_call = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(1)], help_text="for cost projections until real averages exist"
    )
    cache_ttl_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=cache_ttl_validators,
        help_text="seconds to keep identical answers (1-604800; wins over the route's); empty: no cache",
    )
    semantic_cache = models.BooleanField(
        default=False, help_text="also reuse the answer of the most similar stored prompt (needs an embedding route)"
    )
    semantic_cache_route = models.CharField(
        max_length=100, blank=True, help_text="alias of the tenant's embedding route that embeds the prompts"
    )
    semantic_cache_threshold = models.FloatField(
        default=0.95,
        validators=[MinValueValidator(SEMANTIC_THRESHOLD_MIN), MaxValueValidator(1.0)],
        help_text="cosine similarity (0.80 to 1.00) at or above which a stored answer is reused",
    )
    published_at = models.DateTimeField(null=True, blank=True)
    sunset_on = models.DateField(null=True, blank=True, help_text="deprecated: the day it is to be retired")

    class Meta:
        ordering = ["name", "slug"]
        indexes = [models.Index(fields=["visibility", "lifecycle"])]
        permissions = [
            ("approve_subscription", "Can approve subscriptions to this service"),
            ("change_prompt", "Can edit and publish this service's prompt"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.semantic_cache and not self.semantic_cache_route:
            raise ValidationError(
                {"semantic_cache_route": "The semantic cache needs an embedding route to embed with."}
            )
        if self.semantic_cache and self.cache_ttl_seconds is None:
            raise ValidationError({"cache_ttl_seconds": "The semantic cache needs a TTL: how long answers are kept."})


class Plan(models.Model):
    """What a subscription buys: quotas, rate limits, a spend budget and the models allowed."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="plans")
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    requests_per_day = models.PositiveIntegerField(
        null=True, blank=True, validators=limit_validators, help_text="empty: unlimited"
    )
    requests_per_month = models.PositiveIntegerField(null=True, blank=True, validators=limit_validators)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True, validators=limit_validators)
    tokens_per_minute = models.PositiveIntegerField(null=True, blank=True, validators=limit_validators)
    daily_budget = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=budget_validators, help_text="empty: none"
    )
    monthly_budget = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=budget_validators
    )
    budget_currency = models.CharField(max_length=3, choices=BudgetCurrency.choices, default=BudgetCurrency.USD)
    budget_alert_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=alert_percent_validators,
        help_text="alert when this share of a budget is spent (1-100); empty: no alert",
    )
    allowed_models = models.JSONField(default=list, blank=True, help_text="route aliases; empty: the service's")
    over_budget_route = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="route alias a subscription's calls go to once a budget of the plan is reached; empty: refused",
    )
    is_default = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["service", "slug"], name="plan_unique_slug_per_service"),
            models.UniqueConstraint(
                fields=["service"], condition=models.Q(is_default=True), name="plan_one_default_per_service"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service.slug}/{self.slug}"
