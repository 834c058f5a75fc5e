"""Serializers of providers, models and routes. A provider's credential is write-only: input serializers take
`api_key`, no output serializer has it (only `has_credentials`)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.providers.clients.registry import kind_choices
from apps.providers.models import Deployment, Modality, Provider, ProviderModel, Route, alias_validator
from apps.providers.selectors import model_list, provider_list
from apps.tenants.models import slug_validator


@extend_schema_field(OpenApiTypes.STR)
class InTenantField(serializers.SlugRelatedField):
    """An object of the request's tenant, named by `slug_field`: another tenant's objects do not exist here.
    Needs `context={"tenant": …}`."""

    def __init__(self, *, selector, slug_field: str, what: str, **kwargs) -> None:
        self.selector = selector
        messages = {"does_not_exist": f"No {what} named “{{value}}” in this tenant."}
        super().__init__(slug_field=slug_field, error_messages=messages, **kwargs)

    def get_queryset(self):
        return self.selector(tenant=self.context["tenant"])


class ProviderOut(serializers.ModelSerializer):
    has_credentials = serializers.BooleanField(read_only=True, help_text="Whether an API key is stored.")
    trusted = serializers.BooleanField(
        read_only=True, help_text="Set by the operator only: the provider may reach internal addresses."
    )

    class Meta:
        model = Provider
        fields = [
            "slug",
            "name",
            "kind",
            "base_url",
            "options",
            "enabled",
            "trusted",
            "has_credentials",
            "last_checked_at",
            "last_check_ok",
            "last_check_message",
            "created_at",
        ]


API_KEY_HELP = "The provider's API key. Write-only: it is stored encrypted and never returned."


class ProviderCreateIn(serializers.Serializer):
    slug = serializers.CharField(max_length=50, validators=[slug_validator])
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=kind_choices())
    base_url = serializers.URLField(max_length=300, required=False, allow_blank=True)
    api_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}, help_text=API_KEY_HELP
    )
    options = serializers.DictField(required=False)


class ProviderUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    base_url = serializers.URLField(max_length=300, required=False, allow_blank=True)
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        style={"input_type": "password"},
        help_text=f"{API_KEY_HELP} Empty or absent: keep the stored one.",
    )
    options = serializers.DictField(required=False)
    enabled = serializers.BooleanField(required=False)


class ConnectionTestOut(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class ProviderModelOut(serializers.ModelSerializer):
    provider = serializers.CharField(source="provider.slug", read_only=True)

    class Meta:
        model = ProviderModel
        fields = [
            "id",
            "name",
            "provider",
            "upstream_id",
            "modalities",
            "context_window",
            "input_price_per_mtok",
            "output_price_per_mtok",
            "cached_input_price_per_mtok",
            "created_at",
        ]


class ProviderModelUpdateIn(serializers.Serializer):
    upstream_id = serializers.CharField(max_length=200, required=False)
    modalities = serializers.ListField(child=serializers.ChoiceField(choices=Modality.choices), required=False)
    context_window = serializers.IntegerField(required=False, allow_null=True)
    input_price_per_mtok = serializers.DecimalField(
        max_digits=12, decimal_places=6, required=False, help_text="USD per 1M input tokens"
    )
    output_price_per_mtok = serializers.DecimalField(
        max_digits=12, decimal_places=6, required=False, help_text="USD per 1M output tokens"
    )
    cached_input_price_per_mtok = serializers.DecimalField(
        max_digits=12,
        decimal_places=6,
        required=False,
        allow_null=True,
        help_text="USD per 1M prompt tokens read from the provider's prompt cache; null: the input price",
    )


class ProviderModelCreateIn(ProviderModelUpdateIn):
    provider = InTenantField(selector=provider_list, slug_field="slug", what="provider")
    name = serializers.CharField(max_length=100, validators=[alias_validator])
    upstream_id = serializers.CharField(max_length=200)


class DeploymentOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    provider = serializers.CharField(source="model.provider.slug", read_only=True)

    class Meta:
        model = Deployment
        fields = ["id", "model", "provider", "weight", "priority", "timeout_seconds", "enabled"]


class DeploymentUpdateIn(serializers.Serializer):
    weight = serializers.IntegerField(required=False, help_text="share of traffic within its priority group")
    priority = serializers.IntegerField(required=False, help_text="lower is tried first; higher are fallbacks")
    timeout_seconds = serializers.FloatField(required=False)
    enabled = serializers.BooleanField(required=False)


class DeploymentCreateIn(serializers.Serializer):
    model = InTenantField(selector=model_list, slug_field="name", what="model")
    weight = serializers.IntegerField(required=False)
    priority = serializers.IntegerField(required=False)
    timeout_seconds = serializers.FloatField(required=False)


class RouteOut(serializers.ModelSerializer):
    deployments = DeploymentOut(many=True, read_only=True)

    class Meta:
        model = Route
        fields = [
            "alias",
            "description",
            "enabled",
            "deadline_seconds",
            "retries",
            "cache_ttl_seconds",
            "strategy",
            "deployments",
            "created_at",
        ]


class RouteCreateIn(serializers.Serializer):
    alias = serializers.CharField(max_length=100, validators=[alias_validator])
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    deadline_seconds = serializers.FloatField(required=False, help_text="overall time for all attempts")
    retries = serializers.IntegerField(required=False, help_text="extra attempts per deployment before failing over")
    cache_ttl_seconds = serializers.IntegerField(
        required=False, allow_null=True, help_text="seconds identical answers are cached (1-604800); null: no cache"
    )
    strategy = serializers.ChoiceField(
        choices=Route.Strategy.choices, required=False, help_text="priority (weighted), latency or cost"
    )


class RouteUpdateIn(serializers.Serializer):
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    deadline_seconds = serializers.FloatField(required=False)
    retries = serializers.IntegerField(required=False)
    cache_ttl_seconds = serializers.IntegerField(required=False, allow_null=True)
    strategy = serializers.ChoiceField(choices=Route.Strategy.choices, required=False)
