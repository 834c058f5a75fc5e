from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "apps.gateway"
    label = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from apps.access.selectors.limit_usage import limit_usage_reader_register
        from apps.catalog.services.ports import service_trier_register
        from apps.gateway.adapters.limit_usage import GatewayLimitUsage
        from apps.gateway.adapters.prompt_runner import PipelinePromptRunner
        from apps.gateway.adapters.try_it import PipelineServiceTrier
        from apps.prompts.runner import prompt_runner_register

        # The prompt workbench runs versions through the data plane without importing it (apps/prompts/runner.py).
        prompt_runner_register(PipelinePromptRunner())
        service_trier_register(PipelineServiceTrier())  # the catalog's try-it panel (apps/catalog/services/ports.py)
        # The usage pages and API read the counters the gateway enforces (apps/access/selectors/limit_usage.py).
        limit_usage_reader_register(GatewayLimitUsage(), live=True)
