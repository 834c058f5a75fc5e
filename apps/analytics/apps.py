from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from apps.access.selectors.limit_usage import limit_usage_reader_register
        from apps.access.selectors.usage import UsageReaders, usage_readers_register
        from apps.analytics.selectors.limit_usage import CallLogLimitUsage
        from apps.analytics.selectors.usage import app_calls_today, app_usage_by_service

        # The access pages (home, app page) show usage; access sits below analytics and reads it through this port.
        usage_readers_register(UsageReaders(calls_today=app_calls_today, usage_by_service=app_usage_by_service))
        # Limit usage from the call log: what the usage pages read when no gateway registers its live counters.
        limit_usage_reader_register(CallLogLimitUsage(), live=False)
