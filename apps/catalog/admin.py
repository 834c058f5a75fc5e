"""Services and plans in the Django admin, read-only: they change through the catalog's services (the portal's
Services pages, the API, gitops), which check the roles, audit and bump the gateway's configuration."""

from django.contrib import admin

from apps.catalog.models import Plan, Service
from apps.core.admin_mixins import ReadOnlyAdmin


class PlanInline(admin.TabularInline):
    model = Plan
    extra = 0
    fields = ["slug", "name", "requests_per_minute", "requests_per_day", "monthly_budget", "is_default"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Service)
class ServiceAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "tenant", "kind", "lifecycle", "visibility", "approval_mode", "updated_at"]
    list_filter = ["kind", "lifecycle", "visibility", "approval_mode"]
    search_fields = ["name", "slug", "summary", "tenant__slug"]
    list_select_related = ["tenant"]
    inlines = [PlanInline]


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "slug",
        "service",
        "requests_per_minute",
        "requests_per_day",
        "monthly_budget",
        "is_default",
    ]
    list_filter = ["is_default"]
    search_fields = ["name", "slug", "service__slug"]
    list_select_related = ["service"]
