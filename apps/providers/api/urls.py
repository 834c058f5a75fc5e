from rest_framework.routers import SimpleRouter

from apps.providers.api.views import ProviderModelViewSet, ProviderViewSet, RouteViewSet

TENANT = r"tenants/(?P<tenant_slug>[a-z0-9-]+)"

router = SimpleRouter(trailing_slash="/?")
router.register(f"{TENANT}/providers", ProviderViewSet, basename="provider")
router.register(f"{TENANT}/models", ProviderModelViewSet, basename="model")
router.register(f"{TENANT}/routes", RouteViewSet, basename="route")

app_name = "providers-api"
urlpatterns = router.urls
