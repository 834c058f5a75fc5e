"""Writes of the catalog: services (create, update, lifecycle, sharing), their plans and prompt editors.

Every write is atomic, audited, and bumps the gateway's configuration version (its data plane rebuilds its
snapshot from it). `actor_membership=None` is a trusted caller (the demo seed, management commands)."""

from apps.catalog.services.base import MANAGE_ROLE, service_manage_allowed
from apps.catalog.services.plans import plan_create, plan_delete, plan_update
from apps.catalog.services.ports import service_creator_register, service_retire_hook_register
from apps.catalog.services.prompt_editors import (
    CHANGE_PROMPT,
    service_prompt_editor_grant,
    service_prompt_editor_revoke,
)
from apps.catalog.services.service import (
    service_create,
    service_create_of_kind,
    service_lifecycle_moves,
    service_set_lifecycle,
    service_share,
    service_update,
)

__all__ = [
    "CHANGE_PROMPT",
    "MANAGE_ROLE",
    "plan_create",
    "plan_delete",
    "plan_update",
    "service_create",
    "service_create_of_kind",
    "service_creator_register",
    "service_lifecycle_moves",
    "service_manage_allowed",
    "service_prompt_editor_grant",
    "service_prompt_editor_revoke",
    "service_retire_hook_register",
    "service_set_lifecycle",
    "service_share",
    "service_update",
]
