"""Assembly of the management REST API (DRF) under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.tenants.api.urls")),
    path("", include("apps.access.api.urls")),
    path("", include("apps.providers.api.urls")),
    path("", include("apps.catalog.api.urls")),
    path("", include("apps.prompts.api.urls")),
    path("", include("apps.analytics.api.urls")),
    path("", include("apps.gitops.api.urls")),
]
