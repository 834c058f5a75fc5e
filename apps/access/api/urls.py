from django.urls import re_path
from rest_framework.routers import SimpleRouter

from apps.access.api.limits import LimitSetViewSet
from apps.access.api.usage import SubscriptionUsageViewSet
from apps.access.api.views import (
    ApiKeyViewSet,
    ApprovalViewSet,
    AppViewSet,
    NotificationViewSet,
    PersonalTokenViewSet,
    SubscriptionViewSet,
)

TENANT = r"tenants/(?P<tenant_slug>[a-z0-9-]+)"

router = SimpleRouter(trailing_slash="/?")
router.register(f"{TENANT}/apps", AppViewSet, basename="app")
router.register(f"{TENANT}/apps/(?P<app_slug>[a-z0-9-]+)/keys", ApiKeyViewSet, basename="api-key")
router.register(f"{TENANT}/subscriptions", SubscriptionViewSet, basename="subscription")
router.register(f"{TENANT}/approvals", ApprovalViewSet, basename="approval")
router.register(f"{TENANT}/limits", LimitSetViewSet, basename="limit-set")
router.register("me/tokens", PersonalTokenViewSet, basename="personal-token")
router.register("me/notifications", NotificationViewSet, basename="notification")

app_name = "access-api"
usage = SubscriptionUsageViewSet.as_view({"get": "retrieve"})
urlpatterns = [
    re_path(rf"^{TENANT}/subscriptions/(?P<pk>[^/]+)/usage/?$", usage, name="subscription-usage"),
    *router.urls,
]
