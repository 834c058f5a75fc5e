"""The lifecycle's two rules beyond its moves: a deprecation announces a sunset date (after today), and retiring a
service closes its open subscriptions with a notice to each requester, in the same transaction. The service, the
API and the pages share them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.access.models import Subscription, SubscriptionStatus
from apps.catalog.models import Lifecycle
from apps.catalog.services import service_set_lifecycle
from apps.core.errors import ApplicationError, NotPermitted
from apps.core.models import AuditEvent, Notification
from tests.factories import AppFactory, PlanFactory, ServiceFactory, SubscriptionFactory, UserFactory
from tests.helpers import API

pytestmark = pytest.mark.django_db

Status = SubscriptionStatus
STATES = ("pending", "approved", "suspended", "rejected", "revoked")  # the ones a service's owners decide


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def published(tenant, route):
    return ServiceFactory(tenant=tenant, route=route, slug="ledger", name="Ledger", lifecycle=Lifecycle.PUBLISHED)


def test_a_deprecation_announces_its_sunset_date_and_publishing_again_withdraws_it(published, admin):
    service_set_lifecycle(service=published, actor_membership=admin, lifecycle="deprecated", sunset_on=_in(30))
    published.refresh_from_db()
    assert (published.lifecycle, published.sunset_on) == ("deprecated", _in(30))
    event = AuditEvent.objects.get(action="service.deprecate")
    assert event.changes == {"lifecycle": ["published", "deprecated"], "sunset_on": [None, str(_in(30))]}

    service_set_lifecycle(service=published, actor_membership=admin, lifecycle="published")
    published.refresh_from_db()
    assert (published.lifecycle, published.sunset_on) == ("published", None)


def test_a_retired_service_keeps_the_date_it_was_announced_for(published, admin):
    service_set_lifecycle(service=published, actor_membership=admin, lifecycle="deprecated", sunset_on=_in(7))
    service_set_lifecycle(service=published, actor_membership=admin, lifecycle="retired")
    published.refresh_from_db()
    assert (published.lifecycle, published.sunset_on) == ("retired", _in(7))


@pytest.mark.parametrize(
    ("lifecycle", "days", "message"),
    [
        ("deprecated", 0, "after today"),
        ("deprecated", -3, "after today"),
        ("retired", 10, "Only a deprecation"),
    ],
)
def test_a_sunset_date_in_the_past_or_on_another_move_is_refused(published, admin, lifecycle, days, message):
    with pytest.raises(ApplicationError) as refused:
        service_set_lifecycle(service=published, actor_membership=admin, lifecycle=lifecycle, sunset_on=_in(days))
    assert refused.value.field == "sunset_on"
    assert message in refused.value.message
    published.refresh_from_db()
    assert (published.lifecycle, published.sunset_on) == ("published", None)
    assert not AuditEvent.objects.filter(action__startswith="service.").exists()


@pytest.fixture
def subscriptions(published, other_tenant):
    """{status: subscription} to `published`, one in each state, of other_tenant's apps, each with its requester."""
    plan = PlanFactory(service=published, slug="standard", name="Standard")
    made = {}
    for status in STATES:
        made[status] = SubscriptionFactory(
            plan=plan,
            app=AppFactory(tenant=other_tenant, slug=f"app-{status}"),
            status=status,
            requested_by=UserFactory(username=f"asks-{status}", email=f"{status}@globex.example"),
            reason="earlier" if status in (Status.REJECTED, Status.REVOKED) else "",
        )
    return made


def test_retiring_closes_the_open_subscriptions_with_a_notice_to_each_requester(
    published, admin, subscriptions, django_capture_on_commit_callbacks
):
    other_service = ServiceFactory(tenant=published.tenant, route=published.route, slug="kept")
    untouched = SubscriptionFactory(plan=PlanFactory(service=other_service), status=Status.APPROVED)

    with django_capture_on_commit_callbacks(execute=True):
        service_set_lifecycle(service=published, actor_membership=admin, lifecycle="retired")

    for sub in [*subscriptions.values(), untouched]:
        sub.refresh_from_db()
    closed = {status: subscriptions[status].status for status in STATES}
    assert closed == {
        "pending": "rejected",
        "approved": "revoked",
        "suspended": "revoked",
        "rejected": "rejected",
        "revoked": "revoked",
    }
    for status in ("pending", "approved", "suspended"):
        sub = subscriptions[status]
        assert sub.reason == "Ledger was retired by Acme: it no longer answers."
        assert sub.decided_by == admin.user
    assert subscriptions["rejected"].reason == "earlier"
    assert untouched.status == Status.APPROVED

    told = Notification.objects.order_by("user__username")
    assert [n.user.username for n in told] == ["asks-approved", "asks-pending", "asks-suspended"]
    assert all("Ledger" in n.subject for n in told)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "approved@globex.example",
        "pending@globex.example",
        "suspended@globex.example",
    ]
    assert "it no longer answers" in mail.outbox[0].body
    actions = sorted(AuditEvent.objects.filter(action__startswith="subscription.").values_list("action", "tenant"))
    assert actions == sorted(
        [(f"subscription.{verb}", tenant) for verb in ("reject", "revoke", "revoke")
         for tenant in (published.tenant_id, subscriptions["pending"].app.tenant_id)]
    )  # fmt: skip


def test_a_refused_retirement_closes_nothing(published, subscriptions, members, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(NotPermitted):
        service_set_lifecycle(service=published, actor_membership=members["developer"], lifecycle="retired")
    assert dict(Subscription.objects.values_list("status", "status")) == {status: status for status in STATES}
    assert (Notification.objects.count(), len(mail.outbox)) == (0, 0)


def test_the_api_deprecates_with_a_sunset_date_and_names_a_bad_one(published, admin, api_client_for):
    api = api_client_for(admin.user)
    url = f"{API}/tenants/acme/services/ledger/deprecate/"
    refused = api.post(url, {"sunset_on": str(_in(-1))}, format="json")
    assert refused.status_code == 400
    assert "sunset_on" in refused.json()["errors"]
    malformed = api.post(url, {"sunset_on": "next tuesday"}, format="json")
    assert malformed.status_code == 400
    assert "sunset_on" in malformed.json()["errors"]

    answer = api.post(url, {"sunset_on": str(_in(60))}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["sunset_on"] == str(_in(60))
    published.refresh_from_db()
    assert published.sunset_on == _in(60)


def test_the_api_retires_and_closes_subscriptions_too(published, admin, subscriptions, api_client_for):
    answer = api_client_for(admin.user).post(f"{API}/tenants/acme/services/ledger/retire/")
    assert answer.status_code == 200
    subscriptions["approved"].refresh_from_db()
    assert subscriptions["approved"].status == Status.REVOKED
