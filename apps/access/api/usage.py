"""GET /api/v1/tenants/<t>/subscriptions/<id>/usage: a subscription's usage against its plan's limits and the
limit sets of its app, keys and tenant (apps/access/selectors/subscription_usage.py)."""

from __future__ import annotations

from datetime import UTC

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.access.selectors.subscription_usage import subscription_usage_for_member
from apps.tenants.api.base import TenantScopedViewSet


class LimitReadingOut(serializers.Serializer):
    """One limit: requests or tokens (whole numbers) or USD in the current UTC minute, day or month."""

    metric = serializers.CharField(
        help_text="requests_per_minute, tokens_per_minute, requests_per_day, "
        "requests_per_month, budget_per_day or budget_per_month"
    )
    period = serializers.CharField(help_text="minute, day or month (UTC)")
    unit = serializers.CharField(help_text="requests, tokens or USD")
    limit = serializers.FloatField()
    used = serializers.FloatField()
    remaining = serializers.FloatField()
    percent = serializers.FloatField(help_text="used / limit * 100 (may pass 100 when calls were in flight)")
    resets_at = serializers.DateTimeField(
        default_timezone=UTC, help_text="when the period ends and the count starts again (UTC)"
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.unit != "USD":  # counts are whole numbers
            for name in ("limit", "used", "remaining"):
                data[name] = int(data[name])
        data["percent"] = round(data["percent"], 2)
        return data


class LimitScopeUsageOut(serializers.Serializer):
    kind = serializers.CharField(help_text="plan (counted per subscription), app, key or tenant")
    id = serializers.IntegerField(source="scope_id")
    name = serializers.CharField()
    alert_percent = serializers.IntegerField(allow_null=True, help_text="a budget past this percent raises an alert")
    limits = LimitReadingOut(many=True, source="readings")


class SubscriptionUsageOut(serializers.Serializer):
    subscription = serializers.IntegerField(source="subscription.pk")
    app = serializers.CharField(source="subscription.app.slug")
    service = serializers.CharField(source="subscription.service.slug")
    status = serializers.CharField(source="subscription.state")
    as_of = serializers.DateTimeField(default_timezone=UTC)
    source = serializers.CharField(help_text="gateway: the live counters the gateway enforces; call_log: the record")
    plan = LimitScopeUsageOut()
    also_applies = LimitScopeUsageOut(
        many=True, source="others", help_text="the limits of the app, its keys and its tenant (for the app's side)"
    )


class SubscriptionUsageViewSet(TenantScopedViewSet):
    """The usage of a subscription: for members of the app's tenant, and for the approvers of the service."""

    serializer_class = SubscriptionUsageOut

    @extend_schema(responses=SubscriptionUsageOut)
    def retrieve(self, request, tenant_slug: str, pk: str):
        return Response(SubscriptionUsageOut(subscription_usage_for_member(membership=request.membership, pk=pk)).data)
