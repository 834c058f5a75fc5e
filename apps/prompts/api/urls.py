from rest_framework.routers import SimpleRouter

from apps.prompts.api.views import (
    PromptServiceViewSet,
    PromptTestCaseViewSet,
    PromptTestRunViewSet,
    PromptVersionViewSet,
    PromptViewSet,
)

TENANT = r"tenants/(?P<tenant_slug>[a-z0-9-]+)"

router = SimpleRouter(trailing_slash="/?")
# services/<slug>/prompt/ (+ rollback/, ab/, diff/): detail actions of a viewset keyed by the service's slug.
router.register(f"{TENANT}/services", PromptViewSet, basename="prompt")
router.register(
    f"{TENANT}/services/(?P<service_slug>[a-z0-9-]+)/prompt/versions", PromptVersionViewSet, basename="prompt-version"
)
router.register(f"{TENANT}/prompt-services", PromptServiceViewSet, basename="prompt-service")
PROMPT = f"{TENANT}/services/(?P<service_slug>[a-z0-9-]+)/prompt"
router.register(f"{PROMPT}/test-cases", PromptTestCaseViewSet, basename="prompt-test-case")
router.register(f"{PROMPT}/versions/(?P<number>[^/]+)/test-runs", PromptTestRunViewSet, basename="prompt-test-run")

app_name = "prompts-api"
urlpatterns = router.urls
