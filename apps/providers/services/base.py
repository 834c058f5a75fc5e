"""What every provider write shares: who may make it, saving with the first error named, the audit record and the
data plane told."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.services import audit_record, config_version_bump
from apps.tenants.models import Membership, Role


class ProviderUnavailable(ApplicationError):
    """The provider did not answer as it should (unreachable, refused the credential…); nothing was changed."""

    status_code = 502


def require_admin(membership: Membership | None) -> None:
    # None: a trusted caller (seed, management commands).
    if membership is not None and not membership.has_role(Role.ADMIN):
        raise NotPermitted("Only owners and admins manage providers, models and routes.")


def save_checked(instance, *, field: str, message: str) -> None:
    try:
        instance.full_clean(validate_constraints=False)
    except ValidationError as exc:
        name, errors = next(iter(exc.message_dict.items()))
        raise ApplicationError(errors[0], field=name) from None
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ConflictError(message, field=field) from None


def audited(action: str, obj, changes: dict[str, Any] | None = None) -> None:
    audit_record(action=action, obj=obj, tenant=obj.tenant, changes=changes or {})
    config_version_bump()
