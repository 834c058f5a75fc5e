"""The web pages: the approval queue, my apps' subscriptions with the request form, and notifications."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from apps.access.models import Subscription, SubscriptionStatus
from apps.core.models import Notification
from apps.tenants.models import Role
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db

S = SubscriptionStatus
HTMX = {"HX-Request": "true"}


def test_the_queue_shows_who_asks_why_the_plan_and_the_cost_arithmetic(client_for, owner, subscription, echo_model):
    echo_model.input_price_per_mtok, echo_model.output_price_per_mtok = Decimal(2), Decimal(4)
    echo_model.save()
    response = client_for(owner).get("/approvals/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ["Globex", "Globex bot", "mallory", "Translate support tickets", "Standard", "1,000/day"]:
        assert text in html, text
    # 30,000 requests a month * 1,000 tokens * 3 per 1M tokens = 90
    for text in ["30,000 requests", "requests_per_day * 30", "1,000 tokens per call", "$3 per 1M tokens", "$90.00"]:
        assert text in html, text
    assert f'hx-post="/approvals/{subscription.pk}/approve/"' in html
    assert f'hx-post="/approvals/{subscription.pk}/reject/"' in html


@pytest.mark.parametrize(
    ("daily", "monthly", "fallback", "line"),
    [
        (None, None, "", "Budget: none"),
        (Decimal(2), None, "", "Budget: $2.00/day"),
        (None, Decimal(50), "cheap", "Budget: $50.00/month, then cheap"),
        (Decimal(2), Decimal(50), "cheap", "Budget: $2.00/day $50.00/month, then cheap"),
    ],
)
def test_the_card_shows_the_plans_budgets_of_the_day_and_the_month(
    client_for, owner, subscription, plan, daily, monthly, fallback, line
):
    plan.daily_budget, plan.monthly_budget, plan.over_budget_route = daily, monthly, fallback
    plan.save()
    assert line in client_for(owner).get("/approvals/").content.decode()


def test_the_queue_lists_pending_requests_by_default_and_others_on_demand(client_for, owner, make_subscription):
    pending = make_subscription()
    revoked = make_subscription(S.REVOKED, reason="Contract ended")
    client = client_for(owner)
    assert [card["subscription"] for card in client.get("/approvals/").context["cards"]] == [pending]
    assert [card["subscription"] for card in client.get("/approvals/?status=revoked").context["cards"]] == [revoked]
    assert len(client.get("/approvals/?status=all").context["cards"]) == 2


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_the_queue_is_for_owners_and_admins(client_for, members, subscription, role):
    client = client_for(members[role].user)
    assert client.get("/approvals/").status_code == 403
    assert client.post(f"/approvals/{subscription.pk}/approve/", headers=HTMX).status_code == 403
    assert Subscription.objects.get().status == S.PENDING


def test_approving_with_htmx_answers_the_card_and_tells_the_requester(
    client_for, members, subscription, mallory, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(members[Role.ADMIN].user).post(
            f"/approvals/{subscription.pk}/approve/", {"expires_in_days": "90"}, headers=HTMX
        )
    assert response.status_code == 200
    assert response.templates[0].name == "access/_approval_card.html"
    html = response.content.decode()
    assert "Subscription approved." in html
    assert f'hx-post="/approvals/{subscription.pk}/suspend/"' in html
    subscription.refresh_from_db()
    assert subscription.is_active
    assert subscription.expires_at is not None
    assert [m.to for m in mail.outbox] == [[mallory.email]]


def test_a_reject_without_reason_shows_the_error_in_place(client_for, owner, subscription):
    response = client_for(owner).post(f"/approvals/{subscription.pk}/reject/", {"reason": ""}, headers=HTMX)
    assert response.status_code == 400
    assert "Say why the subscription is rejected" in response.content.decode()
    assert Subscription.objects.get().status == S.PENDING


def test_a_decision_in_the_wrong_state_is_a_409_in_place(client_for, owner, make_subscription):
    subscription = make_subscription(S.REJECTED)
    response = client_for(owner).post(f"/approvals/{subscription.pk}/revoke/", {"reason": "x"}, headers=HTMX)
    assert response.status_code == 409
    assert "This subscription is rejected" in response.content.decode()


def test_without_htmx_a_decision_redirects_with_a_message(client_for, owner, make_subscription):
    subscription = make_subscription(S.SUSPENDED)
    response = client_for(owner).post(f"/approvals/{subscription.pk}/resume/", follow=True)
    assert response.redirect_chain == [("/approvals/", 302)]
    assert "resumed" in response.content.decode()


def test_an_unknown_decision_or_a_foreign_subscription_is_a_404(client_for, owner, mallory, subscription):
    assert client_for(owner).post(f"/approvals/{subscription.pk}/delete/").status_code == 404
    assert client_for(mallory).post(f"/approvals/{subscription.pk}/approve/").status_code == 404


def test_my_subscriptions_page_lists_my_apps_subscriptions_and_their_states(client_for, mallory, make_subscription):
    make_subscription(S.REJECTED, reason="Not for bots")
    html = client_for(mallory).get("/subscriptions/").content.decode()
    assert "Translate" in html
    assert "Rejected" in html
    assert "Not for bots" in html


def test_requesting_from_the_page(client_for, mallory, other_app, plan, service):
    free = PlanFactory(service=service, slug="free", name="Free")
    client = client_for(mallory)
    choices = dict(client.get("/subscriptions/").context["form"].fields["plan"].choices)
    assert choices == {"Translate (Acme)": [(str(free.pk), "Free"), (str(plan.pk), "Standard")]}
    body = {"app": other_app.slug, "plan": str(plan.pk), "purpose": "Translate tickets"}
    response = client.post("/subscriptions/", body, follow=True)
    assert response.redirect_chain == [("/subscriptions/", 302)]
    assert "waiting for approval" in response.content.decode()
    assert Subscription.objects.get().purpose == "Translate tickets"


def test_a_request_without_purpose_stays_on_the_form_with_the_error(client_for, mallory, other_app, plan):
    response = client_for(mallory).post("/subscriptions/", {"app": other_app.slug, "plan": str(plan.pk)})
    assert response.status_code == 400
    assert "Say what the app needs the service for" in response.context["form"].errors["purpose"][0]
    assert not Subscription.objects.exists()


def test_a_duplicate_request_from_the_page_is_a_409(client_for, mallory, other_app, plan, subscription):
    body = {"app": other_app.slug, "plan": str(plan.pk), "purpose": "again"}
    assert client_for(mallory).post("/subscriptions/", body).status_code == 409


def test_the_bell_counts_unread_notifications_and_the_list_marks_them_read(client_for, mallory):
    first = Notification.objects.create(user=mallory, subject="Approved", link="/subscriptions/")
    Notification.objects.create(user=mallory, subject="Renewed")
    client = client_for(mallory)
    html = client.get("/notifications/").content.decode()
    assert "Notifications: 2 unread" in html
    assert "Approved" in html
    response = client.post(f"/notifications/{first.pk}/read/", headers=HTMX)
    assert response.status_code == 200
    assert 'hx-swap-oob="true"' in response.content.decode()
    assert "Notifications: 1 unread" in response.content.decode()
    client.post("/notifications/read-all/")
    assert "Notifications: 0 unread" in client.get("/notifications/").content.decode()


def test_someone_elses_notification_cannot_be_read(client_for, owner, mallory):
    theirs = Notification.objects.create(user=owner, subject="For the owner")
    assert client_for(mallory).post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert Notification.objects.get().read_at is None
