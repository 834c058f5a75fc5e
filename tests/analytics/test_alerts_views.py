"""The alert pages: rules and history for every member, forms for owners and admins, the webhook secret shown once
after creation and rotation, the test notification, and 404 for another tenant's rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.analytics.models import Alert, AlertDelivery, AlertRule
from apps.tenants.models import Role
from tests.clock import days_ago_at
from tests.factories import AlertRuleFactory, ServiceFactory
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
FIRED = days_ago_at(2, 12)
FORM = {
    "name": "Checkout errors",
    "metric": "error_rate",
    "threshold": "5",
    "window_minutes": "10",
    "min_calls": "20",
    "service": "",
    "model": "",
    "email_recipients": "oncall@example.com, lead@example.com\nops@example.com",
    "webhook_url": "https://hooks.example.com/alerts",
    "enabled": "on",
}


@pytest.fixture
def admin_web(members, client_for):
    return client_for(members[Role.ADMIN].user)


@pytest.fixture
def rule(tenant):
    return AlertRuleFactory(tenant=tenant, name="Slow answers", metric="p95_latency", threshold=Decimal(800))


def url(rule: AlertRule, action: str = "") -> str:
    return f"/analytics/alerts/rules/{rule.pk}/{action + '/' if action else ''}"


@pytest.mark.parametrize("role", Role.values)
def test_every_member_finds_alerts_in_the_navigation_and_reads_rules_and_history(client_for, members, rule, role):
    Alert.objects.create(rule=rule, tenant=rule.tenant, fired_at=FIRED, value=950, message="p95 above 800 ms")
    web = client_for(members[role].user)
    assert 'href="/analytics/alerts/"' in web.get("/").content.decode()
    listing = web.get("/analytics/alerts/").content.decode()
    assert "Slow answers" in listing
    assert "p95 above 800 ms" in listing
    assert ("New alert rule" in listing) is (role in (Role.ADMIN, Role.OWNER))
    detail = web.get(url(rule))
    assert detail.status_code == 200
    assert ("Send test notification" in detail.content.decode()) is (role in (Role.ADMIN, Role.OWNER))


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_viewers_and_developers_cannot_change_rules(client_for, members, rule, role):
    web = client_for(members[role].user)
    assert web.get("/analytics/alerts/rules/new/").status_code == 403
    assert web.post("/analytics/alerts/rules/new/", FORM).status_code == 403
    assert web.get(url(rule, "edit")).status_code == 403
    assert web.post(url(rule, "edit"), {**FORM, "name": "Pwned"}).status_code == 403
    assert web.post(url(rule, "rotate-secret")).status_code == 403
    assert web.post(url(rule, "test")).status_code == 403
    assert web.post(url(rule, "delete")).status_code == 403
    rule.refresh_from_db()
    assert (rule.name, AlertRule.objects.count()) == ("Slow answers", 1)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
def test_owners_and_admins_create_a_rule_and_see_its_secret_once(client_for, members, role):
    web = client_for(members[role].user)
    response = web.post("/analytics/alerts/rules/new/", FORM)
    assert response.status_code == 200
    rule = AlertRule.objects.get()
    assert rule.email_recipients == ["oncall@example.com", "lead@example.com", "ops@example.com"]
    assert (rule.window_minutes, rule.min_calls, rule.created_by) == (10, 20, members[role].user)
    html = response.content.decode()
    assert rule.webhook_secret() in html
    assert "will not be shown again" in html
    assert response["Cache-Control"].startswith("max-age=0")
    assert rule.webhook_secret() not in web.get(url(rule)).content.decode()


def test_rotating_the_secret_shows_the_new_one_once(admin_web, rule):
    old = rule.webhook_secret()
    response = admin_web.post(url(rule, "rotate-secret"), headers=HTMX)
    rule.refresh_from_db()
    assert rule.webhook_secret() != old
    assert rule.webhook_secret() in response.content.decode()
    assert rule.webhook_secret() not in admin_web.get(url(rule)).content.decode()


def test_editing_a_rule(admin_web, rule, tenant):
    ServiceFactory(tenant=tenant, slug="checkout")
    form = admin_web.get(url(rule, "edit")).content.decode()
    assert 'value="Slow answers"' in form
    response = admin_web.post(url(rule, "edit"), {**FORM, "name": "Slower", "service": "checkout"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.service.slug, rule.metric) == ("Slower", "checkout", "error_rate")


BAD_FORMS = [
    pytest.param({"threshold": "-1"}, "threshold", id="negative-threshold"),
    pytest.param({"window_minutes": "0"}, "window_minutes", id="window-0"),
    pytest.param({"window_minutes": "1441"}, "window_minutes", id="window-over-a-day"),
    pytest.param({"webhook_url": "ftp://hooks.example.com/"}, "webhook_url", id="ftp-webhook"),
    pytest.param({"email_recipients": "oncall@example.com, nope"}, "email_recipients", id="bad-address"),
    pytest.param({"service": "globex-secret-service"}, "service", id="foreign-service"),
]


@pytest.mark.parametrize(("change", "field"), BAD_FORMS)
def test_bad_input_is_shown_on_its_field_and_nothing_is_saved(admin_web, other_tenant, change, field):
    ServiceFactory(tenant=other_tenant, slug="globex-secret-service")
    response = admin_web.post("/analytics/alerts/rules/new/", {**FORM, **change})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert "globex" not in response.content.decode()
    assert not AlertRule.objects.exists()


def test_a_duplicate_name_is_refused_on_the_name_field(admin_web, rule):
    response = admin_web.post("/analytics/alerts/rules/new/", {**FORM, "name": "Slow answers"})
    assert response.status_code == 409
    assert "already exists" in response.context["form"].errors["name"][0]


def test_the_test_notification_shows_how_each_channel_went(admin_web, tenant):
    with WebhookReceiver() as receiver:
        receiver.statuses = [500]
        rule = AlertRuleFactory(tenant=tenant, webhook_url=receiver.url, email_recipients=["oncall@example.com"])
        html = admin_web.post(url(rule, "test"), headers=HTMX).content.decode()
    assert "oncall@example.com" in html
    assert "the webhook answered HTTP 500" in html
    assert receiver.requests[0].headers["X-Gateway-Event"] == "test"


def test_the_rule_page_lists_incidents_with_their_deliveries(admin_web, rule):
    alert = Alert.objects.create(rule=rule, tenant=rule.tenant, fired_at=FIRED, value=950, message="slow")
    AlertDelivery.objects.create(
        alert=alert,
        event="fired",
        channel="webhook",
        target="https://h.example.com",
        status="failed",
        attempts=5,
        last_error="the webhook answered HTTP 500",
    )
    html = admin_web.get(url(rule)).content.decode()
    assert f'id="alert-{alert.pk}"' in html
    assert "the webhook answered HTTP 500" in html


def test_deleting_a_rule(admin_web, rule):
    html = admin_web.get(url(rule)).content.decode()
    assert f'hx-post="{url(rule, "delete")}" hx-confirm="Delete the alert rule Slow answers and its history?"' in html
    response = admin_web.post(url(rule, "delete"), headers=HTMX)
    assert response["HX-Redirect"] == "/analytics/alerts/"
    assert not AlertRule.objects.exists()


def test_another_tenants_rule_is_not_found(client_for, mallory, rule):
    web = client_for(mallory)
    for action in ["", "edit"]:
        assert web.get(url(rule, action)).status_code == 404
    for action in ["edit", "rotate-secret", "test", "delete"]:
        assert web.post(url(rule, action), FORM).status_code == 404
    assert "Slow answers" not in web.get("/analytics/alerts/").content.decode()
    assert AlertRule.objects.filter(pk=rule.pk, name="Slow answers").exists()
