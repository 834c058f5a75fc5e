from __future__ import annotations

from rest_framework import serializers

from apps.access.models import ApiKey, ApiKeyScope, App, PersonalAccessToken
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
