"""Telling people about alerts: e-mails, signed webhooks and in-app notifications.

Each event of an alert (fired, resolved) gets one AlertDelivery per e-mail address and one for the webhook;
a Celery task sends each, retrying with backoff, and records how it went.

Webhook signature. Every webhook request is a POST of a JSON body with these headers:

    X-Gateway-Event: fired | resolved | test
    X-Gateway-Delivery: <delivery id>  (the same on every retry of one delivery; "test" for a test)
    X-Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>

To verify, the receiver takes `t` and `v1` from the header, computes HMAC-SHA256 with the rule's webhook secret
as key over the bytes `<t>.<raw request body>` (the body exactly as received, before any JSON parsing),
compares the hex digest to `v1` in constant time, and rejects a `t` more than a few minutes from its own clock
(a replayed request). In Python:

    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, v1) and abs(time.time() - int(t)) < 300
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.analytics.models import (
    Alert,
    AlertDelivery,
    AlertEvent,
    AlertMetric,
    AlertRule,
    DeliveryChannel,
    DeliveryStatus,
)
from apps.core.crypto import DecryptionError
from apps.core.errors import NotPermitted
from apps.core.netguard import ALLOW_ALL, PUBLIC_ONLY, AddressRefused, GuardedTransport
from apps.core.services import notification_send
from apps.tenants.models import Membership, Role

WEBHOOK_TIMEOUT_SECONDS = 10.0
TEST_EVENT = "test"
USER_AGENT = "ai-gateway-portal-alerts/1"


class DeliveryFailed(Exception):
    """The mail server or the webhook did not take the notification; the message says why, for the history."""


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The X-Gateway-Signature header's value for `body` sent at `timestamp` (module docstring)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def alert_rule_url(rule: AlertRule, alert: Alert | None = None) -> str:
    """The absolute address of the rule's page (at the alert's row when given), for e-mails and webhooks."""
    path = reverse("analytics:alert-rule-detail", kwargs={"pk": rule.pk})
    return f"{settings.SITE_URL}{path}{f'#alert-{alert.pk}' if alert else ''}"


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _event_value(alert: Alert, event: str) -> Any:
    return alert.last_value if event == AlertEvent.RESOLVED else alert.value


def alert_event_text(alert: Alert, event: str) -> str:
    """What happened, in one or two sentences: the body of in-app notifications, the heart of e-mails."""
    if event == AlertEvent.RESOLVED:
        return f"Resolved: {alert.resolution}. It fired at {alert.fired_at:%Y-%m-%d %H:%M %Z}: {alert.message}"
    return alert.message


def _payload(rule: AlertRule, event: str, alert: Alert | None) -> dict[str, Any]:
    return {
        "event": event,
        "alert": {
            "id": alert.pk if alert else None,
            "rule": rule.name,
            "metric": rule.metric,
            "value": _number(_event_value(alert, event)) if alert else None,
            # A budget rule has no threshold of its own: each budget's alert percent is in the message.
            "threshold": None if rule.metric == AlertMetric.BUDGET else _number(rule.threshold),
            "unit": rule.unit,
            "message": alert_event_text(alert, event) if alert else f"Test notification of the rule “{rule.name}”.",
            "fired_at": alert.fired_at.isoformat() if alert else None,
            "resolved_at": alert.resolved_at.isoformat() if alert and alert.resolved_at else None,
            "tenant": rule.tenant.slug,
            "url": alert_rule_url(rule, alert),
        },
    }


def _recipients(rule: AlertRule) -> tuple[list[str], list[Any]]:
    """(e-mail addresses, members to notify in the app). No addresses on the rule: its tenant's owners and admins;
    otherwise the addresses, and in the app those members whose address is one of them."""
    memberships = list(Membership.objects.filter(tenant_id=rule.tenant_id).select_related("user"))
    if rule.email_recipients:
        wanted = {address.lower() for address in rule.email_recipients}
        users = [m.user for m in memberships if m.user.email and m.user.email.lower() in wanted]
        return list(rule.email_recipients), users
    users = [m.user for m in memberships if m.role in (Role.OWNER, Role.ADMIN)]
    return list(dict.fromkeys(user.email for user in users if user.email)), users


def _subject(rule: AlertRule, event: str) -> str:
    return f"[{rule.tenant.name}] {event.upper()}: {rule.name}"


def alert_deliveries_create(*, alert: Alert, event: str) -> list[AlertDelivery]:
    """Record who is told about this event of the alert, tell the members in the app, and queue the e-mails and
    the webhook for once the transaction commits (call it inside the transaction that changed the alert)."""
    rule = alert.rule
    emails, users = _recipients(rule)
    deliveries = [AlertDelivery(alert=alert, event=event, channel=DeliveryChannel.EMAIL, target=e) for e in emails]
    if rule.webhook_url:
        deliveries.append(
            AlertDelivery(alert=alert, event=event, channel=DeliveryChannel.WEBHOOK, target=rule.webhook_url)
        )
    deliveries = AlertDelivery.objects.bulk_create(deliveries)
    link = reverse("analytics:alert-rule-detail", kwargs={"pk": rule.pk})
    text = alert_event_text(alert, event)
    notification_send(users=users, subject=_subject(rule, event), body=text, link=link, email=False)

    from apps.analytics.tasks import alert_delivery_send_task  # here: the tasks module imports this one

    for delivery in deliveries:
        # robust: a broker that is down must not undo the alert; the delivery stays pending in the history.
        transaction.on_commit(lambda pk=delivery.pk: alert_delivery_send_task.delay(pk), robust=True)
    return deliveries


def _send_email(rule: AlertRule, event: str, alert: Alert | None, address: str) -> None:
    context = {"rule": rule, "event": event, "url": alert_rule_url(rule, alert)}
    if alert is not None:
        context.update(
            alert=alert, text=alert_event_text(alert, event), value=rule.describe(_event_value(alert, event))
        )
    body = render_to_string("emails/alert_event.txt", context)
    try:
        send_mail(_subject(rule, event), body, None, [address])
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"mail server: {exc}") from exc


def _send_webhook(rule: AlertRule, event: str, alert: Alert | None, delivery_id: str) -> None:
    try:
        secret = rule.webhook_secret()
    except DecryptionError as exc:
        raise DeliveryFailed("the webhook secret cannot be decrypted with FIELD_ENCRYPTION_KEYS") from exc
    body = json.dumps(_payload(rule, event, alert), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Gateway-Event": event,
        "X-Gateway-Delivery": delivery_id,
        "X-Gateway-Signature": webhook_signature(secret=secret, timestamp=int(time.time()), body=body),
    }
    # A tenant admin must not make the portal POST into its own network (the metadata service, the database, an
    # admin port): the connection goes to a public address the host resolved to when sending, unless the operator
    # allows private receivers. No redirects: the receiver is the URL the admin entered, never one its answer names.
    policy = ALLOW_ALL if settings.ALERT_WEBHOOK_ALLOW_PRIVATE else PUBLIC_ONLY
    try:
        with httpx.Client(transport=GuardedTransport(policy), timeout=WEBHOOK_TIMEOUT_SECONDS) as client:
            response = client.post(rule.webhook_url, content=body, headers=headers, follow_redirects=False)
    except AddressRefused as exc:
        raise DeliveryFailed(
            "the webhook host is or resolves to a private address; the operator allows such receivers "
            "with ALERT_WEBHOOK_ALLOW_PRIVATE=true"
        ) from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise DeliveryFailed(f"the webhook answered HTTP {response.status_code}")


def alert_delivery_send(*, delivery_id: int, final_attempt: bool) -> str:
    """Send one pending delivery and record the attempt; returns its status. A failure raises DeliveryFailed for
    the task to retry, except on the final attempt, which records the delivery as failed."""
    delivery = AlertDelivery.objects.select_related("alert__rule__tenant").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return delivery.status if delivery else "gone"  # deleted with its rule, or already sent by another run
    alert = delivery.alert
    try:
        if delivery.channel == DeliveryChannel.EMAIL:
            _send_email(alert.rule, delivery.event, alert, delivery.target)
        else:
            _send_webhook(alert.rule, delivery.event, alert, str(delivery.pk))
    except DeliveryFailed as exc:
        status = DeliveryStatus.FAILED if final_attempt else DeliveryStatus.PENDING
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            attempts=F("attempts") + 1, last_error=str(exc)[:500], status=status
        )
        if not final_attempt:
            raise
        return status
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1, last_error="", status=DeliveryStatus.SENT, sent_at=timezone.now()
    )
    return DeliveryStatus.SENT


@dataclass(frozen=True)
class TestOutcome:
    channel: str
    target: str
    ok: bool
    message: str


def alert_rule_test_notify(*, rule: AlertRule, actor_membership: Membership | None) -> list[TestOutcome]:
    """Send a test notification to every e-mail recipient and the webhook of the rule, now, without retries;
    returns how each went. No alert or delivery is recorded."""
    if actor_membership is not None and not actor_membership.has_role(Role.ADMIN):
        raise NotPermitted("Only owners and admins send test notifications.")
    emails, _ = _recipients(rule)
    targets = [(DeliveryChannel.EMAIL, address) for address in emails]
    if rule.webhook_url:
        targets.append((DeliveryChannel.WEBHOOK, rule.webhook_url))
    outcomes = []
    for channel, target in targets:
        try:
            if channel == DeliveryChannel.EMAIL:
                _send_email(rule, TEST_EVENT, None, target)
            else:
                _send_webhook(rule, TEST_EVENT, None, TEST_EVENT)
        except DeliveryFailed as exc:
            outcomes.append(TestOutcome(channel, target, False, str(exc)[:500]))
        else:
            outcomes.append(TestOutcome(channel, target, True, "sent"))
    return outcomes
