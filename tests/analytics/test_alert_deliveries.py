"""Notifications of alerts: e-mails, webhooks signed as documented (checked by a real local HTTP server), in-app
notifications to members, retries with a recorded outcome, and the test notification."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from apps.analytics.models import Alert, AlertDelivery, DeliveryStatus
from apps.analytics.services.alert_deliveries import alert_rule_test_notify
from apps.analytics.services.alerts import alert_rule_create, alerts_evaluate
from apps.analytics.tasks import ALERT_DELIVERY_MAX_TRIES, alert_delivery_send_task
from apps.core.models import Notification
from apps.tenants.models import Role
from tests.clock import days_ago_at
from tests.factories import AlertRuleFactory, CallRollupFactory
from tests.fakes.webhook_receiver import WebhookReceiver, signature_valid

pytestmark = pytest.mark.django_db

NOW = days_ago_at(2, 12, 30, 20)
LATER = NOW + timedelta(minutes=10)
SECRET = "whsec_0123456789abcdef"


def failing_calls(tenant, at: datetime = NOW) -> None:
    CallRollupFactory(tenant_id=tenant.pk, bucket=at.replace(second=0), calls=20, server_errors=10)


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def fire_and_resolve(tenant, django_capture_on_commit_callbacks):
    """Evaluate at NOW (failing traffic: fires) then at LATER (no traffic: resolves), sending what each queued."""

    def run(*, resolve: bool = True) -> Alert:
        failing_calls(tenant)
        with django_capture_on_commit_callbacks(execute=True):
            alerts_evaluate(now=NOW)
        if resolve:
            with django_capture_on_commit_callbacks(execute=True):
                alerts_evaluate(now=LATER)
        return Alert.objects.get()

    return run


def test_the_tenants_owners_and_admins_get_an_email_and_a_notification_by_default(
    tenant, members, fire_and_resolve, mailoutbox
):
    rule = AlertRuleFactory(tenant=tenant, name="Checkout errors")
    alert = fire_and_resolve()
    fired, resolved = mailoutbox[:2], mailoutbox[2:]
    assert sorted(address for mail in fired for address in mail.to) == [
        "admin-user@example.com",
        "owner-user@example.com",
    ]
    assert fired[0].subject == "[Acme] FIRED: Checkout errors"
    assert "Error rate above 5 % over 5 min (all calls): now 50 %." in fired[0].body
    assert f"/analytics/alerts/rules/{rule.pk}/#alert-{alert.pk}" in fired[0].body
    assert [mail.subject for mail in resolved] == ["[Acme] RESOLVED: Checkout errors"] * 2
    assert "Resolved: fewer than 10 calls in the last 5 min to judge." in resolved[0].body
    deliveries = AlertDelivery.objects.filter(alert=alert)
    assert {(d.event, d.channel, d.status, d.attempts) for d in deliveries} == {
        ("fired", "email", "sent", 1),
        ("resolved", "email", "sent", 1),
    }
    assert deliveries.count() == 4
    notified = Notification.objects.filter(subject__contains="Checkout errors").values_list("user__username", flat=True)
    assert sorted(notified) == ["admin-user", "admin-user", "owner-user", "owner-user"]


def test_explicit_recipients_get_the_email_and_only_members_among_them_a_notification(
    tenant, members, fire_and_resolve, mailoutbox
):
    AlertRuleFactory(tenant=tenant, email_recipients=["oncall@example.com", "viewer-user@example.com"])
    fire_and_resolve(resolve=False)
    assert sorted(mail.to[0] for mail in mailoutbox) == ["oncall@example.com", "viewer-user@example.com"]
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["viewer-user"]


def test_webhook_requests_carry_the_event_and_a_signature_the_receiver_can_verify(tenant, receiver, fire_and_resolve):
    rule, secret = alert_rule_create(
        tenant=tenant,
        actor_membership=None,
        name="Errors",
        metric="error_rate",
        threshold=Decimal(5),
        webhook_url=receiver.url,
    )
    alert = fire_and_resolve()
    assert [request.headers["X-Gateway-Event"] for request in receiver.requests] == ["fired", "resolved"]
    for request in receiver.requests:
        assert request.headers["Content-Type"] == "application/json"
        assert signature_valid(secret=secret, header=request.headers["X-Gateway-Signature"], body=request.body)
        assert not signature_valid(
            secret="whsec_wrong", header=request.headers["X-Gateway-Signature"], body=request.body
        )
        assert not signature_valid(
            secret=secret, header=request.headers["X-Gateway-Signature"], body=request.body + b" "
        )
    fired = json.loads(receiver.requests[0].body)
    assert fired == {
        "event": "fired",
        "alert": {
            "id": alert.pk,
            "rule": "Errors",
            "metric": "error_rate",
            "value": 50.0,
            "threshold": 5.0,
            "unit": "%",
            "message": "Error rate above 5 % over 5 min (all calls): now 50 %.",
            "fired_at": NOW.isoformat(),
            "resolved_at": None,
            "tenant": "acme",
            "url": f"http://127.0.0.1:8000/analytics/alerts/rules/{rule.pk}/#alert-{alert.pk}",
        },
    }
    resolved = json.loads(receiver.requests[1].body)["alert"]
    assert (resolved["resolved_at"], resolved["value"]) == (LATER.isoformat(), None)
    assert {d.status for d in AlertDelivery.objects.filter(channel="webhook")} == {DeliveryStatus.SENT}


def test_a_failing_webhook_is_retried_and_recorded_failed_after_the_last_try(tenant, receiver, fire_and_resolve):
    receiver.statuses = [500]
    AlertRuleFactory(tenant=tenant, webhook_url=receiver.url)
    fire_and_resolve(resolve=False)
    assert len(receiver.requests) == ALERT_DELIVERY_MAX_TRIES
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts, delivery.sent_at) == (DeliveryStatus.FAILED, 5, None)
    assert delivery.last_error == "the webhook answered HTTP 500"
    # the same delivery id on every try: receivers can drop duplicates
    assert {request.headers["X-Gateway-Delivery"] for request in receiver.requests} == {str(delivery.pk)}


def test_a_webhook_that_recovers_before_the_last_try_is_sent(tenant, receiver, fire_and_resolve):
    receiver.statuses = [503, 500, 200]
    AlertRuleFactory(tenant=tenant, webhook_url=receiver.url)
    fire_and_resolve(resolve=False)
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 3, "")


def test_redirects_are_not_followed(tenant, receiver, fire_and_resolve):
    receiver.statuses = [302]
    receiver.location = "http://169.254.169.254/latest/meta-data/"
    AlertRuleFactory(tenant=tenant, webhook_url=receiver.url)
    fire_and_resolve(resolve=False)
    assert {request.path for request in receiver.requests} == {"/hook"}
    assert AlertDelivery.objects.get(channel="webhook").last_error == "the webhook answered HTTP 302"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/hook",
        "http://[::1]:8000/hook",
        "http://localhost:8000/hook",
    ],
)
def test_a_webhook_to_a_private_address_is_refused_unless_the_operator_allows_it(
    tenant, receiver, fire_and_resolve, settings, url
):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    AlertRuleFactory(tenant=tenant, webhook_url=url)
    fire_and_resolve(resolve=False)
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert delivery.status == DeliveryStatus.FAILED
    assert "private address" in delivery.last_error
    assert "ALERT_WEBHOOK_ALLOW_PRIVATE" in delivery.last_error
    assert receiver.requests == []


def test_an_unreachable_webhook_is_recorded_with_the_reason(tenant, fire_and_resolve):
    with WebhookReceiver() as gone:
        url = gone.url
    AlertRuleFactory(tenant=tenant, webhook_url=url)
    fire_and_resolve(resolve=False)
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("ConnectError")


def test_a_delivery_is_sent_at_most_once(tenant, receiver, fire_and_resolve):
    AlertRuleFactory(tenant=tenant, webhook_url=receiver.url)
    fire_and_resolve(resolve=False)
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert alert_delivery_send_task.delay(delivery.pk).get() == DeliveryStatus.SENT
    assert len(receiver.requests) == 1
    delivery.alert.rule.delete()
    assert alert_delivery_send_task.delay(delivery.pk).get() == "gone"


def test_the_test_notification_reaches_every_channel_now_and_records_nothing(tenant, members, receiver, mailoutbox):
    rule = AlertRuleFactory(tenant=tenant, webhook_url=receiver.url, email_recipients=["oncall@example.com"])
    outcomes = alert_rule_test_notify(rule=rule, actor_membership=members[Role.ADMIN])
    assert [(o.channel, o.target, o.ok) for o in outcomes] == [
        ("email", "oncall@example.com", True),
        ("webhook", receiver.url, True),
    ]
    assert mailoutbox[0].subject == f"[Acme] TEST: {rule.name}"
    request = receiver.requests[0]
    assert request.headers["X-Gateway-Event"] == "test"
    assert signature_valid(
        secret=rule.webhook_secret(), header=request.headers["X-Gateway-Signature"], body=request.body
    )
    assert json.loads(request.body)["alert"]["id"] is None
    assert not Alert.objects.exists()
    assert not AlertDelivery.objects.exists()


def test_the_test_notification_reports_a_failing_webhook(tenant, receiver):
    receiver.statuses = [410]
    rule = AlertRuleFactory(tenant=tenant, webhook_url=receiver.url)
    [outcome] = alert_rule_test_notify(rule=rule, actor_membership=None)
    assert (outcome.ok, outcome.message) == (False, "the webhook answered HTTP 410")
    assert len(receiver.requests) == 1
