"""Alert webhooks, the other outbound call a tenant aims, go through the same guard (issue 10, item 4): private
receivers only when ALERT_WEBHOOK_ALLOW_PRIVATE=true, judged on the address the connection is made to."""

from __future__ import annotations

import httpx
import pytest

from apps.analytics.services import alert_deliveries
from apps.analytics.services.alert_deliveries import alert_rule_test_notify
from apps.core.netguard import AddressPolicy, AddressRefused, GuardedTransport
from tests.factories import AlertRuleFactory
from tests.fakes.dns import ControlledDNS
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch) -> ControlledDNS:
    return ControlledDNS.install(monkeypatch)


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def _send_test(tenant, url: str):
    [outcome] = alert_rule_test_notify(rule=AlertRuleFactory(tenant=tenant, webhook_url=url), actor_membership=None)
    return outcome


@pytest.mark.parametrize("allowed", [False, True])
def test_a_webhook_host_resolving_to_loopback_is_refused_unless_the_operator_allows_it(
    tenant, receiver, dns, settings, allowed
):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = allowed
    dns.answer("hook.example", "127.0.0.1")
    outcome = _send_test(tenant, receiver.url.replace("127.0.0.1", "hook.example"))
    assert outcome.ok is allowed
    assert len(receiver.requests) == (1 if allowed else 0)
    if not allowed:
        assert "private address" in outcome.message
        assert "ALERT_WEBHOOK_ALLOW_PRIVATE" in outcome.message


def test_a_webhook_host_that_rebinds_after_the_check_gets_no_request(tenant, receiver, dns, settings, monkeypatch):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(alert_deliveries, "WEBHOOK_TIMEOUT_SECONDS", 1.0)  # the public address is not reachable here
    dns.answer("hook.example", PUBLIC, "127.0.0.1")
    outcome = _send_test(tenant, receiver.url.replace("127.0.0.1", "hook.example"))
    assert outcome.ok is False
    assert receiver.requests == []
    assert dns.lookups["hook.example"] == 1  # the connection goes to the address that was judged


def test_the_guarded_transport_connects_to_the_judged_address_under_the_name(receiver, dns):
    dns.answer("hook.example", "127.0.0.1", "10.0.0.8")
    policy = AddressPolicy.from_entries(["127.0.0.1"])
    url = receiver.url.replace("127.0.0.1", "hook.example")
    with httpx.Client(transport=GuardedTransport(policy)) as client:
        assert client.post(url, content=b"{}").status_code == 204
        with pytest.raises(AddressRefused):
            client.post(url, content=b"{}")  # the name now answers a private address the policy does not allow
    [request] = receiver.requests
    assert request.headers["Host"] == url.split("/")[2]
    assert request.path == "/hook"
