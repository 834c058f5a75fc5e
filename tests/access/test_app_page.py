"""The app page: its subscriptions (whoever manages the app withdraws a pending request or unsubscribes from an
approved service, through the subscription services, audited in both tenants) and its usage of the last 7 days,
read from the hourly rollups. Globex's app globex-bot subscribes to Acme's service translate (tests/access/conftest)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.access.models import Subscription, SubscriptionStatus
from apps.access.selectors import subscription_list_active
from apps.analytics.models import CallRollup, Granularity
from apps.core.models import AuditEvent, ConfigVersion
from apps.tenants.models import Role
from tests.factories import AppFactory, MembershipFactory, PlanFactory, ServiceFactory

pytestmark = pytest.mark.django_db

S = SubscriptionStatus
HTMX = {"HX-Request": "true"}
PAGE = "/apps/globex-bot/"


def _cancel_url(subscription: Subscription, app_slug: str = "globex-bot") -> str:
    return f"/apps/{app_slug}/subscriptions/{subscription.pk}/cancel/"


def _version() -> int:
    row = ConfigVersion.objects.filter(name="gateway").first()
    return row.version if row else 0


def test_the_page_lists_the_apps_subscriptions_with_the_action_each_state_allows(
    client_for, mallory, make_subscription, other_tenant
):
    make_subscription(S.APPROVED)
    classify = ServiceFactory(tenant=other_tenant, slug="classify", name="Classify")
    make_subscription(service=classify, plan=PlanFactory(service=classify))
    summarize = ServiceFactory(tenant=other_tenant, slug="summarize", name="Summarize")
    make_subscription(S.REJECTED, service=summarize, plan=PlanFactory(service=summarize), reason="Not for bots")
    html = client_for(mallory).get(PAGE).content.decode()
    rows = {sub.service.slug: html.split(f'id="app-subscription-{sub.pk}"')[1].split("</tr>")[0]
            for sub in Subscription.objects.all()}  # fmt: skip
    assert "Unsubscribe" in rows["translate"]
    assert "Cancel request" not in rows["translate"]
    assert "Cancel request" in rows["classify"]
    assert "Not for bots" in rows["summarize"]
    assert "<button" not in rows["summarize"]
    assert 'hx-confirm="Unsubscribe Globex bot from Translate?' in rows["translate"]


def test_an_app_without_subscriptions_is_sent_to_the_catalog(client_for, mallory, other_app):
    html = client_for(mallory).get(PAGE).content.decode()
    assert "not subscribed to any service yet" in html
    assert 'href="/catalog/" role="button"' in html


def test_withdrawing_a_pending_request_cancels_it_audits_both_tenants_and_answers_the_row(
    client_for, mallory, make_subscription, tenant, other_tenant
):
    subscription = make_subscription()
    before = _version()
    response = client_for(mallory).post(_cancel_url(subscription), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "The request of Globex bot for Translate is withdrawn." in html
    assert "Cancelled" in html
    assert "<button" not in html
    subscription.refresh_from_db()
    assert (subscription.status, subscription.decided_by) == (S.CANCELLED, mallory)
    assert subscription.reason == "Request withdrawn by mallory of Globex."
    events = AuditEvent.objects.filter(action="subscription.cancel", object_id=str(subscription.pk))
    assert sorted(event.tenant_id for event in events) == sorted([tenant.pk, other_tenant.pk])
    assert events.first().changes["status"] == [S.PENDING, S.CANCELLED]
    assert _version() > before


def test_unsubscribing_stops_the_app_calling_the_service(client_for, mallory, make_subscription):
    subscription = make_subscription(S.APPROVED)
    assert subscription in subscription_list_active()
    response = client_for(mallory).post(_cancel_url(subscription))
    assert response.status_code == 302
    assert response["Location"] == PAGE
    page = client_for(mallory).get(PAGE).content.decode()
    assert "Globex bot is unsubscribed from Translate: its keys no longer call it." in page
    subscription.refresh_from_db()
    assert subscription.status == S.CANCELLED
    assert subscription not in subscription_list_active()
    assert AuditEvent.objects.filter(action="subscription.unsubscribe", object_id=str(subscription.pk)).count() == 2


def test_a_suspended_subscription_can_be_left_too(client_for, mallory, make_subscription):
    subscription = make_subscription(S.SUSPENDED, reason="Abuse")
    assert client_for(mallory).post(_cancel_url(subscription), headers=HTMX).status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == S.CANCELLED


@pytest.mark.parametrize("status", [S.REJECTED, S.REVOKED, S.CANCELLED])
def test_a_closed_subscription_is_a_409_in_its_row_and_stays_as_it_was(client_for, mallory, make_subscription, status):
    subscription = make_subscription(status, reason="Closed before")
    response = client_for(mallory).post(_cancel_url(subscription), headers=HTMX)
    assert response.status_code == 409
    assert "only pending, approved or suspended subscriptions can be cancelled" in response.content.decode()
    subscription.refresh_from_db()
    assert (subscription.status, subscription.reason) == (status, "Closed before")
    assert not AuditEvent.objects.filter(action__in=["subscription.cancel", "subscription.unsubscribe"]).exists()


def test_a_developer_who_does_not_manage_the_app_sees_no_button_and_is_refused_in_place(
    client_for, make_subscription, other_tenant
):
    subscription = make_subscription(S.APPROVED)
    developer = MembershipFactory(tenant=other_tenant, role=Role.DEVELOPER).user
    client = client_for(developer)
    assert "Unsubscribe" not in client.get(PAGE).content.decode()
    response = client.post(_cancel_url(subscription), headers=HTMX)
    assert response.status_code == 403
    assert "You may not manage this app" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == S.APPROVED


def test_a_viewer_gets_403_and_nothing_changes(client_for, make_subscription, other_tenant):
    subscription = make_subscription()
    viewer = MembershipFactory(tenant=other_tenant, role=Role.VIEWER).user
    assert client_for(viewer).post(_cancel_url(subscription)).status_code == 403
    subscription.refresh_from_db()
    assert subscription.status == S.PENDING


def test_the_services_tenant_cannot_cancel_the_apps_subscription_from_here(client_for, owner, make_subscription):
    """Acme approves or revokes on its approval queue; the app page of Globex's app does not exist for it."""
    subscription = make_subscription(S.APPROVED)
    assert client_for(owner).post(_cancel_url(subscription)).status_code == 404
    subscription.refresh_from_db()
    assert subscription.status == S.APPROVED


