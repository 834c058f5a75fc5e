"""Read queries of the analytics app: who sees which calls (scope), the dashboard (rollups) and the log."""

from apps.analytics.selectors.dashboard import (
    ROLLUP_EXPORT_FIELDS,
    Dashboard,
    call_rollup_export_rows,
    call_rollup_list,
    dashboard_get,
)
from apps.analytics.selectors.logs import (
    LOG_EXPORT_FIELDS,
    PAGE_SIZE,
    Cursor,
    LoggedCall,
    LogPage,
    call_body_get,
    call_log_export_rows,
    call_log_get,
    call_log_list,
    call_log_page,
    call_timeline,
)
from apps.analytics.selectors.scope import AnalyticsScope, analytics_scope_get

__all__ = [
    "LOG_EXPORT_FIELDS",
    "PAGE_SIZE",
    "ROLLUP_EXPORT_FIELDS",
    "AnalyticsScope",
    "Cursor",
    "Dashboard",
    "LogPage",
    "LoggedCall",
    "analytics_scope_get",
    "call_body_get",
    "call_log_export_rows",
    "call_log_get",
    "call_log_list",
    "call_log_page",
    "call_rollup_export_rows",
    "call_rollup_list",
    "call_timeline",
    "dashboard_get",
]
