"""GET …/tenants/<t>/subscriptions/<id>/usage: a subscription's usage against its plan and the limit sets of its
app, key and tenant, counted here from calls recorded through the analytics service (the call-log reader). Acme
publishes translate; Globex's globex-bot is subscribed to its Limited plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from guardian.shortcuts import assign_perm

from apps.access.models import LimitSet, SubscriptionStatus
from apps.access.services import api_key_issue
from apps.tenants.models import Role
from tests.access.usage_fixtures import NOW, call_log_reader, frozen_now, record_calls  # noqa: F401
from tests.factories import AppFactory, MembershipFactory, PlanFactory, TenantFactory
from tests.helpers import API

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now", "call_log_reader")]

MONTH_START = NOW.replace(day=1, hour=0, minute=0, second=0)
NEXT_MONTH = (MONTH_START + timedelta(days=32)).replace(day=1)


@pytest.fixture
def limited_plan(service):
    return PlanFactory(
        service=service,
        slug="limited",
        name="Limited",
        requests_per_minute=10,
        tokens_per_minute=1000,
        requests_per_day=100,
        requests_per_month=2000,
        daily_budget=Decimal("2.00"),
        monthly_budget=Decimal("50.00"),
        budget_alert_percent=80,
    )


@pytest.fixture
def subscribed(make_subscription, limited_plan):
    return make_subscription(SubscriptionStatus.APPROVED, plan=limited_plan)


def _usage(client, subscription_id, tenant: str = "globex"):
    return client.get(f"{API}/tenants/{tenant}/subscriptions/{subscription_id}/usage")


def _limits(scope: dict) -> dict[str, dict]:
    return {limit["metric"]: limit for limit in scope["limits"]}


def test_the_plan_limits_show_what_is_used_remaining_and_when_it_resets(api_client_for, mallory, subscribed):
    app, service = subscribed.app, subscribed.service
    ours = {"tenant_id": app.tenant_id, "app_id": app.pk, "service_id": service.pk}
    record_calls(3, at=NOW.replace(second=1), tokens=40, cost="0.10", **ours)  # this minute
    record_calls(2, at=NOW - timedelta(hours=2), tokens=500, cost="0.25", **ours)  # earlier today
    record_calls(4, at=MONTH_START + timedelta(hours=1), cost="1.00", **ours)  # earlier this month (the 1st)
    record_calls(7, at=MONTH_START - timedelta(hours=1), cost="9.00", **ours)  # last month: counts no more
    record_calls(1, at=NOW.replace(second=2), status=429, error_type="rate_limit_exceeded", **ours)  # refused
    record_calls(5, at=NOW.replace(second=3), cost="3.00", tenant_id=app.tenant_id, app_id=app.pk)  # no service
    # The semantic cache's own embeddings: the gateway's calls, which its counters do not count either.
    record_calls(2, at=NOW.replace(second=4), tokens=30, cost="0.50", endpoint="semantic_cache", **ours)

    response = _usage(api_client_for(mallory), subscribed.pk)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["subscription"], body["app"], body["service"], body["status"]) == (
        subscribed.pk,
        "globex-bot",
        "translate",
        "approved",
    )
    assert body["source"] == "call_log"
    assert datetime.fromisoformat(body["as_of"]) == NOW
    plan = body["plan"]
    assert (plan["kind"], plan["name"], plan["alert_percent"]) == ("plan", "Limited", 80)
    limits = _limits(plan)
    assert list(limits) == [
        "requests_per_minute",
        "tokens_per_minute",
        "requests_per_day",
        "requests_per_month",
        "budget_per_day",
        "budget_per_month",
    ]
    minute_end, day_end = NOW.replace(minute=31, second=0), NOW.replace(hour=0, minute=0, second=0) + timedelta(days=1)
    expected = {
        "requests_per_minute": ("minute", "requests", 10, 3, 7, 30.0, minute_end),
        "tokens_per_minute": ("minute", "tokens", 1000, 120, 880, 12.0, minute_end),
        "requests_per_day": ("day", "requests", 100, 5, 95, 5.0, day_end),
        "requests_per_month": ("month", "requests", 2000, 9, 1991, 0.45, NEXT_MONTH),
        "budget_per_day": ("day", "USD", 2.0, 0.8, 1.2, 40.0, day_end),
        "budget_per_month": ("month", "USD", 50.0, 4.8, 45.2, 9.6, NEXT_MONTH),
    }
    for metric, (period, unit, limit, used, remaining, percent, resets_at) in expected.items():
        got = limits[metric]
        assert (got["period"], got["unit"], got["limit"], got["used"]) == (period, unit, limit, used), metric
        assert (got["remaining"], got["percent"]) == (pytest.approx(remaining), percent), metric
        assert datetime.fromisoformat(got["resets_at"]) == resets_at.astimezone(UTC), metric
    assert body["also_applies"] == []


def test_the_limit_sets_of_the_app_its_keys_and_its_tenant_also_apply(api_client_for, mallory, subscribed):
    app = subscribed.app
    key, _ = api_key_issue(app=app, name="ci", actor_membership=None)
    sibling = AppFactory(tenant=app.tenant, slug="sibling")
    LimitSet.objects.create(tenant=app.tenant, app=app, requests_per_day=50)
    LimitSet.objects.create(tenant=app.tenant, api_key=key, requests_per_minute=5)
    LimitSet.objects.create(tenant=app.tenant, budget_per_month=Decimal("100"), budget_alert_percent=90)
    LimitSet.objects.create(tenant=app.tenant, app=sibling, requests_per_day=1)  # another app's: not listed
    LimitSet.objects.create(tenant=subscribed.service.tenant, requests_per_day=1)  # Acme's own: never listed
    record_calls(
        2, at=NOW.replace(second=5), cost="1.50", tenant_id=app.tenant_id, app_id=app.pk, key_prefix=key.prefix
    )
    record_calls(3, at=NOW - timedelta(hours=1), cost="0.50", tenant_id=app.tenant_id, app_id=app.pk)
    record_calls(4, at=NOW - timedelta(days=3), cost="2.00", tenant_id=app.tenant_id, app_id=sibling.pk)

    body = _usage(api_client_for(mallory), subscribed.pk).json()

    scopes = [(scope["kind"], scope["name"]) for scope in body["also_applies"]]
    assert scopes == [("app", "Globex bot"), ("key", key.prefix), ("tenant", "Globex")]
    app_scope, key_scope, tenant_scope = body["also_applies"]
    assert _limits(app_scope)["requests_per_day"] | {"resets_at": None} == {
        "metric": "requests_per_day",
        "period": "day",
        "unit": "requests",
        "limit": 50,
        "used": 5,
        "remaining": 45,
        "percent": 10.0,
        "resets_at": None,
    }
    assert (_limits(key_scope)["requests_per_minute"]["used"], key_scope["id"]) == (2, key.pk)
    tenant_budget = _limits(tenant_scope)["budget_per_month"]
    assert (tenant_budget["used"], tenant_budget["limit"], tenant_scope["alert_percent"]) == (12.5, 100.0, 90)


def _member(tenant, role):
    return MembershipFactory(tenant=tenant, role=role).user


@pytest.mark.parametrize(
    ("who", "url_tenant", "status"),
    [
        ("globex-viewer", "globex", 200),  # any member of the app's tenant
        ("acme-owner", "acme", 200),  # the service's approvers
        ("acme-admin", "acme", 200),
        ("acme-reviewer", "acme", 200),  # a developer holding catalog.approve_subscription on the service
        ("acme-developer", "acme", 403),  # a member of the service's tenant who does not approve
        ("acme-viewer", "acme", 403),
        ("acme-owner", "globex", 404),  # not a member of the app's tenant
        ("initech-owner", "initech", 404),  # another tenant altogether
    ],
)
def test_who_may_read_the_usage(api_client_for, members, subscribed, tenant, other_tenant, who, url_tenant, status):
    initech = TenantFactory(slug="initech")
    users = {
        "globex-viewer": _member(other_tenant, Role.VIEWER),
        "acme-owner": members[Role.OWNER].user,
        "acme-admin": members[Role.ADMIN].user,
        "acme-developer": members[Role.DEVELOPER].user,
        "acme-viewer": members[Role.VIEWER].user,
        "acme-reviewer": _member(tenant, Role.DEVELOPER),
        "initech-owner": _member(initech, Role.OWNER),
    }
    assign_perm("catalog.approve_subscription", users["acme-reviewer"], subscribed.service)
    response = _usage(api_client_for(users[who]), subscribed.pk, tenant=url_tenant)
    assert response.status_code == status, response.content


def test_another_tenants_subscription_is_a_404_like_an_unknown_id(api_client_for, subscribed, other_tenant):
    initech = TenantFactory(slug="initech")
    owner = _member(initech, Role.OWNER)
    theirs = _usage(api_client_for(owner), subscribed.pk, tenant="initech")
    unknown = _usage(api_client_for(owner), subscribed.pk + 1000, tenant="initech")
    garbage = _usage(api_client_for(owner), "x1", tenant="initech")
    assert theirs.status_code == unknown.status_code == garbage.status_code == 404
    assert theirs.json() == unknown.json() == garbage.json()


def test_an_anonymous_caller_is_refused(api_client, subscribed):
    assert _usage(api_client, subscribed.pk).status_code in (401, 403)


def test_a_plan_without_limits_has_none_to_show(api_client_for, mallory, make_subscription, service):
    open_plan = PlanFactory(service=service, slug="open")
    subscription = make_subscription(SubscriptionStatus.APPROVED, plan=open_plan)
    body = _usage(api_client_for(mallory), subscription.pk).json()
    assert (body["plan"]["limits"], body["plan"]["alert_percent"], body["also_applies"]) == ([], None, [])


def test_times_are_utc_whatever_the_portals_time_zone(api_client_for, mallory, subscribed, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    body = _usage(api_client_for(mallory), subscribed.pk).json()
    day = _limits(body["plan"])["requests_per_day"]
    assert day["resets_at"] == (NOW.replace(hour=0, minute=0, second=0) + timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert body["as_of"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_services_approvers_see_the_plan_and_not_the_subscribing_tenants_own_limits(
    api_client_for, owner, subscribed
):
    app = subscribed.app
    key, _ = api_key_issue(app=app, name="ci", actor_membership=None)
    LimitSet.objects.create(tenant=app.tenant, app=app, requests_per_day=50)
    LimitSet.objects.create(tenant=app.tenant, api_key=key, requests_per_minute=5)
    LimitSet.objects.create(tenant=app.tenant, budget_per_month=Decimal("100"))
    record_calls(
        2, at=NOW - timedelta(minutes=5), tenant_id=app.tenant_id, app_id=app.pk, service_id=subscribed.service_id
    )
    body = _usage(api_client_for(owner), subscribed.pk, tenant="acme").json()
    assert _limits(body["plan"])["requests_per_day"]["used"] == 2
    assert body["also_applies"] == []  # Globex's own limits, key prefixes included, stay Globex's
    assert key.prefix not in str(body)
