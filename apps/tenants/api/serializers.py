from __future__ import annotations

from rest_framework import serializers

from apps.core.models import AuditEvent
from apps.tenants.models import Membership, Role, Tenant, slug_validator


class TenantOut(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["slug", "name", "require_internal_subscriptions", "limits_fail_open", "role", "created_at"]

    def get_role(self, tenant: Tenant) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(tenant.pk)


class TenantCreateIn(serializers.Serializer):
    slug = serializers.CharField(max_length=50, validators=[slug_validator])
    name = serializers.CharField(max_length=100)


class TenantUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    require_internal_subscriptions = serializers.BooleanField(
        required=False, help_text="owners only: the tenant's apps need subscriptions to its own services too"
    )
    limits_fail_open = serializers.BooleanField(
        required=False,
        help_text="when the limit store (Redis) is unreachable: serve calls unlimited (true) or refuse them (503)",
    )


class MembershipOut(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "created_at"]


class MembershipCreateIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipUpdateIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class AuditEventOut(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor_label",
            "source",
            "ip_address",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
        ]


class AuditFilterIn(serializers.Serializer):
    action = serializers.CharField(required=False, max_length=64)
    actor = serializers.CharField(required=False, max_length=150)
    object_type = serializers.CharField(required=False, max_length=64)
    source = serializers.ChoiceField(required=False, choices=AuditEvent.Source.choices)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        return attrs
