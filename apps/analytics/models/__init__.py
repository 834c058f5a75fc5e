from apps.analytics.models.calls import CallBody, CallLog
from apps.analytics.models.rollups import CallRollup, Granularity

__all__ = ["CallBody", "CallLog", "CallRollup", "Granularity"]