def test_a_subscription_of_another_app_is_404_under_this_app(client_for, mallory, make_subscription, other_tenant):
    subscription = make_subscription()
    AppFactory(tenant=other_tenant, slug="second-bot")
    assert client_for(mallory).post(_cancel_url(subscription, "second-bot")).status_code == 404
    assert (
        client_for(mallory).post(f"/apps/globex-bot/subscriptions/{subscription.pk + 1000}/cancel/").status_code == 404
    )
    subscription.refresh_from_db()
    assert subscription.status == S.PENDING


def _hourly(tenant_id: int, app_id: int, service_id: int, hours_ago: int, calls: int, errors: int = 0) -> CallRollup:
    bucket = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)
    return CallRollup.objects.create(
        granularity=Granularity.HOUR, bucket=bucket, tenant_id=tenant_id, app_id=app_id, service_id=service_id,
        model="echo", calls=calls, errors=errors, prompt_tokens=100 * calls, completion_tokens=20 * calls,
        cost=Decimal("0.001") * calls,
    )  # fmt: skip


def test_usage_shows_the_last_7_days_per_service_from_the_rollups(
    client_for, mallory, other_app, other_tenant, service, tenant, app
):
    classify = ServiceFactory(tenant=other_tenant, slug="classify", name="Classify")
    _hourly(other_tenant.pk, other_app.pk, service.pk, hours_ago=0, calls=10, errors=2)
    _hourly(other_tenant.pk, other_app.pk, service.pk, hours_ago=24 * 6, calls=5)
    _hourly(other_tenant.pk, other_app.pk, classify.pk, hours_ago=30, calls=3)
    _hourly(other_tenant.pk, other_app.pk, 0, hours_ago=2, calls=1)  # /v1 on a route: no service
    _hourly(other_tenant.pk, other_app.pk, service.pk, hours_ago=24 * 7 + 1, calls=1000)  # older than 7 days
    _hourly(other_tenant.pk, AppFactory(tenant=other_tenant).pk, service.pk, hours_ago=1, calls=500)  # another app
    _hourly(tenant.pk, app.pk, service.pk, hours_ago=1, calls=700)  # Acme's own app
    response = client_for(mallory).get(PAGE)
    usage = response.context["usage"]
    assert [(row["name"], row["calls"], row["errors"]) for row in usage.services] == [
        ("Translate", 15, 2),
        ("Classify", 3, 0),
        ("Direct /v1 calls (no service)", 1, 0),
    ]
    assert usage.totals["calls"] == 19
    assert usage.totals["tokens"] == 19 * 120
    assert usage.totals["cost"] == Decimal("0.019")
    html = response.content.decode()
    assert "Usage, last 7 days" in html
    assert f'href="/analytics/?period=7d&amp;app={other_app.pk}"' in html


def test_usage_of_an_app_that_never_called_says_what_will_show(client_for, mallory, other_app):
    html = client_for(mallory).get(PAGE).content.decode()
    assert "No calls in the last 7 days." in html
