"""Prompts in the Django admin, read-only: versions are immutable, and what is live changes through the prompts
services (the portal, the API), which check the roles and audit."""

from django.contrib import admin

from apps.core.admin_mixins import ReadOnlyAdmin
from apps.prompts.models import PromptTemplate, PromptVersion


@admin.register(PromptTemplate)
class PromptTemplateAdmin(ReadOnlyAdmin):
    list_display = ["service", "live_version", "sticky_by", "updated_at"]
    search_fields = ["service__slug", "service__name"]
    list_select_related = ["service", "live_version"]


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "number", "author", "change_note", "created_at"]
    search_fields = ["template__service__slug", "change_note"]
    list_select_related = ["template__service", "author"]
