from django.urls import re_path
from rest_framework.routers import SimpleRouter

from apps.catalog.api.views import CatalogViewSet, PlanViewSet, PromptEditorViewSet, ServiceViewSet

TENANT = r"tenants/(?P<tenant_slug>[a-z0-9-]+)"

router = SimpleRouter(trailing_slash="/?")
router.register(f"{TENANT}/services", ServiceViewSet, basename="service")
router.register(f"{TENANT}/services/(?P<service_slug>[a-z0-9-]+)/plans", PlanViewSet, basename="plan")
router.register(
    f"{TENANT}/services/(?P<service_slug>[a-z0-9-]+)/prompt-editors", PromptEditorViewSet, basename="prompt-editor"
)
router.register("services", CatalogViewSet, basename="catalog-service")

app_name = "catalog-api"
urlpatterns = [
    # Without the router's optional trailing slash: the document's address ends in .json.
    re_path(
        r"^services/(?P<slug>[a-z0-9-]+)/openapi\.json$",
        CatalogViewSet.as_view({"get": "openapi"}),
        name="catalog-service-openapi",
    ),
    *router.urls,
]
