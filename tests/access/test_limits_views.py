"""The portal's limits and budgets: the tenant's on the settings page, an app's and each key's on the app page.
Owners and admins save them (the gateway sees the change: the config version moves), bad values are refused at
their field with a 400, other members only read them, and another tenant's apps and keys do not exist here."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.access.models import LimitSet
from apps.core.models import ConfigVersion
from apps.core.services import GATEWAY_CONFIG
from apps.tenants.models import Role
from tests.factories import RouteFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
VALID = {
    "requests_per_minute": "60",
    "tokens_per_minute": "",
    "requests_per_day": "1000",
    "requests_per_month": "",
    "budget_per_day": "2.50",
    "budget_per_month": "",
    "budget_currency": "USD",
    "budget_alert_percent": "80",
    "over_budget_route": "cheap",
}


def config_version() -> int:
    return ConfigVersion.objects.filter(name=GATEWAY_CONFIG).values_list("version", flat=True).first() or 0


@pytest.fixture
def cheap(tenant):
    return RouteFactory(tenant=tenant, alias="cheap")


@pytest.fixture
def admin_web(members, client_for):
    return client_for(members[Role.ADMIN].user)


def test_an_admin_sets_the_tenants_limits_from_the_settings_page(members, client_for, cheap, tenant):
    owner_web = client_for(members[Role.OWNER].user)
    page = owner_web.get("/tenant/settings/").content.decode()
    assert 'hx-get="/limits/"' in page  # the settings page loads the tenant's limits section
    assert 'name="limits_fail_open"' in page
    before = config_version()
    response = owner_web.post("/limits/", VALID, **HTMX)
    assert response.status_code == 200
    assert "The limits of the tenant Acme are saved" in response.content.decode()
    limit_set = LimitSet.objects.get(tenant=tenant, app=None, api_key=None)
    assert (limit_set.requests_per_minute, limit_set.budget_per_day, limit_set.over_budget_route) == (
        60,
        Decimal("2.50"),
        cheap,
    )
    assert config_version() == before + 1
    # Without htmx: a redirect to the page, which shows what was saved.
    response = owner_web.post("/limits/", {**VALID, "requests_per_minute": ""})
    assert (response.status_code, response["Location"]) == (302, "/limits/")
    page = owner_web.get("/limits/").content.decode()
    assert 'name="requests_per_day" value="1000"' in page
    limit_set.refresh_from_db()
    assert limit_set.requests_per_minute is None


def test_the_owner_chooses_whether_limits_fail_open(members, client_for, tenant):
    web = client_for(members[Role.OWNER].user)
    before = config_version()
    response = web.post("/tenant/settings/", {"name": "Acme"})  # the box left unticked
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.limits_fail_open is False
    assert config_version() == before + 1
    web.post("/tenant/settings/", {"name": "Acme", "limits_fail_open": "on"})
    tenant.refresh_from_db()
    assert tenant.limits_fail_open is True


def test_the_app_page_sets_the_apps_limits_and_lists_its_keys_limits(admin_web, app, issued_key, cheap):
    key, _ = issued_key
    page = admin_web.get(f"/apps/{app.slug}/").content.decode()
    assert f'hx-get="/apps/{app.slug}/limits/"' in page
    response = admin_web.post(f"/apps/{app.slug}/limits/", {**VALID, "over_budget_route": ""}, **HTMX)
    assert response.status_code == 200
    assert LimitSet.objects.get(app=app).requests_per_day == 1000
    fragment = admin_web.get(f"/apps/{app.slug}/limits/", **HTMX).content.decode()
    assert f'href="/apps/{app.slug}/keys/{key.pk}/limits/"' in fragment
    assert "None of its own" in fragment

    response = admin_web.post(f"/apps/{app.slug}/keys/{key.pk}/limits/", {**VALID, "requests_per_minute": "5"})
    assert response.status_code == 302
    assert LimitSet.objects.get(api_key=key).requests_per_minute == 5
    fragment = admin_web.get(f"/apps/{app.slug}/limits/", **HTMX).content.decode()
    assert "5 req/min · 1000 req/day · $2.50/day · then cheap" in fragment


BAD = [
    ("requests_per_minute", "-1"),
    ("requests_per_minute", "0"),
    ("tokens_per_minute", "0"),
    ("requests_per_month", "-1"),
    ("budget_per_day", "-1"),
    ("budget_per_month", "1.001"),
    ("budget_currency", "EUR"),
    ("budget_alert_percent", "0"),
    ("budget_alert_percent", "101"),
    ("over_budget_route", "globex-smart"),
]


@pytest.mark.parametrize(("field", "value"), BAD)
@pytest.mark.parametrize("where", ["/limits/", "/apps/billing-bot/limits/"])
def test_bad_limits_are_refused_at_their_field(admin_web, app, cheap, other_route, where, field, value):
    before = config_version()
    response = admin_web.post(where, {**VALID, field: value}, **HTMX)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not LimitSet.objects.exists()
    assert config_version() == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_members_below_admin_read_the_limits_but_cannot_save_them(members, client_for, app, cheap, role):
    LimitSet.objects.create(tenant=app.tenant, app=app, requests_per_minute=7)
    web = client_for(members[role].user)
    page = web.get(f"/apps/{app.slug}/limits/").content.decode()
    assert 'value="7"' in page
    assert "<fieldset disabled>" in page
    assert "Save limits" not in page
    response = web.post(f"/apps/{app.slug}/limits/", {**VALID, "requests_per_minute": "700"}, **HTMX)
    assert response.status_code == 403
    assert LimitSet.objects.get().requests_per_minute == 7


def test_another_tenants_apps_and_keys_are_not_found(admin_web, other_app):
    from apps.access.services import api_key_issue

    key, _ = api_key_issue(app=other_app, name="theirs", actor_membership=None)
    assert admin_web.get(f"/apps/{other_app.slug}/limits/").status_code == 404
    assert admin_web.post(f"/apps/{other_app.slug}/limits/", VALID).status_code == 404
    assert admin_web.post(f"/apps/{other_app.slug}/keys/{key.pk}/limits/", VALID).status_code == 404
    assert not LimitSet.objects.exists()


def test_a_key_of_another_app_of_the_tenant_is_not_found_under_this_one(admin_web, app, issued_key, tenant):
    from tests.factories import AppFactory

    key, _ = issued_key
    elsewhere = AppFactory(tenant=tenant, slug="elsewhere")
    assert admin_web.get(f"/apps/{elsewhere.slug}/keys/{key.pk}/limits/").status_code == 404


def test_the_admin_lists_limit_sets_read_only(superuser_client, app, cheap):
    limit_set = LimitSet.objects.create(tenant=app.tenant, app=app, requests_per_minute=9, over_budget_route=cheap)
    page = superuser_client.get("/admin/access/limitset/")
    assert page.status_code == 200
    assert "limits of app billing-bot" in page.content.decode()
    assert superuser_client.get("/admin/access/limitset/add/").status_code == 403
    response = superuser_client.post(f"/admin/access/limitset/{limit_set.pk}/change/", {"requests_per_minute": "1"})
    assert response.status_code == 403
    limit_set.refresh_from_db()
    assert limit_set.requests_per_minute == 9
