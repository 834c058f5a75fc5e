from django.urls import re_path
from rest_framework.routers import SimpleRouter

from apps.analytics.api.alerts import AlertRuleViewSet, AlertViewSet
from apps.analytics.api.calls import CallLogViewSet, RollupViewSet

TENANT = r"tenants/(?P<tenant_slug>[a-z0-9-]+)"

router = SimpleRouter(trailing_slash="/?")
router.register(f"{TENANT}/analytics/alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register(f"{TENANT}/analytics/alerts", AlertViewSet, basename="alert")

app_name = "analytics-api"
urlpatterns = [
    # Read-only views of one object each, mapped by hand: a router would name their GET "list".
    re_path(rf"^{TENANT}/analytics/rollups/?$", RollupViewSet.as_view({"get": "summary"}), name="rollup-summary"),
    re_path(rf"^{TENANT}/analytics/logs/?$", CallLogViewSet.as_view({"get": "page"}), name="call-log-page"),
    re_path(
        rf"^{TENANT}/analytics/logs/(?P<request_id>[^/]+)/?$",
        CallLogViewSet.as_view({"get": "retrieve"}),
        name="call-log-detail",
    ),
    *router.urls,
]
