from django.apps import AppConfig


class PromptsConfig(AppConfig):
    name = "apps.prompts"
    label = "prompts"
    verbose_name = "Prompts"

    def ready(self) -> None:
        from apps.catalog.models import ServiceKind
        from apps.catalog.services import service_creator_register
        from apps.prompts.services import prompt_service_create

        # A prompt API is born with its prompt: the catalog's pages create one through this, without importing it.
        service_creator_register(kind=ServiceKind.PROMPT, creator=prompt_service_create)
