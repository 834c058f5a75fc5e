"""The usage panels: on the app page, per subscription that lets the app call (or did, until suspended), its usage
against each limit in words and as a labelled bar, with when it resets (in words and as a <time>), refreshed by
htmx; on the approval cards, next to the plan's limits. Counted from recorded calls (the call-log reader), on a
clock frozen mid-month (tests/access/usage_fixtures.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.access.models import SubscriptionStatus
from tests.access.usage_fixtures import NOW, call_log_reader, frozen_now, record_calls  # noqa: F401
from tests.factories import AppFactory, PlanFactory, ServiceFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now", "call_log_reader")]

S = SubscriptionStatus
HTMX = {"HX-Request": "true"}
PAGE = "/apps/globex-bot/"


@pytest.fixture
def quota_plan(service):
    return PlanFactory(
        service=service,
        slug="quota",
        name="Quota",
        requests_per_day=100,
        requests_per_minute=2,
        daily_budget=Decimal(1),
    )


@pytest.fixture
def subscribed(make_subscription, quota_plan):
    subscription = make_subscription(S.APPROVED, plan=quota_plan)
    where = {
        "tenant_id": subscription.app.tenant_id,
        "app_id": subscription.app_id,
        "service_id": quota_plan.service_id,
    }
    record_calls(3, at=NOW.replace(second=4), cost="0.05", **where)  # this minute: over the limit of 2
    record_calls(2, at=NOW - timedelta(hours=3), cost="0.10", **where)
    return subscription


def _panel(html: str, subscription) -> str:
    return html.split(f'id="subscription-usage-{subscription.pk}"')[1].split("</article>")[0]


def _meter(panel: str, label: str) -> str:
    return panel.split(f">{label}</span>")[1].split("</li>")[0]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_app_page_shows_each_limit_used_left_and_when_it_resets(client_for, mallory, subscribed):
    html = client_for(mallory).get(PAGE).content.decode()

    panel = _panel(html, subscribed)
    day = _meter(panel, "Requests today")
    assert "5 requests of 100 requests (5 %), 95 requests left" in _text(day)
    assert "Resets in 11 h 29 min" in _text(day)  # 12:30:20 to midnight UTC
    tomorrow = (NOW + timedelta(days=1)).strftime("%Y-%m-%d")
    assert f'<time datetime="{tomorrow}T00:00:00+00:00">{tomorrow} 00:00 UTC</time>' in day
    minute = _meter(panel, "Requests this minute")
    assert "3 requests of 2 requests (150 %, limit reached), 0 requests left" in _text(minute)  # words, not color
    assert "Resets in 40 s" in _text(minute)
    spend = _meter(panel, "Spend today")
    assert "$0.35 of $1.00 (35 %), $0.65 left" in _text(spend)
    # Each bar is named by its limit's label, and the panel asks for itself again every minute.
    bar = re.search(r'<span id="([^"]+)">Requests today</span>', panel).group(1)
    assert f'aria-labelledby="{bar}"' in day
    assert f'hx-get="/apps/globex-bot/subscriptions/{subscribed.pk}/usage/" hx-trigger="every 60s"' in html


def test_the_panel_comes_alone_for_htmx_and_only_for_the_apps_own_subscriptions(
    client_for, mallory, subscribed, other_tenant, service
):
    client = client_for(mallory)
    fragment = client.get(f"/apps/globex-bot/subscriptions/{subscribed.pk}/usage/", headers=HTMX)
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert text.lstrip().startswith("<article")
    assert "<html" not in text
    assert "5 requests of 100 requests" in _text(text)
    AppFactory(tenant=other_tenant, slug="other-bot")
    assert client.get(f"/apps/other-bot/subscriptions/{subscribed.pk}/usage/").status_code == 404


def test_another_tenant_cannot_read_the_panel(client_for, owner, subscribed):
    # Acme publishes the service, but the app page is Globex's: Acme's members get a 404, as for any unknown app.
    assert client_for(owner).get(f"/apps/globex-bot/subscriptions/{subscribed.pk}/usage/").status_code == 404


def test_only_subscriptions_that_call_have_a_usage_panel(client_for, mallory, make_subscription, other_tenant):
    classify = ServiceFactory(tenant=other_tenant, slug="classify", name="Classify")
    pending = make_subscription(service=classify, plan=PlanFactory(service=classify, requests_per_day=5))
    html = client_for(mallory).get(PAGE).content.decode()
    assert f'id="subscription-usage-{pending.pk}"' not in html
    assert "Limits and quotas" not in html


def test_a_plan_without_limits_says_so(client_for, mallory, make_subscription, service):
    subscription = make_subscription(S.APPROVED, plan=PlanFactory(service=service, slug="open", name="Open"))
    panel = _panel(client_for(mallory).get(PAGE).content.decode(), subscription)
    assert "The Open plan sets no quota, rate limit or budget." in panel


def test_the_approver_sees_current_usage_next_to_the_plans_limits(client_for, owner, subscribed):
    html = client_for(owner).get("/approvals/?status=approved").content.decode()
    card = html.split(f'id="subscription-{subscribed.pk}"')[1].split("</article>")[0]
    plan_section = card.split("<h3>Plan Quota</h3>")[1].split("</section>")[0]
    assert "Used now" in plan_section
    assert "5 requests of 100 requests (5 %), 95 requests left" in _text(plan_section)


def test_renewing_answers_the_card_with_the_usage(client_for, owner, make_subscription, quota_plan):
    subscription = make_subscription(S.APPROVED, plan=quota_plan, expires_at=NOW + timedelta(days=3))
    where = {
        "tenant_id": subscription.app.tenant_id,
        "app_id": subscription.app_id,
        "service_id": quota_plan.service_id,
    }
    record_calls(7, at=NOW - timedelta(hours=1), **where)
    response = client_for(owner).post(f"/approvals/{subscription.pk}/renew/", {"days": 30}, headers=HTMX)
    assert response.status_code == 200
    assert "Subscription renewed." in response.content.decode()
    assert "7 requests of 100 requests (7 %), 93 requests left" in _text(response.content.decode())


def test_a_pending_request_has_no_usage_on_its_card(client_for, owner, subscription):
    html = client_for(owner).get("/approvals/").content.decode()
    assert "Used now" not in html
