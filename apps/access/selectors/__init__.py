"""Read queries of the access app (HackSoft selectors), one module per subdomain, re-exported here."""

from apps.access.selectors.apps import app_can_manage, app_get, app_list, app_managers
from apps.access.selectors.home import home_get
from apps.access.selectors.keys import (
    api_key_authenticate,
    api_key_get,
    api_key_list,
    personal_token_authenticate,
    personal_token_get,
    personal_token_list,
)
from apps.access.selectors.subscription_usage import (
    subscription_get_for_usage,
    subscription_usage_get,
    subscription_usage_list,
)
from apps.access.selectors.subscriptions import (
    subscription_cost_projection,
    subscription_get_for_app,
    subscription_get_for_app_tenant,
    subscription_get_for_approver,
    subscription_get_for_tenant,
    subscription_list_active,
    subscription_list_for_app,
    subscription_list_for_app_tenant,
    subscription_list_for_approver,
    subscription_plan_choices,
    subscription_targets_get,
)
from apps.access.selectors.usage import app_calls_today, app_usage_get

__all__ = [
    "api_key_authenticate",
    "api_key_get",
    "api_key_list",
    "app_calls_today",
    "app_can_manage",
    "app_get",
    "app_list",
    "app_managers",
    "app_usage_get",
    "home_get",
    "personal_token_authenticate",
    "personal_token_get",
    "personal_token_list",
    "subscription_cost_projection",
    "subscription_get_for_app",
    "subscription_get_for_app_tenant",
    "subscription_get_for_approver",
    "subscription_get_for_tenant",
    "subscription_get_for_usage",
    "subscription_list_active",
    "subscription_list_for_app",
    "subscription_list_for_app_tenant",
    "subscription_list_for_approver",
    "subscription_plan_choices",
    "subscription_targets_get",
    "subscription_usage_get",
    "subscription_usage_list",
]
