from django.urls import path, register_converter
from django.urls.converters import StringConverter

from apps.providers import views
from apps.providers.models import ROUTE_ALIAS_IN_PATH


class RouteAliasConverter(StringConverter):
    """A route alias, slashes included (openai/gpt-4o-mini)."""

    regex = ROUTE_ALIAS_IN_PATH


register_converter(RouteAliasConverter, "route_alias")

app_name = "providers"
urlpatterns = [
    path("providers/", views.provider_list, name="provider-list"),
    path("providers/<slug:slug>/edit/", views.provider_edit, name="provider-edit"),
    path("providers/<slug:slug>/test/", views.provider_test, name="provider-test"),
    path("providers/<slug:slug>/sync/", views.provider_sync, name="provider-sync"),
    path("providers/<slug:slug>/delete/", views.provider_delete, name="provider-delete"),
    path("models/", views.model_list, name="model-list"),
    path("models/<int:pk>/edit/", views.model_edit, name="model-edit"),
    path("models/<int:pk>/delete/", views.model_delete, name="model-delete"),
    path("routes/", views.route_list, name="route-list"),
    path("routes/<route_alias:alias>/", views.route_detail, name="route-detail"),
    path("routes/<route_alias:alias>/delete/", views.route_delete, name="route-delete"),
    path("routes/<route_alias:alias>/deployments/", views.deployment_add, name="deployment-add"),
    path("routes/<route_alias:alias>/deployments/<int:pk>/", views.deployment_edit, name="deployment-edit"),
    path("routes/<route_alias:alias>/deployments/<int:pk>/remove/", views.deployment_remove, name="deployment-remove"),
]
