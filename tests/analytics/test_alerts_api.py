"""The alert endpoints of the management API: who may do what, the write-only webhook secret, bad input named by
field (never a 500, never a hint that another tenant's service exists), and the alert history."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.analytics.models import Alert, AlertDelivery, AlertRule
from apps.core.models import AuditEvent
from apps.tenants.models import Role
from tests.clock import days_ago_at
from tests.factories import AlertRuleFactory, ServiceFactory
from tests.helpers import API, assert_field_error

pytestmark = pytest.mark.django_db

RULES = f"{API}/tenants/acme/analytics/alert-rules/"
ALERTS = f"{API}/tenants/acme/analytics/alerts/"
NEW_RULE = {"name": "Errors", "metric": "error_rate", "threshold": "5", "window_minutes": 10}
FIRED = days_ago_at(2, 12)


@pytest.fixture
def admin_api(members, api_client_for):
    return api_client_for(members[Role.ADMIN].user)


@pytest.fixture
def rule(tenant):
    return AlertRuleFactory(tenant=tenant, name="Slow", metric="p95_latency", threshold=Decimal(800))


def test_creating_a_rule_returns_its_generated_webhook_secret_once(admin_api):
    response = admin_api.post(RULES, {**NEW_RULE, "webhook_url": "https://hooks.example.com/a"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["webhook_secret"].startswith("whsec_")
    rule = AlertRule.objects.get(pk=body["id"])
    assert rule.webhook_secret() == body["webhook_secret"]
    assert body["webhook_secret"] not in rule.webhook_secret_encrypted  # encrypted at rest
    assert (body["threshold"], body["window_minutes"], body["min_calls"], body["service"]) == ("5.000000", 10, 10, None)
    assert "webhook_secret" not in admin_api.get(f"{RULES}{rule.pk}/").json()
    assert all("webhook_secret" not in row for row in admin_api.get(RULES).json()["results"])
    audit = AuditEvent.objects.get(action="alert_rule.create")
    assert body["webhook_secret"] not in str(audit.changes)


def test_a_given_secret_is_kept_and_a_rotated_one_replaces_it(admin_api, tenant):
    secret = "my-own-secret-of-24-chars"
    body = admin_api.post(RULES, {**NEW_RULE, "webhook_secret": secret}, format="json").json()
    assert body["webhook_secret"] == secret
    rotated = admin_api.post(f"{RULES}{body['id']}/rotate-secret/").json()["webhook_secret"]
    assert rotated != secret
    assert AlertRule.objects.get(pk=body["id"]).webhook_secret() == rotated


def test_a_rule_is_scoped_to_a_service_of_the_tenant_by_slug(admin_api, tenant):
    service = ServiceFactory(tenant=tenant, slug="checkout")
    body = admin_api.post(RULES, {**NEW_RULE, "service": "checkout", "model": "gpt-4o"}, format="json").json()
    assert (body["service"], body["model"]) == ("checkout", "gpt-4o")
    assert AlertRule.objects.get(pk=body["id"]).service == service
    cleared = admin_api.patch(f"{RULES}{body['id']}/", {"service": None}, format="json")
    assert cleared.json()["service"] is None


def test_updating_and_deleting_a_rule(admin_api, rule):
    response = admin_api.patch(f"{RULES}{rule.pk}/", {"threshold": "1200", "enabled": False}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["threshold"], response.json()["enabled"]) == ("1200.000000", False)
    assert admin_api.delete(f"{RULES}{rule.pk}/").status_code == 204
    assert not AlertRule.objects.exists()
    assert AuditEvent.objects.filter(action__startswith="alert_rule.").count() == 2


@pytest.mark.parametrize(
    ("role", "allowed"), [("viewer", False), ("developer", False), ("admin", True), ("owner", True)]
)
def test_every_member_reads_rules_but_only_owners_and_admins_change_them(members, api_client_for, rule, role, allowed):
    api = api_client_for(members[role].user)
    assert api.get(RULES).status_code == 200
    assert api.get(f"{RULES}{rule.pk}/").status_code == 200
    assert api.get(ALERTS).status_code == 200
    writes = [
        api.post(RULES, NEW_RULE, format="json"),
        api.patch(f"{RULES}{rule.pk}/", {"name": "Renamed"}, format="json"),
        api.post(f"{RULES}{rule.pk}/rotate-secret/"),
        api.post(f"{RULES}{rule.pk}/test/"),
    ]
    expected = [201, 200, 200, 200] if allowed else [403] * 4
    assert [response.status_code for response in writes] == expected
    assert api.delete(f"{RULES}{rule.pk}/").status_code == (204 if allowed else 403)
    assert AlertRule.objects.filter(pk=rule.pk).exists() is not allowed


@pytest.fixture
def foreign_service(other_tenant):
    return ServiceFactory(tenant=other_tenant, slug="globex-secret-service")


REFUSED = [
    pytest.param({"threshold": "-1"}, "threshold", id="negative-threshold"),
    pytest.param({"threshold": "lots"}, "threshold", id="threshold-not-a-number"),
    pytest.param({"window_minutes": 0}, "window_minutes", id="window-0"),
    pytest.param({"window_minutes": 1441}, "window_minutes", id="window-over-a-day"),
    pytest.param({"min_calls": 0}, "min_calls", id="min-calls-0"),
    pytest.param({"metric": "vibes"}, "metric", id="unknown-metric"),
    pytest.param({"webhook_url": "ftp://hooks.example.com/"}, "webhook_url", id="ftp-webhook"),
    pytest.param({"webhook_url": "javascript:alert(1)"}, "webhook_url", id="javascript-webhook"),
    pytest.param({"webhook_url": "not a url"}, "webhook_url", id="webhook-not-a-url"),
    pytest.param({"webhook_secret": "short"}, "webhook_secret", id="short-secret"),
    pytest.param({"email_recipients": ["not-an-address"]}, "email_recipients", id="bad-address"),
    pytest.param({"email_recipients": "oncall@example.com"}, "email_recipients", id="addresses-not-a-list"),
    pytest.param({"service": "no-such-service"}, "service", id="unknown-service"),
    pytest.param({"service": "globex-secret-service"}, "service", id="foreign-service"),
    pytest.param({"service": 12345}, "service", id="service-by-id"),
    pytest.param({"name": ""}, "name", id="empty-name"),
]


@pytest.mark.parametrize(("change", "field"), REFUSED)
def test_bad_input_is_refused_by_field_on_create_and_update(admin_api, rule, foreign_service, change, field):
    before = list(AlertRule.objects.values())
    assert_field_error(admin_api.post(RULES, {**NEW_RULE, **change}, format="json"), field)
    assert_field_error(admin_api.patch(f"{RULES}{rule.pk}/", change, format="json"), field)
    assert list(AlertRule.objects.values()) == before


def test_a_foreign_service_is_refused_in_the_same_words_as_a_missing_one(admin_api, foreign_service):
    foreign = admin_api.post(RULES, {**NEW_RULE, "service": "globex-secret-service"}, format="json").json()
    missing = admin_api.post(RULES, {**NEW_RULE, "service": "no-such-service"}, format="json").json()
    assert foreign["errors"]["service"] == [
        m.replace("no-such-service", "globex-secret-service") for m in missing["errors"]["service"]
    ]


def test_a_duplicate_name_is_a_conflict(admin_api, rule):
    assert_field_error(admin_api.post(RULES, {**NEW_RULE, "name": "Slow"}, format="json"), "name", (409,))


def test_a_missing_required_field_is_named(admin_api):
    assert_field_error(admin_api.post(RULES, {"name": "x", "metric": "error_rate"}, format="json"), "threshold")


def test_alerts_list_firing_first_and_filter_by_state(admin_api, tenant, rule):
    other = AlertRuleFactory(tenant=tenant, name="Spend")
    resolved = Alert.objects.create(
        rule=rule, tenant=tenant, fired_at=FIRED, resolved_at=FIRED.replace(hour=13), value=1, message="old"
    )
    firing = Alert.objects.create(rule=other, tenant=tenant, fired_at=FIRED.replace(hour=11), value=2, message="now")
    AlertDelivery.objects.create(alert=firing, event="fired", channel="email", target="a@example.com")
    rows = admin_api.get(ALERTS).json()["results"]
    assert [(row["id"], row["state"]) for row in rows] == [(firing.pk, "firing"), (resolved.pk, "resolved")]
    assert [row["id"] for row in admin_api.get(f"{ALERTS}?state=resolved").json()["results"]] == [resolved.pk]
    assert [row["id"] for row in admin_api.get(f"{ALERTS}?state=firing").json()["results"]] == [firing.pk]
    assert_field_error(admin_api.get(f"{ALERTS}?state=sleeping"), "state")
    detail = admin_api.get(f"{ALERTS}{firing.pk}/").json()
    assert detail["rule_name"] == "Spend"
    assert [(d["channel"], d["status"]) for d in detail["deliveries"]] == [("email", "pending")]
    assert admin_api.get(f"{RULES}{other.pk}/").json()["firing_since"] is not None


def test_alerts_are_read_only(admin_api, tenant, rule):
    alert = Alert.objects.create(rule=rule, tenant=tenant, fired_at=FIRED, value=1, message="x")
    assert admin_api.post(ALERTS, {"message": "x"}, format="json").status_code == 405
    assert admin_api.patch(f"{ALERTS}{alert.pk}/", {"message": "y"}, format="json").status_code == 405
    assert admin_api.delete(f"{ALERTS}{alert.pk}/").status_code == 405


def test_another_tenants_rules_and_alerts_are_not_found(tenant, rule, mallory, api_client_for, other_tenant):
    alert = Alert.objects.create(rule=rule, tenant=tenant, fired_at=FIRED, value=1, message="x")
    api = api_client_for(mallory)
    own = f"{API}/tenants/globex/analytics"
    for response in [
        api.get(RULES),
        api.get(f"{RULES}{rule.pk}/"),
        api.get(ALERTS),
        api.get(f"{own}/alert-rules/{rule.pk}/"),
        api.patch(f"{own}/alert-rules/{rule.pk}/", {"name": "Pwned"}, format="json"),
        api.delete(f"{own}/alert-rules/{rule.pk}/"),
        api.post(f"{own}/alert-rules/{rule.pk}/rotate-secret/"),
        api.post(f"{own}/alert-rules/{rule.pk}/test/"),
        api.get(f"{own}/alerts/{alert.pk}/"),
    ]:
        assert response.status_code == 404, response.content
    assert api.get(f"{own}/alert-rules/").json()["results"] == []
    assert api.get(f"{own}/alerts/").json()["results"] == []
    rule.refresh_from_db()
    assert rule.name == "Slow"
