"""The subscription, approval and notification endpoints of the management API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.access.models import Subscription, SubscriptionStatus
from apps.catalog.models import Lifecycle, Visibility
from apps.core.models import Notification
from apps.tenants.models import Role
from tests.factories import AppFactory, MembershipFactory, ServiceFactory
from tests.helpers import API, assert_field_error

pytestmark = pytest.mark.django_db

S = SubscriptionStatus
GLOBEX = f"{API}/tenants/globex"
ACME = f"{API}/tenants/acme"


def _ask(client, **overrides):
    body = {
        "app": "globex-bot",
        "service": "translate",
        "plan": "standard",
        "purpose": "Translate tickets",
        **overrides,
    }
    return client.post(f"{GLOBEX}/subscriptions/", body, format="json")


def test_requesting_a_subscription_answers_201_pending(api_client_for, mallory, other_app, plan):
    response = _ask(api_client_for(mallory))
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("app", "app_tenant", "service", "service_tenant", "plan", "status", "state")} == {
        "app": "globex-bot",
        "app_tenant": "globex",
        "service": "translate",
        "service_tenant": "acme",
        "plan": "standard",
        "status": "pending",
        "state": "pending",
    }
    assert (body["requested_by"], body["is_active"]) == ("mallory", False)


@pytest.mark.parametrize(
    ("visibility", "lifecycle"),
    [(Visibility.PRIVATE, Lifecycle.PUBLISHED), (Visibility.PUBLIC, Lifecycle.DRAFT), (Visibility.PUBLIC, "retired")],
)
def test_an_invisible_service_is_a_404_like_a_missing_one(
    api_client_for, mallory, other_app, service, plan, visibility, lifecycle
):
    service.visibility, service.lifecycle = visibility, lifecycle
    service.save()
    client = api_client_for(mallory)
    invisible, missing = _ask(client), _ask(client, service="no-such-service")
    assert invisible.status_code == 404
    assert (invisible.status_code, invisible.json()) == (missing.status_code, missing.json())
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"plan": "gold"}, "plan"),
        ({"purpose": ""}, "purpose"),
        ({"app": "no-such-app"}, "app"),
        ({"plan": None}, "plan"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client_for, mallory, other_app, plan, overrides, field):
    assert_field_error(_ask(api_client_for(mallory), **overrides), field)


def test_a_retired_own_service_is_refused_naming_the_service(api_client_for, owner, app, service, plan):
    service.lifecycle = Lifecycle.RETIRED
    service.save()
    body = {"app": app.slug, "service": "translate", "plan": "standard", "purpose": "x"}
    response = api_client_for(owner).post(f"{ACME}/subscriptions/", body, format="json")
    assert "retired" in assert_field_error(response, "service")["message"]


def test_a_second_open_request_is_a_409(api_client_for, mallory, subscription):
    response = _ask(api_client_for(mallory))
    assert response.status_code == 409
    assert response.json()["status"] == "pending approval"


def test_a_viewer_cannot_request(api_client_for, other_tenant, plan):
    viewer = MembershipFactory(tenant=other_tenant, role=Role.VIEWER).user
    assert _ask(api_client_for(viewer)).status_code == 403


def test_each_side_lists_its_own_view(api_client_for, mallory, owner, make_subscription, tenant, service, plan):
    mine = make_subscription()
    internal = make_subscription(app=AppFactory(tenant=tenant, slug="internal"), status=S.APPROVED)
    assert [row["id"] for row in api_client_for(mallory).get(f"{GLOBEX}/subscriptions/").json()["results"]] == [mine.pk]
    assert api_client_for(mallory).get(f"{GLOBEX}/approvals/").json()["results"] == []
    approvals = api_client_for(owner).get(f"{ACME}/approvals/?status=pending").json()["results"]
    assert [row["id"] for row in approvals] == [mine.pk]
    everything = api_client_for(owner).get(f"{ACME}/approvals/").json()["results"]
    assert {row["id"] for row in everything} == {mine.pk, internal.pk}


def test_an_approval_row_shows_who_asks_and_the_projected_cost(api_client_for, owner, subscription):
    row = api_client_for(owner).get(f"{ACME}/approvals/{subscription.pk}/").json()
    assert (row["app_tenant_name"], row["app_name"], row["requested_by"]) == ("Globex", "Globex bot", "mallory")
    assert row["purpose"] == "Translate support tickets"
    assert row["cost_projection"] == {
        "monthly_requests": 30_000,
        "requests_basis": "requests_per_day * 30",
        "tokens_per_call": 1000,
        "price_per_mtok": "0.000000",
        "priced_deployments": 1,
        "uncapped_cost": "0.00",
        "monthly_budget": None,
        "capped_by_budget": False,
        "monthly_cost": "0.00",
    }


def test_the_expired_filter_finds_approved_subscriptions_past_their_expiry(api_client_for, owner, make_subscription):
    expired = make_subscription(S.APPROVED, expires_at=timezone.now() - timedelta(minutes=1))
    rows = api_client_for(owner).get(f"{ACME}/approvals/?status=expired").json()["results"]
    assert [(row["id"], row["status"], row["state"], row["is_active"]) for row in rows] == [
        (expired.pk, "approved", "expired", False)
    ]


def test_approving_with_a_time_box(api_client_for, owner, subscription):
    response = api_client_for(owner).post(f"{ACME}/approvals/{subscription.pk}/approve/", {"expires_in_days": 30})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["decided_by"]) == ("approved", "owner-user")
    assert response.json()["expires_at"] is not None


@pytest.mark.parametrize(
    ("status", "action", "body", "expected"),
    [
        (S.PENDING, "reject", {"reason": "No"}, "rejected"),
        (S.APPROVED, "suspend", {"reason": "Abuse"}, "suspended"),
        (S.SUSPENDED, "resume", None, "approved"),
        (S.SUSPENDED, "revoke", {"reason": "Ended"}, "revoked"),
    ],
)
def test_each_decision_endpoint(api_client_for, owner, make_subscription, status, action, body, expected):
    subscription = make_subscription(status)
    response = api_client_for(owner).post(f"{ACME}/approvals/{subscription.pk}/{action}/", body, format="json")
    assert (response.status_code, response.json()["status"]) == (200, expected)


def test_renewing_extends_the_expiry(api_client_for, owner, make_subscription):
    subscription = make_subscription(S.APPROVED, expires_at=timezone.now() + timedelta(days=1))
    response = api_client_for(owner).post(f"{ACME}/approvals/{subscription.pk}/renew/", {"days": 10})
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.expires_at > timezone.now() + timedelta(days=10)


@pytest.mark.parametrize("body", [None, {}, {"reason": ""}, {"reason": "   "}])
def test_a_reject_without_reason_is_a_400_naming_reason(api_client_for, owner, subscription, body):
    response = api_client_for(owner).post(f"{ACME}/approvals/{subscription.pk}/reject/", body, format="json")
    assert_field_error(response, "reason")
    subscription.refresh_from_db()
    assert subscription.status == S.PENDING


def test_a_wrong_state_is_a_409_naming_the_current_state(api_client_for, owner, make_subscription):
    subscription = make_subscription(S.REVOKED)
    response = api_client_for(owner).post(f"{ACME}/approvals/{subscription.pk}/resume/")
    assert response.status_code == 409
    assert "revoked" in response.json()["message"]
    assert response.json()["status"] == "revoked"


@pytest.mark.parametrize(("role", "status_code"), [(Role.DEVELOPER, 403), (Role.VIEWER, 403), (Role.ADMIN, 200)])
def test_who_may_decide_through_the_api(api_client_for, members, subscription, role, status_code):
    response = api_client_for(members[role].user).post(f"{ACME}/approvals/{subscription.pk}/approve/")
    assert response.status_code == status_code


def test_the_requesting_tenant_cannot_decide_on_its_own_request(api_client_for, mallory, subscription):
    client = api_client_for(mallory)
    assert client.post(f"{GLOBEX}/approvals/{subscription.pk}/approve/").status_code == 404
    assert client.post(f"{ACME}/approvals/{subscription.pk}/approve/").status_code == 404
    assert client.get(f"{GLOBEX}/subscriptions/{subscription.pk}/").status_code == 200  # but it sees it
    subscription.refresh_from_db()
    assert subscription.status == S.PENDING


def test_a_third_tenant_sees_none_of_it(api_client_for, subscription):
    stranger = MembershipFactory(role=Role.OWNER)
    client = api_client_for(stranger.user)
    base = f"{API}/tenants/{stranger.tenant.slug}"
    assert client.get(f"{base}/subscriptions/{subscription.pk}/").status_code == 404
    assert client.get(f"{base}/approvals/{subscription.pk}/").status_code == 404
    assert client.get(f"{ACME}/approvals/").status_code == 404


def test_notifications_are_listed_and_read_by_their_recipient_only(api_client_for, owner, mallory):
    mine = Notification.objects.create(user=mallory, subject="For Mallory")
    theirs = Notification.objects.create(user=owner, subject="For the owner")
    client = api_client_for(mallory)
    assert [row["subject"] for row in client.get(f"{API}/me/notifications/").json()["results"]] == ["For Mallory"]
    assert client.post(f"{API}/me/notifications/{theirs.pk}/read/").status_code == 404
    response = client.post(f"{API}/me/notifications/{mine.pk}/read/")
    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    assert client.get(f"{API}/me/notifications/?unread=true").json()["results"] == []
    Notification.objects.create(user=mallory, subject="Another")
    assert client.post(f"{API}/me/notifications/read-all/").status_code == 204
    assert not Notification.objects.filter(user=mallory, read_at__isnull=True).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_a_service_shared_with_the_requesting_tenant_can_be_asked_for(api_client_for, mallory, other_app):
    shared = ServiceFactory(slug="shared-svc", visibility=Visibility.SHARED)
    shared.shared_with.set([other_app.tenant])
    shared.plans.create(slug="standard", name="Standard")
    assert _ask(api_client_for(mallory), service="shared-svc").status_code == 201
