"""Links in e-mails start with SITE_URL (`make run` sets it from PORT), not a fixed http://127.0.0.1:8000."""

from __future__ import annotations

import pytest
from django.core import mail

from apps.analytics.services.alert_deliveries import alert_rule_url
from apps.core.services import notification_send
from tests.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db

SITE = "https://portal.example.com:8443"


def test_notification_mails_link_to_the_configured_site(settings, owner):
    settings.SITE_URL = SITE
    owner.email = "olivia@example.com"
    owner.save()
    notification_send(users=[owner], subject="Approved", body="Your subscription is approved.", link="/subscriptions/")
    [message] = mail.outbox
    assert f"{SITE}/subscriptions/" in message.body
    assert "127.0.0.1" not in message.body


def test_alert_links_point_to_the_configured_site(settings, tenant):
    settings.SITE_URL = SITE
    rule = AlertRuleFactory(tenant=tenant)
    assert alert_rule_url(rule) == f"{SITE}/analytics/alerts/rules/{rule.pk}/"
