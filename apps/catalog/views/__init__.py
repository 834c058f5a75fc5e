"""The catalog's web pages: browsing and documentation for everyone (browse), publishing for the tenant's owners
and admins (manage)."""

from apps.catalog.views.browse import service_detail, service_list, service_openapi, service_openapi_json
from apps.catalog.views.manage import (
    markdown_preview,
    own_service_list,
    plan_create,
    plan_delete,
    plan_edit,
    prompt_editor_grant,
    prompt_editor_revoke,
    service_create,
    service_edit,
    service_lifecycle,
    service_manage,
)

__all__ = [
    "markdown_preview",
    "own_service_list",
    "plan_create",
    "plan_delete",
    "plan_edit",
    "prompt_editor_grant",
    "prompt_editor_revoke",
    "service_create",
    "service_detail",
    "service_edit",
    "service_lifecycle",
    "service_list",
    "service_manage",
    "service_openapi",
    "service_openapi_json",
]
