from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "apps.access"
    label = "access"
    verbose_name = "Access"

    def ready(self) -> None:
        from apps.access.selectors.limits import limit_sets_sending_to
        from apps.access.services import subscriptions_close_for_retired
        from apps.catalog.selectors import route_references as catalog_route_references
        from apps.catalog.services import service_retire_hook_register
        from apps.providers.models import Route
        from apps.providers.services import route_reference_finder_register

        # The catalog sits below access: it runs this when a service is retired without importing it.
        service_retire_hook_register(subscriptions_close_for_retired)

        # Providers and the catalog are siblings that never import each other, and limit sets are access's:
        # before a route is deleted, this tells providers what still names it.
        def route_references(route: Route) -> list[str]:
            return catalog_route_references(tenant_id=route.tenant_id, alias=route.alias) + limit_sets_sending_to(
                route=route
            )

        route_reference_finder_register(route_references)
