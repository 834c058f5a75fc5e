"""A subscription's usage as its app's owner reads it, after calls through the live gateway (uvicorn, Redis
counters, the fake OpenAI upstream): the API counts from the counters the gateway enforces — the calls are not
even in the call log yet — so what it shows is what the next call will be judged by."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from rest_framework.test import APIClient

from apps.access.models import Subscription, SubscriptionStatus
from apps.access.services import api_key_issue
from apps.analytics.models import CallLog
from apps.catalog.models import Plan, Service
from apps.tenants.models import Role
from tests.factories import AppFactory, MembershipFactory, TenantFactory
from tests.gateway.conftest import refresh_snapshot
from tests.gateway.policies.conftest import clean_counters, wait_for_room  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_counters")]

MICRO = Decimal("0.000001")


@pytest.fixture
def subscribed(gateway_setup):
    """Acme's model API `chat` on route smart, plan Metered; Globex's globex-bot subscribed, with a key."""
    service = Service.objects.create(
        tenant=gateway_setup.tenant, slug="chat", name="Chat", kind="model", visibility="public",
        lifecycle="published", route=gateway_setup.route,
    )  # fmt: skip
    plan = Plan.objects.create(
        service=service, slug="metered", name="Metered", requests_per_day=10, tokens_per_minute=10_000,
        daily_budget=Decimal("1.00"),
    )  # fmt: skip
    globex = TenantFactory(slug="globex", name="Globex")
    app = AppFactory(tenant=globex, slug="globex-bot")
    _, secret = api_key_issue(app=app, name="k", actor_membership=None)
    subscription = Subscription.objects.create(
        app=app, service=service, plan=plan, status=SubscriptionStatus.APPROVED, purpose="chat"
    )
    refresh_snapshot()
    return subscription, secret


def test_the_usage_is_read_from_the_gateways_live_counters(live_gateway, subscribed, fake_upstream):
    subscription, secret = subscribed
    fake_upstream.reply = "one two three"
    wait_for_room("minute", 6)
    wait_for_room("day", 15)
    answers = [
        httpx.post(
            f"{live_gateway}/v1/chat/completions",  # a model API is called by its slug as the model
            json={"model": "chat", "messages": [{"role": "user", "content": "hello there"}]},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        )
        for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200], answers[0].text
    assert not CallLog.objects.exists()  # flushed to the log later: the figures below are the live counters'

    reader = MembershipFactory(tenant=subscription.app.tenant, role=Role.VIEWER).user
    client = APIClient()
    client.force_authenticate(reader)
    body = client.get(f"/api/v1/tenants/globex/subscriptions/{subscription.pk}/usage").json()

    assert body["source"] == "gateway"
    limits = {limit["metric"]: limit for limit in body["plan"]["limits"]}
    assert (limits["requests_per_day"]["used"], limits["requests_per_day"]["remaining"]) == (3, 7)
    assert limits["tokens_per_minute"]["used"] == 3 * (2 + 3)  # the provider's tokens: 2 in, 3 out, each call
    per_call = (2 * Decimal("0.15") + 3 * Decimal("0.60")) / 1_000_000  # gpt-4o-mini's prices per 1M tokens
    spent = Decimal(str(limits["budget_per_day"]["used"]))
    assert 3 * per_call <= spent <= 3 * (per_call + MICRO)  # counted in whole micro-dollars, rounded up
