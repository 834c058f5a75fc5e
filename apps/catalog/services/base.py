"""What every catalog write shares: the role check, saving with clear refusals, auditing."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.services import audit_record, config_version_bump
from apps.tenants.models import Membership, Role, Tenant

# The least role that creates, changes, publishes, deprecates and retires a tenant's services and their plans.
MANAGE_ROLE = Role.ADMIN


def service_manage_allowed(*, membership: Membership, tenant: Tenant) -> bool:
    """Whether the member may change the tenant's services and plans: the one rule the writes below enforce and the
    pages ask before they show a form or a button."""
    return membership.tenant_id == tenant.pk and membership.has_role(MANAGE_ROLE)


def require_admin(membership: Membership | None, tenant: Tenant) -> None:
    """Owners and admins of the service's tenant change it; None is a trusted caller (seed, commands)."""
    if membership is None:
        return
    if not service_manage_allowed(membership=membership, tenant=tenant):
        raise NotPermitted("Only owners and admins of its tenant change a service and its plans.")


def save(instance: models.Model, *, conflict_field: str, conflict: str) -> None:
    """full_clean() (the first error names its field: 400), then save; a unique clash is a 409 on `conflict_field`."""
    try:
        instance.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        raise ApplicationError(errors[0], field=None if field == "__all__" else field) from None
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ConflictError(conflict, field=conflict_field) from None


def audited(action: str, obj: models.Model, *, tenant: Tenant, changes: dict[str, Any] | None = None) -> None:
    audit_record(action=action, obj=obj, tenant=tenant, changes=changes or {})
    config_version_bump()
