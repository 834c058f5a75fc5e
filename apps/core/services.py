from __future__ import annotations

from typing import Any

from django.db import models

from apps.core.audit import current_context
from apps.core.models import AuditEvent


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def audit_record(
    *, action: str, obj: models.Model, tenant: Any = None, changes: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one event to the audit trail, attributed to whoever the current audit context names."""
    context = current_context()
    actor, label = context.resolve_actor()
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor,
        actor_label=label[:150],
        source=context.source,
        ip_address=context.ip_address,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=_jsonable(changes or {}),
    )


def model_diff(instance: models.Model, data: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields of `data` whose value differs from the instance's."""
    return {name: [getattr(instance, name), value] for name, value in data.items() if getattr(instance, name) != value}


GATEWAY_CONFIG = "gateway"


def config_version_bump(name: str = GATEWAY_CONFIG) -> None:
    """Tell every gateway process that its configuration snapshot is stale, once the transaction commits."""
    from django.db import transaction
    from django.db.models import F

    from apps.core.models import ConfigVersion

    def bump() -> None:
        updated = ConfigVersion.objects.filter(name=name).update(version=F("version") + 1)
        if not updated:
            ConfigVersion.objects.get_or_create(name=name, defaults={"version": 1})

    transaction.on_commit(bump)
