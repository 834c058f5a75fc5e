"""What each object's applier is handed, and how a refusal inside a list item names the item."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from apps.core.errors import ApplicationError
from apps.gitops.services.load import Definitions
from apps.tenants.models import Membership, Tenant


@dataclass(frozen=True)
class ApplyContext:
    """Who applies what to which tenant."""

    tenant: Tenant
    membership: Membership | None
    definitions: Definitions


@contextmanager
def at(prefix: str) -> Iterator[None]:
    """Refusals inside a list item name it: `models[2].upstream_id` rather than `upstream_id`."""
    try:
        yield
    except ApplicationError as exc:
        raise ApplicationError(exc.message, field=f"{prefix}.{exc.field}" if exc.field else prefix) from None
