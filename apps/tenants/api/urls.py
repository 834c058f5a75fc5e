from rest_framework.routers import SimpleRouter

from apps.tenants.api.views import AuditEventViewSet, MembershipViewSet, TenantViewSet

TENANT = r"tenants/(?P<tenant_slug>[a-z0-9-]+)"

router = SimpleRouter(trailing_slash="/?")
router.register("tenants", TenantViewSet, basename="tenant")
router.register(f"{TENANT}/members", MembershipViewSet, basename="member")
router.register(f"{TENANT}/audit", AuditEventViewSet, basename="audit-event")

app_name = "tenants-api"
urlpatterns = router.urls
