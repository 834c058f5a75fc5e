"""Serializers of services and plans: `…In` checks input for a service call, `…Out` renders. The `Catalog…Out` ones
are what other tenants and apps see: no route, no sharing list, no internal settings."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.models import (
    SEMANTIC_THRESHOLD_MIN,
    ApprovalMode,
    BudgetCurrency,
    Lifecycle,
    OutputMode,
    Plan,
    Service,
    ServiceKind,
    Visibility,
)
from apps.catalog.selectors import route_list_for, share_target_list
from apps.tenants.models import CACHE_TTL_MAX_SECONDS, slug_validator

INT_MAX = 2_147_483_647  # the database's integer columns


@extend_schema_field(OpenApiTypes.STR)
class TenantRouteField(serializers.SlugRelatedField):
    """A route of the request's tenant, by alias: other tenants' routes do not exist here. Needs context["tenant"]."""

    def __init__(self, **kwargs) -> None:
        messages = {"does_not_exist": "No route named “{value}” in this tenant."}
        super().__init__(slug_field="alias", error_messages=messages, **kwargs)

    def get_queryset(self):
        return route_list_for(tenant=self.context["tenant"])


def _tenant_slugs(**kwargs) -> serializers.SlugRelatedField:
    messages = {"does_not_exist": "No tenant named “{value}”."}
    return serializers.SlugRelatedField(
        many=True, slug_field="slug", queryset=share_target_list(), error_messages=messages, **kwargs
    )


def _limit(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1, max_value=INT_MAX, required=False, allow_null=True, help_text=f"{help_text}; empty: unlimited"
    )


def _budget(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True, help_text=help_text
    )


def _cache_ttl() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=CACHE_TTL_MAX_SECONDS,
        required=False,
        allow_null=True,
        help_text="seconds identical answers are served from the cache (1-604800); null: no cache",
    )


class PlanOut(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = [
            "slug",
            "name",
            "description",
            "requests_per_day",
            "requests_per_month",
            "requests_per_minute",
            "tokens_per_minute",
            "daily_budget",
            "monthly_budget",
            "budget_currency",
            "budget_alert_percent",
            "allowed_models",
            "over_budget_route",
            "is_default",
            "position",
        ]


class PlanUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    requests_per_day = _limit("requests per day")
    requests_per_month = _limit("requests per month")
    requests_per_minute = _limit("requests per minute")
    tokens_per_minute = _limit("tokens per minute")
    daily_budget = _budget("spend per UTC day, in budget_currency; empty: none")
    monthly_budget = _budget("spend per UTC month, in budget_currency; empty: none")
    budget_currency = serializers.ChoiceField(choices=BudgetCurrency.choices, required=False)
    budget_alert_percent = serializers.IntegerField(
        min_value=1, max_value=100, required=False, allow_null=True, help_text="alert at this share of a budget"
    )
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, help_text="route aliases; empty: the service's"
    )
    over_budget_route = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="route alias a subscription's calls go to once a budget is reached (one the plan allows); empty: "
        "refused with 429 budget_exceeded",
    )
    is_default = serializers.BooleanField(required=False, help_text="the plan offered first (one per service)")
    position = serializers.IntegerField(min_value=0, max_value=100, required=False)


class PlanCreateIn(PlanUpdateIn):
    slug = serializers.CharField(max_length=50, validators=[slug_validator])
    name = serializers.CharField(max_length=100)


class ServiceOut(serializers.ModelSerializer):
    """A service as its own tenant manages it."""

    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    shared_with = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    route = serializers.CharField(source="route.alias", read_only=True)
    plans = PlanOut(many=True, read_only=True)

    class Meta:
        model = Service
        fields = [
            "slug",
            "name",
            "kind",
            "summary",
            "description",
            "team",
            "tags",
            "visibility",
            "shared_with",
            "lifecycle",
            "approval_mode",
            "route",
            "input_schema",
            "output_mode",
            "output_schema",
            "expected_tokens_per_call",
            "capture_bodies_days",
            "cache_ttl_seconds",
            "semantic_cache",
            "semantic_cache_route",
            "semantic_cache_threshold",
            "published_at",
            "sunset_on",
            "plans",
            "created_at",
            "updated_at",
        ]


class ServiceUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    route = TenantRouteField(required=False, help_text="alias of a route of the tenant")
    summary = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, help_text="Markdown")
    team = serializers.CharField(max_length=100, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    approval_mode = serializers.ChoiceField(choices=ApprovalMode.choices, required=False)
    input_schema = serializers.JSONField(required=False, allow_null=True, help_text="JSON Schema of the input")
    output_mode = serializers.ChoiceField(choices=OutputMode.choices, required=False)
    output_schema = serializers.JSONField(required=False, allow_null=True, help_text="JSON Schema (JSON output)")
    expected_tokens_per_call = serializers.IntegerField(min_value=1, max_value=INT_MAX, required=False)
    capture_bodies_days = serializers.IntegerField(
        min_value=0,
        max_value=90,
        required=False,
        help_text="keep the masked request and response bodies of calls this many days (0: never capture)",
    )
    cache_ttl_seconds = _cache_ttl()
    semantic_cache = serializers.BooleanField(
        required=False, help_text="also reuse the answer of the most similar stored prompt"
    )
    semantic_cache_route = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="alias of an embedding route of the tenant"
    )
    semantic_cache_threshold = serializers.FloatField(
        min_value=SEMANTIC_THRESHOLD_MIN, max_value=1.0, required=False, help_text="cosine similarity, 0.80-1.00"
    )


class ServiceCreateIn(ServiceUpdateIn):
    slug = serializers.CharField(max_length=50, validators=[slug_validator], help_text="its address: never changes")
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ServiceKind.choices)
    route = TenantRouteField(help_text="alias of a route of the tenant")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    shared_with = _tenant_slugs(required=False, help_text="tenant slugs (visibility `shared`)")
    approval_mode = serializers.ChoiceField(choices=ApprovalMode.choices, default=ApprovalMode.MANUAL)


class ServiceDeprecateIn(serializers.Serializer):
    sunset_on = serializers.DateField(
        required=False, allow_null=True, help_text="the day it is to be retired (after today); absent: not announced"
    )


class ServiceShareIn(serializers.Serializer):
    tenants = _tenant_slugs(help_text="slugs of the tenants to share with (replaces the list)")


class CatalogPlanOut(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = [
            "slug",
            "name",
            "description",
            "requests_per_day",
            "requests_per_month",
            "requests_per_minute",
            "tokens_per_minute",
            "daily_budget",
            "monthly_budget",
            "budget_currency",
            "is_default",
        ]


class CatalogServiceOut(serializers.ModelSerializer):
    """A service as the catalog lists it. `status` is `lifecycle` under the name scripts rely on."""

    owner = serializers.CharField(source="tenant.slug", read_only=True, help_text="slug of the owning tenant")
    status = serializers.CharField(source="lifecycle", read_only=True, help_text="= lifecycle (the name scripts use)")
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    plans = CatalogPlanOut(many=True, read_only=True)
    docs_url = serializers.SerializerMethodField()
    openapi_url = serializers.SerializerMethodField()

    class Meta:
        model = Service
        fields = [
            "slug",
            "name",
            "kind",
            "summary",
            "lifecycle",
            "status",
            "owner",
            "team",
            "tags",
            "plans",
            "docs_url",
            "openapi_url",
        ]

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(OpenApiTypes.URI)
    def get_docs_url(self, service: Service) -> str:
        return self._absolute(reverse("catalog:service-detail", args=[service.slug]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_openapi_url(self, service: Service) -> str:
        return self._absolute(reverse("catalog-api:catalog-service-openapi", args=[service.slug]))


class CatalogServiceDetailOut(CatalogServiceOut):
    class Meta(CatalogServiceOut.Meta):
        fields = [
            *CatalogServiceOut.Meta.fields,
            "description",
            "approval_mode",
            "input_schema",
            "output_mode",
            "output_schema",
            "published_at",
            "sunset_on",
        ]


class CatalogTenantIn(serializers.Serializer):
    tenant = serializers.CharField(
        required=False, help_text="people only: whose catalog (a tenant you belong to); default: your only tenant"
    )


class CatalogFilterIn(CatalogTenantIn):
    q = serializers.CharField(required=False, max_length=100, help_text="in the name, summary or slug")
    tag = serializers.CharField(required=False, max_length=40)
    kind = serializers.ChoiceField(choices=ServiceKind.choices, required=False)
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices, required=False)
    owner = serializers.CharField(required=False, max_length=50, help_text="slug of the owning tenant")


class PromptEditorIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class PromptEditorOut(serializers.Serializer):
    """A holder of the prompt right on a service; `role` is null for one who is no longer a member."""

    username = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField(allow_null=True)
