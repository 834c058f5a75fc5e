"""Write use-cases of the analytics app, one module per concern."""

from apps.analytics.services.calls import call_logs_record

__all__ = ["call_logs_record"]
