from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.analytics.views.metrics import metrics
from apps.core.views import healthz, readyz
from apps.gateway.api import api as gateway_api
from apps.gateway.invoke import ServiceInvokeApi
from apps.gitops.api.webhook import GitLabWebhookApi

# Swagger UI, served from drf-spectacular-sidecar; its script comes from a URL of its own (`?script`), not inline.
# The one relaxation of the CSP: Swagger UI styles its page with inline styles.
api_docs = csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("v1/", gateway_api.urls),
    re_path(r"^api/v1/services/(?P<slug>[a-z0-9-]+)/invoke/?$", ServiceInvokeApi.as_view(), name="service-invoke"),
    path("api/v1/gitops/gitlab/webhook", GitLabWebhookApi.as_view(), name="gitops-gitlab-webhook"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("portal.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("", include("apps.tenants.urls")),
    path("", include("apps.access.urls")),
    path("", include("apps.providers.urls")),
    path("", include("apps.catalog.urls")),
    path("prompts/", include("apps.prompts.urls")),
    path("analytics/", include("apps.analytics.urls")),
    path("", include("apps.gitops.urls")),
]
