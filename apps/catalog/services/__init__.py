"""Writes of the catalog: services (create, update, lifecycle, sharing) and their plans.

Every write is atomic, audited, and bumps the gateway's configuration version (its data plane rebuilds its
snapshot from it). `actor_membership=None` is a trusted caller (the demo seed, management commands)."""

from apps.catalog.services.plans import plan_create, plan_delete, plan_update
from apps.catalog.services.service import (
    service_create,
    service_set_lifecycle,
    service_share,
    service_update,
)

__all__ = [
    "plan_create",
    "plan_delete",
    "plan_update",
    "service_create",
    "service_set_lifecycle",
    "service_share",
    "service_update",
]
