"""Alerts in the Django admin, read-only: rules change through the portal and the API (their services keep the
webhook secret encrypted and audit every change). Call logs and rollups have the analytics pages instead: an
admin changelist would count millions of rows on every load."""

from django.contrib import admin

from apps.analytics.models import Alert, AlertDelivery, AlertRule
from apps.core.admin_mixins import ReadOnlyAdmin


@admin.register(AlertRule)
class AlertRuleAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "metric", "threshold", "window_minutes", "enabled"]
    list_filter = ["metric", "enabled"]
    search_fields = ["name", "tenant__slug"]
    exclude = ["webhook_secret_encrypted"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["rule", "tenant", "fired_at", "resolved_at", "value", "message"]
    list_filter = ["resolved_at"]
    search_fields = ["rule__name", "tenant__slug", "message"]
    list_select_related = ["rule", "tenant"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["alert", "event", "channel", "target", "status", "attempts", "sent_at"]
    list_filter = ["status", "channel", "event"]
    list_select_related = ["alert__rule"]
