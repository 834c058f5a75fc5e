from django.urls import path

from apps.tenants import views

app_name = "tenants"
urlpatterns = [
    path("tenant/switch/", views.tenant_switch, name="tenant-switch"),
    path("no-tenant/", views.no_tenant, name="no-tenant"),
    path("tenant/settings/", views.tenant_settings, name="settings"),
    path("members/", views.member_list, name="member-list"),
    path("members/<int:pk>/role/", views.member_role, name="member-role"),
    path("members/<int:pk>/remove/", views.member_remove, name="member-remove"),
    path("audit/", views.audit_list, name="audit-list"),
]
