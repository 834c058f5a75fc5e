"""The app's side ends a subscription through the management API, by the same service and rules as the app page:
POST …/tenants/<app's tenant>/subscriptions/<id>/cancel/. Globex's globex-bot subscribes to Acme's translate."""

from __future__ import annotations

import pytest

from apps.access.models import SubscriptionStatus
from apps.core.models import AuditEvent
from apps.tenants.models import Role
from tests.factories import MembershipFactory
from tests.helpers import API

pytestmark = pytest.mark.django_db

S = SubscriptionStatus


def _cancel(client, subscription, tenant: str = "globex"):
    return client.post(f"{API}/tenants/{tenant}/subscriptions/{subscription.pk}/cancel/", format="json")


@pytest.mark.parametrize(("status", "action"), [(S.PENDING, "cancel"), (S.APPROVED, "unsubscribe")])
def test_whoever_manages_the_app_cancels_its_subscription(api_client_for, mallory, make_subscription, status, action):
    subscription = make_subscription(status)
    response = _cancel(api_client_for(mallory), subscription)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["is_active"]) == ("cancelled", False)
    subscription.refresh_from_db()
    assert subscription.status == S.CANCELLED
    assert AuditEvent.objects.filter(action=f"subscription.{action}", object_id=str(subscription.pk)).count() == 2


def test_a_closed_subscription_is_a_409_that_says_why(api_client_for, mallory, make_subscription):
    subscription = make_subscription(S.REVOKED, reason="Contract ended")
    response = _cancel(api_client_for(mallory), subscription)
    assert response.status_code == 409
    assert "only pending, approved or suspended subscriptions can be cancelled" in response.json()["message"]
    subscription.refresh_from_db()
    assert subscription.status == S.REVOKED


def test_a_viewer_gets_403_and_the_services_tenant_404(api_client_for, owner, make_subscription, other_tenant):
    subscription = make_subscription(S.APPROVED)
    viewer = MembershipFactory(tenant=other_tenant, role=Role.VIEWER).user
    assert _cancel(api_client_for(viewer), subscription).status_code == 403
    assert _cancel(api_client_for(owner), subscription, tenant="acme").status_code == 404
    assert _cancel(api_client_for(owner), subscription).status_code == 404  # not a member of Globex
    subscription.refresh_from_db()
    assert subscription.status == S.APPROVED


def test_an_anonymous_caller_is_refused(api_client, make_subscription):
    subscription = make_subscription()
    assert _cancel(api_client, subscription).status_code in (401, 403)
    subscription.refresh_from_db()
    assert subscription.status == S.PENDING
