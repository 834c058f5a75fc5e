from rest_framework.routers import SimpleRouter

from apps.access.api.views import ApiKeyViewSet, AppViewSet, PersonalTokenViewSet

TENANT = r"tenants/(?P<tenant_slug>[a-z0-9-]+)"

router = SimpleRouter(trailing_slash="/?")
router.register(f"{TENANT}/apps", AppViewSet, basename="app")
router.register(f"{TENANT}/apps/(?P<app_slug>[a-z0-9-]+)/keys", ApiKeyViewSet, basename="api-key")
router.register("me/tokens", PersonalTokenViewSet, basename="personal-token")

app_name = "access-api"
urlpatterns = router.urls
