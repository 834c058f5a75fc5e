from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from apps.core.crypto import decrypt_text, encrypt_text
from apps.core.netguard import url_problem
from apps.providers.clients.registry import kind_choices
from apps.tenants.models import TenantOwnedModel, cache_ttl_validators, slug_validator

alias_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$",
    "Use up to 100 letters, digits and . _ : / @ - (model names like gpt-4o-mini or llama3.1:8b).",
)
# A route alias inside a URL (/routes/<alias>/…): slashes may separate its parts, but it cannot end with one or
# have a part named `deployments` or `delete`, the words the portal's URLs put after an alias.
ROUTE_ALIAS_IN_PATH = r"[A-Za-z0-9](?:(?!/(?:deployments|delete)(?:/|$))[A-Za-z0-9._:/@-]){0,99}(?<!/)"


class Provider(TenantOwnedModel):
    """An LLM provider account of a tenant: its kind, where it is, and its credential (encrypted at rest)."""

    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, choices=kind_choices())
    base_url = models.URLField(max_length=300, blank=True, help_text="e.g. https://api.openai.com/v1")
    # Fernet token of the API key; read it with api_key(), never display it.
    credentials_encrypted = models.TextField(blank=True, editable=False)
    options = models.JSONField(default=dict, blank=True, help_text="kind-specific settings, e.g. extra headers")
    enabled = models.BooleanField(default=True)
    trusted = models.BooleanField(
        default=False,
        help_text="Set by the operator only: the provider may reach internal addresses (loopback, private networks).",
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="provider_unique_slug_per_tenant")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Whether its address may be reached depends on the operator's settings, checked by the services and
        # when connecting; a URL no call can use is refused everywhere, the admin included.
        if self.base_url and (problem := url_problem(self.base_url)):
            raise ValidationError({"base_url": problem})

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def set_api_key(self, plaintext: str) -> None:
        self.credentials_encrypted = encrypt_text(plaintext) if plaintext else ""

    def api_key(self) -> str:
        return decrypt_text(self.credentials_encrypted)


class Modality(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image input"
    AUDIO = "audio", "Audio"
    EMBEDDING = "embedding", "Embeddings"


class ProviderModel(TenantOwnedModel):
    """A model offered by a provider, with what it costs: the target of a route's deployments."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=100, validators=[alias_validator], help_text="public name in this tenant")
    upstream_id = models.CharField(max_length=200, help_text="the provider's model id")
    modalities = models.JSONField(default=list, blank=True)
    context_window = models.PositiveIntegerField(null=True, blank=True)
    input_price_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    output_price_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    cached_input_price_per_mtok = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="USD per 1M prompt tokens the provider read from its prompt cache; empty: the input price",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "model"
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="model_unique_name_per_tenant")]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class Route(TenantOwnedModel):
    """A model alias apps call (e.g. `smart`), served by one or more deployments."""

    class Strategy(models.TextChoices):
        # The order inside a priority group (apps/gateway/pipeline/router.py); failover then goes down the groups.
        PRIORITY = "priority", "Weighted (by each deployment's weight)"
        LATENCY = "latency", "Lowest latency (recent average, per gateway process)"
        COST = "cost", "Cheapest first (model input + output price)"

    alias = models.CharField(max_length=100, validators=[alias_validator])
    description = models.CharField(max_length=300, blank=True)
    enabled = models.BooleanField(default=True)
    deadline_seconds = models.FloatField(
        default=120.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(3600)],
        help_text="overall time for all attempts, retries and failovers included",
    )
    retries = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(5)], help_text="extra attempts per deployment before failing over"
    )
    cache_ttl_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=cache_ttl_validators,
        help_text="keep identical answers this many seconds (1 to 604800); empty: no response cache",
    )
    strategy = models.CharField(
        max_length=16,
        choices=Strategy.choices,
        default=Strategy.PRIORITY,
        help_text="which deployment of a priority group is tried first; the others follow in the same order",
    )

    class Meta:
        ordering = ["alias"]
        constraints = [models.UniqueConstraint(fields=["tenant", "alias"], name="route_unique_alias_per_tenant")]

    def __str__(self) -> str:
        return self.alias

    def clean(self) -> None:
        if "/" in self.alias and not re.fullmatch(ROUTE_ALIAS_IN_PATH, self.alias):
            raise ValidationError({"alias": "An alias cannot end with / or have a part named deployments or delete."})


class Deployment(models.Model):
    """One way to serve a route: a model, its share of traffic and its place in the fallback order."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="deployments")
    model = models.ForeignKey(ProviderModel, on_delete=models.CASCADE, related_name="deployments")
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)])
    priority = models.PositiveSmallIntegerField(
        default=0, help_text="lower is tried first; higher priorities are fallbacks"
    )
    timeout_seconds = models.FloatField(default=60.0, validators=[MinValueValidator(0.1), MaxValueValidator(3600)])
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["route", "priority", "-weight", "id"]
        constraints = [
            models.UniqueConstraint(fields=["route", "model"], name="deployment_unique_model_per_route"),
            models.CheckConstraint(condition=models.Q(weight__gte=1), name="deployment_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.route.alias} → {self.model.name} (p{self.priority}, w{self.weight})"
