from django import forms
from django.contrib import admin

from apps.core.admin_mixins import AuditedAdmin
from apps.core.services import config_version_bump
from apps.providers.models import Deployment, Provider, ProviderModel, Route


class ProviderAdminForm(forms.ModelForm):
    # Write-only: the stored credential is never rendered back, not even masked.
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current credential.",
    )

    class Meta:
        model = Provider
        fields = ["tenant", "slug", "name", "kind", "base_url", "options", "enabled", "trusted"]

    def save(self, commit: bool = True) -> Provider:
        provider = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            provider.set_api_key(self.cleaned_data["api_key"])
        if commit:
            provider.save()
        return provider


class ConfigAdmin(AuditedAdmin):
    """Changes here reconfigure the data plane: bump the snapshot version after each one."""

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        config_version_bump()

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        config_version_bump()


@admin.register(Provider)
class ProviderAdmin(ConfigAdmin):
    form = ProviderAdminForm
    list_display = ["name", "slug", "kind", "tenant", "base_url", "enabled", "last_check_ok", "last_checked_at"]
    list_filter = ["kind", "enabled", "trusted", "tenant"]
    search_fields = ["name", "slug", "base_url", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["last_checked_at", "last_check_ok", "last_check_message"]
    audit_prefix = "provider"
    audit_secret_fields = ("api_key",)

    def get_readonly_fields(self, request, obj=None):
        # Trust lets a tenant's provider reach the portal's own network: a superuser's decision only.
        fields = super().get_readonly_fields(request, obj)
        return fields if request.user.is_superuser else [*fields, "trusted"]


@admin.register(ProviderModel)
class ProviderModelAdmin(ConfigAdmin):
    list_display = ["name", "upstream_id", "provider", "tenant", "input_price_per_mtok", "output_price_per_mtok"]
    list_filter = ["provider__kind", "tenant"]
    search_fields = ["name", "upstream_id", "provider__slug"]
    list_select_related = ["provider", "tenant"]
    audit_prefix = "model"


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 0
    autocomplete_fields = ["model"]


@admin.register(Route)
class RouteAdmin(ConfigAdmin):
    list_display = ["alias", "tenant", "enabled", "deadline_seconds", "retries"]
    list_filter = ["enabled", "tenant"]
    search_fields = ["alias", "description", "tenant__slug"]
    list_select_related = ["tenant"]
    inlines = [DeploymentInline]
    audit_prefix = "route"

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        config_version_bump()
