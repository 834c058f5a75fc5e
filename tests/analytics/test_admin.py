"""Alerts in the Django admin: readable by superusers, never editable there, the webhook secret never shown."""

from __future__ import annotations

import pytest

from tests.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db


def test_rules_are_listed_and_shown_without_their_secret_and_cannot_be_changed(superuser_client, tenant):
    rule = AlertRuleFactory(tenant=tenant, name="errors-over-5")
    listing = superuser_client.get("/admin/analytics/alertrule/")
    assert listing.status_code == 200
    assert "errors-over-5" in listing.content.decode()
    page = superuser_client.get(f"/admin/analytics/alertrule/{rule.pk}/change/")
    assert page.status_code == 200
    assert rule.webhook_secret_encrypted not in page.content.decode()
    assert "whsec_" not in page.content.decode()
    assert superuser_client.post(f"/admin/analytics/alertrule/{rule.pk}/change/", {"name": "x"}).status_code == 403
    assert superuser_client.get("/admin/analytics/alertrule/add/").status_code == 403


@pytest.mark.parametrize("model", ["alert", "alertdelivery"])
def test_alert_history_is_readable(superuser_client, model):
    assert superuser_client.get(f"/admin/analytics/{model}/").status_code == 200
