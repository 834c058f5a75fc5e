"""Snapshot entries for tests of the data plane without a database: each with working defaults, and the fields a
test cares about given as keywords."""

from __future__ import annotations

from typing import Any

from apps.gateway.pipeline.snapshot import ServiceEntry


def service_entry(**fields: Any) -> ServiceEntry:
    """A published, private text service of tenant 1 on route `smart`, without a prompt."""
    defaults: dict[str, Any] = {
        "service_id": 1,
        "slug": "service",
        "tenant_id": 1,
        "kind": "prompt",
        "lifecycle": "published",
        "visibility": "private",
        "shared_with": frozenset(),
        "require_internal_subscription": False,
        "route_alias": "smart",
        "output_mode": "text",
        "output_schema": {},
        "output_validator": None,
        "prompt": None,
    }
    return ServiceEntry(**(defaults | fields))
