"""/api/v1/tenants/<t>/limits/: the limits and budgets of a tenant, an app or a key, validated at save (the field
named, 400), changed only by owners and admins, invisible to other tenants (404), seen by the gateway at once
(the configuration version moves with every write)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.access.models import LimitSet
from apps.core.models import ConfigVersion
from apps.core.services import GATEWAY_CONFIG
from apps.tenants.models import Role
from tests.factories import AppFactory, RouteFactory
from tests.helpers import API, assert_field_error

pytestmark = pytest.mark.django_db

LIMITS = f"{API}/tenants/acme/limits/"


def config_version() -> int:
    return ConfigVersion.objects.filter(name=GATEWAY_CONFIG).values_list("version", flat=True).first() or 0


@pytest.fixture
def admin_api(members, api_client_for):
    return api_client_for(members[Role.ADMIN].user)


@pytest.fixture
def cheap_route(tenant):
    return RouteFactory(tenant=tenant, alias="cheap")


def test_an_admin_sets_the_limits_of_the_tenant_an_app_and_a_key(admin_api, app, issued_key, cheap_route):
    key, _ = issued_key
    before = config_version()
    tenant_body = {"requests_per_minute": 600, "budget_per_month": "500.00", "budget_alert_percent": 80}
    response = admin_api.post(LIMITS, tenant_body, format="json")
    assert response.status_code == 201, response.content
    assert response.json() | tenant_body == response.json()
    assert response.json()["scope"] == "tenant"
    assert response.json()["budget_currency"] == "USD"
    assert config_version() == before + 1

    app_body = {"app": "billing-bot", "tokens_per_minute": 20000, "over_budget_route": "cheap"}
    response = admin_api.post(LIMITS, app_body, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["scope"], response.json()["app"], response.json()["over_budget_route"]) == (
        "app",
        "billing-bot",
        "cheap",
    )

    response = admin_api.post(LIMITS, {"api_key": key.prefix, "requests_per_day": 1000}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["scope"], response.json()["api_key"]) == ("key", key.prefix)

    listed = admin_api.get(LIMITS).json()["results"]
    assert sorted(row["scope"] for row in listed) == ["app", "key", "tenant"]
    assert config_version() == before + 3
    key_set = LimitSet.objects.get(api_key=key)
    assert (key_set.app_id, key_set.requests_per_day) == (None, 1000)


def test_an_update_clears_a_limit_with_null_and_a_delete_removes_the_set(admin_api, app, cheap_route):
    created = admin_api.post(LIMITS, {"app": "billing-bot", "requests_per_minute": 10, "over_budget_route": "cheap"})
    path = f"{LIMITS}{created.json()['id']}/"
    before = config_version()
    response = admin_api.patch(
        path, {"requests_per_minute": None, "budget_per_day": "2.50", "over_budget_route": ""}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["requests_per_minute"], body["budget_per_day"], body["over_budget_route"]) == (None, "2.50", None)
    assert LimitSet.objects.get().budget_per_day == Decimal("2.50")
    assert config_version() == before + 1
    assert admin_api.delete(path).status_code == 204
    assert not LimitSet.objects.exists()
    assert config_version() == before + 2


BAD_INPUT = [  # (id, body, field)
    ("rpm-negative", {"requests_per_minute": -1}, "requests_per_minute"),
    ("rpm-zero", {"requests_per_minute": 0}, "requests_per_minute"),
    ("tpm-zero", {"tokens_per_minute": 0}, "tokens_per_minute"),
    ("daily-quota-negative", {"requests_per_day": -1}, "requests_per_day"),
    ("monthly-quota-text", {"requests_per_month": "lots"}, "requests_per_month"),
    ("budget-negative", {"budget_per_day": "-1.00"}, "budget_per_day"),
    ("budget-too-precise", {"budget_per_month": "1.005"}, "budget_per_month"),
    ("currency-unknown", {"budget_per_month": "10", "budget_currency": "EUR"}, "budget_currency"),
    ("alert-zero", {"budget_alert_percent": 0}, "budget_alert_percent"),
    ("alert-over-100", {"budget_alert_percent": 101}, "budget_alert_percent"),
    ("route-of-another-tenant", {"over_budget_route": "globex-smart"}, "over_budget_route"),
    ("route-unknown", {"over_budget_route": "nope"}, "over_budget_route"),
    ("app-of-another-tenant", {"app": "globex-bot"}, "app"),
    ("key-unknown", {"api_key": "gwk_nothere"}, "api_key"),
    ("app-and-key", {"app": "billing-bot", "api_key": "1"}, "api_key"),
]


@pytest.mark.parametrize(("body", "field"), [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUT])
def test_bad_limits_are_refused_naming_the_field(admin_api, app, other_app, other_route, body, field):
    before = config_version()
    assert_field_error(admin_api.post(LIMITS, body, format="json"), field)
    assert not LimitSet.objects.exists()
    assert config_version() == before


@pytest.mark.parametrize(("body", "field"), [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUT[:12]])
def test_bad_values_are_refused_on_update_too(admin_api, app, other_route, body, field):
    created = admin_api.post(LIMITS, {"requests_per_minute": 5}, format="json").json()
    assert_field_error(admin_api.patch(f"{LIMITS}{created['id']}/", body, format="json"), field)
    assert LimitSet.objects.get().requests_per_minute == 5


def test_a_key_of_another_tenant_is_unknown_here(admin_api, other_app):
    from apps.access.services import api_key_issue

    key, _ = api_key_issue(app=other_app, name="theirs", actor_membership=None)
    for name in (key.prefix, str(key.pk)):
        assert_field_error(admin_api.post(LIMITS, {"api_key": name}, format="json"), "api_key")


def test_a_second_set_for_one_scope_is_a_conflict(admin_api, app):
    assert admin_api.post(LIMITS, {"app": "billing-bot"}, format="json").status_code == 201
    assert_field_error(admin_api.post(LIMITS, {"app": "billing-bot"}, format="json"), "app", statuses=(409,))
    assert admin_api.post(LIMITS, {}, format="json").status_code == 201
    assert admin_api.post(LIMITS, {"requests_per_day": 3}, format="json").status_code == 409


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [(Role.VIEWER, 200, 403), (Role.DEVELOPER, 200, 403), (Role.ADMIN, 200, 201), (Role.OWNER, 200, 201)],
)
def test_members_read_limits_and_owners_and_admins_change_them(members, app, api_client_for, role, read, write):
    api = api_client_for(members[role].user)
    assert api.get(LIMITS).status_code == read
    assert api.post(LIMITS, {"app": "billing-bot", "requests_per_minute": 5}, format="json").status_code == write


def test_another_tenant_neither_sees_nor_changes_the_limits(members, app, mallory, api_client_for):
    limit_set = LimitSet.objects.create(tenant=app.tenant, app=app, requests_per_minute=5)
    api = api_client_for(mallory)
    assert api.get(LIMITS).status_code == 404
    assert api.post(LIMITS, {"requests_per_minute": 1}, format="json").status_code == 404
    # Under its own tenant's URL, the other tenant's set does not exist either.
    theirs = f"{API}/tenants/globex/limits/{limit_set.pk}/"
    assert api.get(theirs).status_code == 404
    assert api.patch(theirs, {"requests_per_minute": 1}, format="json").status_code == 404
    assert api.delete(theirs).status_code == 404
    limit_set.refresh_from_db()
    assert limit_set.requests_per_minute == 5


def test_a_developer_cannot_change_an_existing_set(members, app, api_client_for):
    limit_set = LimitSet.objects.create(tenant=app.tenant, app=AppFactory(tenant=app.tenant), requests_per_minute=5)
    api = api_client_for(members[Role.DEVELOPER].user)
    assert api.patch(f"{LIMITS}{limit_set.pk}/", {"requests_per_minute": 50}, format="json").status_code == 403
    assert api.delete(f"{LIMITS}{limit_set.pk}/").status_code == 403
    limit_set.refresh_from_db()
    assert limit_set.requests_per_minute == 5
