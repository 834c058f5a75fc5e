from __future__ import annotations

from django.contrib import admin

from apps.core.services import audit_record


class AuditedAdmin(admin.ModelAdmin):
    """Records admin saves and deletes in the audit trail. `audit_tenant(obj)` names the tenant."""

    audit_prefix = ""
    audit_secret_fields: tuple[str, ...] = ()  # recorded as changed, never with their values

    def audit_tenant(self, obj):
        return getattr(obj, "tenant", None)

    def save_model(self, request, obj, form, change) -> None:
        changes = {
            name: ["(secret)", "(secret)"]
            if name in self.audit_secret_fields
            else [form.initial.get(name), form.cleaned_data.get(name)]
            for name in form.changed_data
        }
        super().save_model(request, obj, form, change)
        action = f"{self.audit_prefix or obj._meta.model_name}.{'update' if change else 'create'}"
        audit_record(action=action, obj=obj, tenant=self.audit_tenant(obj), changes=changes)

    def delete_model(self, request, obj) -> None:
        audit_record(
            action=f"{self.audit_prefix or obj._meta.model_name}.delete", obj=obj, tenant=self.audit_tenant(obj)
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never changed, in the admin: these rows change through their audited services (the portal, the API)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
