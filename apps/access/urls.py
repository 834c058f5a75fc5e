from django.urls import include, path

from apps.access import views, views_limits, views_usage

app_name = "access"
urlpatterns = [
    path("", views.home, name="home"),
    path("apps/", views.app_list, name="app-list"),
    path("apps/<slug:slug>/", views.app_detail, name="app-detail"),
    path("apps/<slug:slug>/delete/", views.app_delete, name="app-delete"),
    path(
        "apps/<slug:slug>/subscriptions/<int:pk>/cancel/",
        views.app_subscription_cancel,
        name="app-subscription-cancel",
    ),
    path(
        "apps/<slug:slug>/subscriptions/<int:pk>/usage/",
        views_usage.app_subscription_usage,
        name="app-subscription-usage",
    ),
    path("apps/<slug:slug>/limits/", views_limits.app_limits, name="app-limits"),
    path("apps/<slug:slug>/keys/<int:pk>/limits/", views_limits.key_limits, name="key-limits"),
    path("limits/", views_limits.tenant_limits, name="tenant-limits"),
    path("apps/<slug:slug>/keys/", views.api_key_create, name="api-key-create"),
    path("apps/<slug:slug>/keys/<int:pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("account/tokens/", views.personal_token_list, name="personal-token-list"),
    path("account/tokens/<int:pk>/revoke/", views.personal_token_revoke, name="personal-token-revoke"),
    path("subscriptions/", views.subscription_list, name="subscription-list"),
    path("approvals/", views.approval_list, name="approval-list"),
    path("approvals/<int:pk>/<slug:decision>/", views.approval_decide, name="approval-decide"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/read-all/", views.notification_read_all, name="notification-read-all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification-read"),
    path("", include("apps.access.urls_service_panels")),  # the service page's subscribe and try-it panels
]
