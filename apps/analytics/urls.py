from django.urls import path

from apps.analytics.views import alerts, dashboard, export, logs

app_name = "analytics"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("rollups.csv", export.rollup_export, name="rollup-export"),
    path("logs/", logs.call_list, name="call-list"),
    path("logs.csv", export.call_export, name="call-export"),
    path("logs/<str:request_id>/", logs.call_detail, name="call-detail"),
    path("alerts/", alerts.alert_rule_list, name="alert-rule-list"),
    path("alerts/rules/new/", alerts.alert_rule_create, name="alert-rule-create"),
    path("alerts/rules/<int:pk>/", alerts.alert_rule_detail, name="alert-rule-detail"),
    path("alerts/rules/<int:pk>/edit/", alerts.alert_rule_edit, name="alert-rule-edit"),
    path("alerts/rules/<int:pk>/delete/", alerts.alert_rule_delete, name="alert-rule-delete"),
    path("alerts/rules/<int:pk>/rotate-secret/", alerts.alert_rule_rotate_secret, name="alert-rule-rotate-secret"),
    path("alerts/rules/<int:pk>/test/", alerts.alert_rule_test, name="alert-rule-test"),
]
