from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.access.models import EXPIRED, ApiKey, ApiKeyScope, App, PersonalAccessToken, Subscription, SubscriptionStatus
from apps.access.selectors import subscription_cost_projection
from apps.core.models import Notification
from apps.tenants.models import slug_validator


class AppOut(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    active_keys = serializers.SerializerMethodField()

    class Meta:
        model = App
        fields = ["slug", "name", "description", "created_by", "created_at", "active_keys"]

    def get_active_keys(self, app: App) -> int:
        return sum(1 for key in app.keys.all() if key.is_usable)


class AppCreateIn(serializers.Serializer):
    slug = serializers.CharField(max_length=50, validators=[slug_validator])
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class AppUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class AppManagerIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class ApiKeyOut(serializers.ModelSerializer):
    """A key as listed: its prefix identifies it; the secret is never part of it."""

    app = serializers.CharField(source="app.slug", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "prefix",
            "name",
            "app",
            "scopes",
            "state",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created_at",
        ]


class ApiKeyIssuedOut(ApiKeyOut):
    secret = serializers.SerializerMethodField(help_text="The key itself. Shown once: store it now.")

    class Meta(ApiKeyOut.Meta):
        fields = [*ApiKeyOut.Meta.fields, "secret"]

    def get_secret(self, key: ApiKey) -> str:
        return self.context["secret"]


class ApiKeyCreateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKeyScope.choices), required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class PersonalTokenOut(serializers.ModelSerializer):
    class Meta:
        model = PersonalAccessToken
        fields = ["id", "prefix", "name", "state", "expires_at", "revoked_at", "last_used_at", "created_at"]


class PersonalTokenIssuedOut(PersonalTokenOut):
    secret = serializers.SerializerMethodField(help_text="The token itself. Shown once: store it now.")

    class Meta(PersonalTokenOut.Meta):
        fields = [*PersonalTokenOut.Meta.fields, "secret"]

    def get_secret(self, token: PersonalAccessToken) -> str:
        return self.context["secret"]


class PersonalTokenCreateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class SubscriptionOut(serializers.ModelSerializer):
    """A subscription as both sides see it. `state` is `status`, except "expired" for an approved one past its
    expiry: only an approved, unexpired subscription lets the app call the service."""

    app = serializers.CharField(source="app.slug", read_only=True)
    app_tenant = serializers.CharField(source="app.tenant.slug", read_only=True)
    service = serializers.CharField(source="service.slug", read_only=True)
    service_tenant = serializers.CharField(source="service.tenant.slug", read_only=True)
    plan = serializers.CharField(source="plan.slug", read_only=True)
    state = serializers.ChoiceField(choices=[*SubscriptionStatus.values, EXPIRED], read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None, read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "app",
            "app_tenant",
            "service",
            "service_tenant",
            "plan",
            "status",
            "state",
            "is_active",
            "purpose",
            "requested_by",
            "decided_by",
            "decided_at",
            "reason",
            "expires_at",
            "created_at",
        ]


class CostProjectionOut(serializers.Serializer):
    """monthly_cost = monthly_requests * tokens_per_call * price_per_mtok / 1,000,000, capped by monthly_budget.
    Null when it cannot be known (no enabled deployment; unlimited requests and no budget)."""

    monthly_requests = serializers.IntegerField(allow_null=True, help_text="null: the plan sets no request limit")
    requests_basis = serializers.CharField(help_text="which plan limit the monthly figure comes from")
    tokens_per_call = serializers.IntegerField(help_text="the service's expected tokens per call")
    price_per_mtok = serializers.DecimalField(
        max_digits=14, decimal_places=6, allow_null=True, help_text="mean (input+output)/2 over enabled deployments"
    )
    priced_deployments = serializers.IntegerField()
    uncapped_cost = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    monthly_budget = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    capped_by_budget = serializers.BooleanField()
    monthly_cost = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)


class SubscriptionApprovalOut(SubscriptionOut):
    """A subscription to one of the tenant's services, with what the approver needs: who asks, the plan and what it
    would cost a month."""

    app_name = serializers.CharField(source="app.name", read_only=True)
    app_tenant_name = serializers.CharField(source="app.tenant.name", read_only=True)
    cost_projection = serializers.SerializerMethodField()

    class Meta(SubscriptionOut.Meta):
        fields = [*SubscriptionOut.Meta.fields, "app_name", "app_tenant_name", "cost_projection"]

    @extend_schema_field(CostProjectionOut)
    def get_cost_projection(self, subscription: Subscription) -> dict:
        return CostProjectionOut(subscription_cost_projection(subscription=subscription)).data


class SubscriptionFilterIn(serializers.Serializer):
    status = serializers.ChoiceField(required=False, choices=[*SubscriptionStatus.values, EXPIRED])
    app = serializers.CharField(required=False, max_length=50, help_text="app slug")
    service = serializers.CharField(required=False, max_length=50, help_text="service slug")


class SubscriptionRequestIn(serializers.Serializer):
    app = serializers.CharField(max_length=50, help_text="slug of one of the tenant's apps")
    service = serializers.CharField(max_length=50, help_text="slug of a service the tenant may see")
    plan = serializers.CharField(max_length=50, help_text="slug of one of the service's plans")
    purpose = serializers.CharField(allow_blank=True, help_text="why the app needs the service, for the approver")


class SubscriptionApproveIn(serializers.Serializer):
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, help_text="time-box the approval (1-3650 days); empty: no expiry"
    )


class SubscriptionReasonIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", help_text="required; told to the app")


class SubscriptionRenewIn(serializers.Serializer):
    days = serializers.IntegerField(help_text="1-3650, counted from the expiry or from now, whichever is later")


class NotificationOut(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "subject", "body", "link", "created_at", "read_at"]


class NotificationFilterIn(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False, help_text="only the unread ones")
