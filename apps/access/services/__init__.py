"""Write use-cases of the access app (HackSoft services), one module per subdomain, re-exported here."""

from apps.access.services.apps import (
    app_create,
    app_delete,
    app_manager_grant,
    app_manager_revoke,
    app_require_manage,
    app_update,
)
from apps.access.services.cancellation import subscription_cancel
from apps.access.services.keys import api_key_issue, api_key_revoke
from apps.access.services.subscriptions import (
    subscription_approve,
    subscription_notify,
    subscription_reject,
    subscription_renew,
    subscription_request,
    subscription_resume,
    subscription_revoke,
    subscription_suspend,
    subscriptions_close_for_retired,
)
from apps.access.services.tokens import personal_token_issue, token_revoke

__all__ = [
    "api_key_issue",
    "api_key_revoke",
    "app_create",
    "app_delete",
    "app_manager_grant",
    "app_manager_revoke",
    "app_require_manage",
    "app_update",
    "personal_token_issue",
    "subscription_approve",
    "subscription_cancel",
    "subscription_notify",
    "subscription_reject",
    "subscription_renew",
    "subscription_request",
    "subscription_resume",
    "subscription_revoke",
    "subscription_suspend",
    "subscriptions_close_for_retired",
    "token_revoke",
]
