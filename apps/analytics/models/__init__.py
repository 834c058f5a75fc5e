from apps.analytics.models.alerts import (
    Alert,
    AlertDelivery,
    AlertEvent,
    AlertMetric,
    AlertRule,
    DeliveryChannel,
    DeliveryStatus,
)
from apps.analytics.models.calls import CallBody, CallLog
from apps.analytics.models.rollups import CallRollup, Granularity

__all__ = [
    "Alert",
    "AlertDelivery",
    "AlertEvent",
    "AlertMetric",
    "AlertRule",
    "CallBody",
    "CallLog",
    "CallRollup",
    "DeliveryChannel",
    "DeliveryStatus",
    "Granularity",
]
