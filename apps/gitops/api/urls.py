from django.urls import path

from apps.gitops.api.views import DefinitionsApplyApi, DefinitionsExportApi, DefinitionsPlanApi, DefinitionsSchemaApi

app_name = "gitops-api"
urlpatterns = [
    path("gitops/schema", DefinitionsSchemaApi.as_view(), name="schema"),
    path("gitops/export", DefinitionsExportApi.as_view(), name="export"),
    path("gitops/plan", DefinitionsPlanApi.as_view(), name="plan"),
    path("gitops/apply", DefinitionsApplyApi.as_view(), name="apply"),
]
