from django.contrib import admin, messages
from guardian.admin import GuardedModelAdminMixin

from apps.access.models import ApiKey, App, LimitSet, PersonalAccessToken, Subscription
from apps.access.services import token_revoke
from apps.core.admin_mixins import AuditedAdmin, ReadOnlyAdmin


@admin.register(App)
class AppAdmin(GuardedModelAdminMixin, AuditedAdmin):
    list_display = ["name", "slug", "tenant", "created_by", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "slug", "tenant__slug"]
    list_select_related = ["tenant", "created_by"]
    audit_prefix = "app"


class TokenAdmin(AuditedAdmin):
    """Tokens are issued through the UI, the API or create_api_key (the secret is shown once there);
    here they are shown by prefix only and can be revoked; revocations and deletions are audited."""

    readonly_fields = ["prefix", "name", "expires_at", "revoked_at", "last_used_at", "created_at"]
    exclude = ["lookup_id", "pepper_id", "digest"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            token_revoke(token=token)
        self.message_user(request, f"Revoked {len(tokens)} token(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(TokenAdmin):
    list_display = ["prefix", "name", "app", "tenant", "state", "expires_at", "last_used_at", "created_at"]
    list_filter = ["tenant", "revoked_at"]
    search_fields = ["lookup_id", "name", "app__slug", "tenant__slug"]
    list_select_related = ["app", "tenant"]
    readonly_fields = [*TokenAdmin.readonly_fields, "app", "tenant", "scopes", "created_by"]


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(TokenAdmin):
    list_display = ["prefix", "name", "user", "state", "expires_at", "last_used_at", "created_at"]
    list_filter = ["revoked_at"]
    search_fields = ["lookup_id", "name", "user__username"]
    list_select_related = ["user"]
    readonly_fields = [*TokenAdmin.readonly_fields, "user"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    """Read-only: requests and decisions go through the subscription services (audited in both tenants, notified)."""

    list_display = ["app", "service", "plan", "status", "requested_by", "decided_by", "decided_at", "expires_at"]
    list_filter = ["status"]
    search_fields = ["app__slug", "service__slug", "app__tenant__slug", "purpose"]
    list_select_related = ["app", "service", "plan", "requested_by", "decided_by"]


@admin.register(LimitSet)
class LimitSetAdmin(ReadOnlyAdmin):
    """Read-only: limits change through the portal or the API, whose services audit the change and tell the gateway."""

    list_display = [
        "__str__",
        "tenant",
        "requests_per_minute",
        "tokens_per_minute",
        "budget_per_day",
        "budget_per_month",
    ]
    list_filter = ["tenant"]
    search_fields = ["tenant__slug", "app__slug", "api_key__lookup_id"]
    list_select_related = ["tenant", "app", "api_key", "over_budget_route"]
