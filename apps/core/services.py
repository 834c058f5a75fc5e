from __future__ import annotations

from collections.abc import Iterable
from functools import cache, partial
from typing import Any

import redis
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.audit import current_context
from apps.core.models import AuditEvent, ConfigVersion, Notification


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
    *,
    action: str,
    obj: models.Model | None = None,
    tenant: Any = None,
    changes: dict[str, Any] | None = None,
    object_type: str = "",
    object_repr: str = "",
) -> AuditEvent:
    """Append one event to the audit trail, attributed to whoever the current audit context names.

    The event is about `obj`, or, when there is no row to point at (a log-in lockout of a name that may not
    exist), about `object_type` / `object_repr`."""
    context = current_context()
    actor, label = context.resolve_actor()
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor,
        actor_label=label[:150],
        source=context.source,
        ip_address=context.ip_address,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else object_type,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj if obj is not None else object_repr)[:200],
        changes=_jsonable(changes or {}),
    )


def model_diff(instance: models.Model, data: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields of `data` whose value differs from the instance's."""
    return {name: [getattr(instance, name), value] for name, value in data.items() if getattr(instance, name) != value}


GATEWAY_CONFIG = "gateway"


def gateway_config_channel(redis_url: str) -> str:
    """The Redis pub/sub channel on which each committed version is announced to the gateway processes. Channels
    are server-wide, so it is named after the Redis database the portal uses: portals sharing one server on
    different databases (and the test suite's parallel workers) do not wake each other."""
    return f"gateway:config:{redis.connection.parse_url(redis_url).get('db', 0)}"


def config_version_bump(name: str = GATEWAY_CONFIG) -> None:
    """Count a change of the data plane's configuration, in the caller's transaction, after its writes.

    The new version commits (or rolls back) with the change it counts, so whoever reads the version sees the
    change too; its row stays locked until then, so concurrent changes queue for that moment. Once committed,
    the version is announced on Redis (when configured): every gateway process rebuilds its snapshot within
    milliseconds instead of at its next poll, which remains the fallback for a lost announcement."""
    rows = ConfigVersion.objects.filter(name=name)
    if not rows.update(version=F("version") + 1):
        ConfigVersion.objects.get_or_create(name=name)  # the first change ever (or another transaction's)
        rows.update(version=F("version") + 1)
    if settings.REDIS_URL and name == GATEWAY_CONFIG:
        version = rows.values_list("version", flat=True).get()
        transaction.on_commit(partial(_config_version_announce, version), robust=True)


def _config_version_announce(version: int) -> None:
    _redis().publish(gateway_config_channel(settings.REDIS_URL), version)


@cache
def _redis() -> redis.Redis:
    # Short timeouts: Redis being away must not hold up the request that changed the configuration.
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def notification_send(
    *, users: Iterable[Any], subject: str, body: str, link: str = "", email: bool = True
) -> list[Notification]:
    """Tell each user: an in-app notification, and an e-mail (Django's mail backend) to those with an address.

    Call it from a task or after commit: a mail server that is slow or down must not hold a transaction.
    `email=False`: in the app only (alerts send their e-mails themselves, with retries and a delivery record)."""
    users = list({user.pk: user for user in users}.values())
    notifications = Notification.objects.bulk_create(
        Notification(user=user, subject=subject[:200], body=body, link=link) for user in users
    )
    if not email:
        return notifications
    text = f"{body}\n\n{settings.SITE_URL}{link}\n" if link else f"{body}\n"
    messages = [
        EmailMessage(subject=subject, body=text, to=[user.email]) for user in users if getattr(user, "email", "")
    ]
    if messages:
        with get_connection() as connection:
            connection.send_messages(messages)
    return notifications


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
