"""What every subscription change leaves behind: notifications (in-app and e-mail), audit events in both tenants,
a gateway configuration bump; and the cost projection an approver decides with."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from apps.access.models import SubscriptionStatus
from apps.access.selectors import subscription_cost_projection
from apps.access.services import (
    subscription_approve,
    subscription_reject,
    subscription_request,
    subscription_resume,
    subscription_revoke,
    subscription_suspend,
)
from apps.access.tasks import subscription_notify_task
from apps.catalog.models import ApprovalMode
from apps.core.models import AuditEvent, ConfigVersion, Notification
from apps.core.services import GATEWAY_CONFIG
from apps.tenants.models import Role
from tests.factories import DeploymentFactory, PlanFactory, ProviderModelFactory

pytestmark = pytest.mark.django_db

S = SubscriptionStatus
# (state before, service, its arguments, word in the notification's subject)
DECISIONS = [
    pytest.param(S.PENDING, subscription_approve, {}, "approved", id="approve"),
    pytest.param(S.PENDING, subscription_reject, {"reason": "Not for chat bots"}, "rejected", id="reject"),
    pytest.param(S.APPROVED, subscription_suspend, {"reason": "Too many errors"}, "suspended", id="suspend"),
    pytest.param(S.SUSPENDED, subscription_resume, {}, "resumed", id="resume"),
    pytest.param(S.APPROVED, subscription_revoke, {"reason": "Contract ended"}, "revoked", id="revoke"),
]
AUDIT_ACTIONS = {"approved": "approve", "rejected": "reject", "suspended": "suspend", "resumed": "resume"}


def _gateway_version() -> int:
    row = ConfigVersion.objects.filter(name=GATEWAY_CONFIG).first()
    return row.version if row else 0


@pytest.mark.parametrize(("status", "decide", "arguments", "verb"), DECISIONS)
def test_each_decision_tells_the_requester_in_the_app_and_by_one_email(
    make_subscription, members, mallory, django_capture_on_commit_callbacks, status, decide, arguments, verb
):
    subscription = make_subscription(status)
    with django_capture_on_commit_callbacks(execute=True):
        decide(subscription=subscription, actor_membership=members[Role.OWNER], **arguments)
    notification = Notification.objects.get()
    assert notification.user == mallory
    assert verb in notification.subject
    assert notification.link == "/subscriptions/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [mallory.email]
    assert mail.outbox[0].subject == notification.subject
    assert "Translate" in mail.outbox[0].body
    assert "/subscriptions/" in mail.outbox[0].body
    if "reason" in arguments:
        assert arguments["reason"] in mail.outbox[0].body


def test_a_new_request_tells_the_service_tenants_owners_and_admins(
    requester, other_app, service, plan, members, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        subscription_request(app=other_app, service=service, plan=plan, purpose="Tickets", actor_membership=requester)
    approvers = {members[Role.OWNER].user, members[Role.ADMIN].user}
    assert {n.user for n in Notification.objects.all()} == approvers
    assert sorted(m.to[0] for m in mail.outbox) == sorted(user.email for user in approvers)
    assert "Globex asks to subscribe Globex bot to Translate" in mail.outbox[0].subject
    assert "Tickets" in mail.outbox[0].body


def test_an_auto_approved_request_tells_only_the_requester(
    requester, other_app, service, plan, mallory, django_capture_on_commit_callbacks
):
    service.approval_mode = ApprovalMode.AUTO
    service.save()
    with django_capture_on_commit_callbacks(execute=True):
        subscription_request(app=other_app, service=service, plan=plan, purpose="Tickets", actor_membership=requester)
    assert [m.to for m in mail.outbox] == [[mallory.email]]
    assert "approved" in Notification.objects.get(user=mallory).subject


def test_nothing_is_sent_before_the_change_commits(subscription, members, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        subscription_approve(subscription=subscription, actor_membership=members[Role.OWNER])
    assert (len(mail.outbox), Notification.objects.count()) == (0, 0)
    assert len(callbacks) == 2  # the notification task and the gateway's configuration bump


def test_the_task_of_a_deleted_subscription_does_nothing(subscription):
    subscription_id = subscription.pk
    subscription.delete()
    assert subscription_notify_task.delay(subscription_id, "approved").get() == 0
    assert mail.outbox == []


@pytest.mark.parametrize(("status", "decide", "arguments", "verb"), DECISIONS)
def test_each_change_is_audited_in_both_tenants_and_bumps_the_gateway_config(
    make_subscription,
    members,
    tenant,
    other_tenant,
    django_capture_on_commit_callbacks,
    status,
    decide,
    arguments,
    verb,
):
    subscription = make_subscription(status)
    before = _gateway_version()
    with django_capture_on_commit_callbacks(execute=True):
        decide(subscription=subscription, actor_membership=members[Role.OWNER], **arguments)
    events = AuditEvent.objects.filter(object_type="access.subscription", object_id=str(subscription.pk))
    assert {event.tenant_id for event in events} == {tenant.pk, other_tenant.pk}
    assert {event.action for event in events} == {f"subscription.{AUDIT_ACTIONS.get(verb, 'revoke')}"}
    changes = events.first().changes
    assert changes["app"] == "globex/globex-bot"
    assert changes["service"] == "translate"
    assert changes["status"][0] == status
    assert _gateway_version() == before + 1


@pytest.fixture
def priced_route(route, echo_model):
    """`smart` served by two priced models ((1+3)/2 = 2 and (2+6)/2 = 4 per 1M tokens: mean 3) and a disabled one."""
    echo_model.input_price_per_mtok, echo_model.output_price_per_mtok = Decimal(1), Decimal(3)
    echo_model.save()
    pricier = ProviderModelFactory(provider=echo_model.provider, input_price_per_mtok=2, output_price_per_mtok=6)
    DeploymentFactory(route=route, model=pricier)
    dearest = ProviderModelFactory(provider=echo_model.provider, input_price_per_mtok=100, output_price_per_mtok=100)
    DeploymentFactory(route=route, model=dearest, enabled=False)
    return route


@pytest.mark.parametrize(
    ("limits", "requests", "basis", "cost", "capped"),
    [
        ({"requests_per_month": 10_000}, 10_000, "requests_per_month", "30.00", False),
        ({"requests_per_day": 1000, "requests_per_minute": 5}, 30_000, "requests_per_day * 30", "90.00", False),
        ({"requests_per_minute": 10}, 432_000, "requests_per_minute * 43200", "1296.00", False),
        ({"requests_per_minute": 10, "tokens_per_minute": 5000}, 216_000, "tokens_per_minute", "648.00", False),
        ({"requests_per_month": 10_000, "monthly_budget": Decimal(20)}, 10_000, "requests_per_month", "20.00", True),
        ({"requests_per_month": 10_000, "monthly_budget": Decimal(50)}, 10_000, "requests_per_month", "30.00", False),
        ({"monthly_budget": Decimal(75)}, None, "unlimited", "75.00", True),
        ({}, None, "unlimited", None, False),
    ],
)
def test_cost_projection_arithmetic(make_subscription, service, priced_route, limits, requests, basis, cost, capped):
    """requests a month * tokens per call (1000) * mean price (3 per 1M tokens), capped by the monthly budget."""
    subscription = make_subscription(plan=PlanFactory(service=service, **limits))
    projection = subscription_cost_projection(subscription=subscription)
    assert projection["monthly_requests"] == requests
    assert projection["requests_basis"].startswith(basis)
    assert (projection["tokens_per_call"], projection["price_per_mtok"]) == (1000, Decimal("3.000000"))
    assert projection["priced_deployments"] == 2
    assert projection["monthly_cost"] == (Decimal(cost) if cost else None)
    assert projection["capped_by_budget"] is capped


def test_cost_projection_without_an_enabled_deployment_is_unknown(subscription, route):
    route.deployments.update(enabled=False)
    projection = subscription_cost_projection(subscription=subscription)
    assert (projection["price_per_mtok"], projection["monthly_cost"], projection["priced_deployments"]) == (
        None,
        None,
        0,
    )
    assert projection["monthly_requests"] == 30_000
