from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "apps.access"
    label = "access"
    verbose_name = "Access"

    def ready(self) -> None:
        from apps.access.services import subscriptions_close_for_retired
        from apps.catalog.services import service_retire_hook_register

        # The catalog sits below access: it runs this when a service is retired without importing it.
        service_retire_hook_register(subscriptions_close_for_retired)
