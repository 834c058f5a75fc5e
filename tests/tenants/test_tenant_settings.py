"""The tenant settings page: owners decide whether the tenant's own apps need subscriptions to its own services;
the rule is shown wherever a subscription is, and the gateway applies the change at its next snapshot."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent, ConfigVersion
from apps.core.services import GATEWAY_CONFIG
from apps.tenants.models import Role
from tests.factories import PlanFactory, ServiceFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the config-version bump runs on commit

SETTINGS = "/tenant/settings/"


def _version() -> int:
    row = ConfigVersion.objects.filter(name=GATEWAY_CONFIG).first()
    return row.version if row else 0


def test_an_owner_requires_internal_subscriptions_and_the_change_is_audited(client_for, owner, tenant):
    page = client_for(owner).get(SETTINGS)
    assert page.status_code == 200
    assert "need an approved subscription to its own services too" in page.content.decode()
    before = _version()
    response = client_for(owner).post(
        SETTINGS, {"name": "Acme", "require_internal_subscriptions": "on", "limits_fail_open": "on"}
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.require_internal_subscriptions is True
    event = AuditEvent.objects.get(action="tenant.update", tenant=tenant)
    assert event.changes == {"require_internal_subscriptions": [False, True]}
    assert event.actor == owner
    assert event.source == "ui"
    assert _version() > before  # the data plane rebuilds its snapshot with the new rule


@pytest.mark.parametrize("role", [Role.ADMIN, Role.DEVELOPER, Role.VIEWER])
def test_everyone_but_owners_is_refused_the_settings_page(client_for, members, tenant, role):
    client = client_for(members[role].user)
    assert client.get(SETTINGS).status_code == 403
    response = client.post(SETTINGS, {"name": "Hacked", "require_internal_subscriptions": "on"})
    assert response.status_code == 403
    assert "Ask an owner of Acme for the owner role" in response.content.decode()
    tenant.refresh_from_db()
    assert (tenant.name, tenant.require_internal_subscriptions) == ("Acme", False)


def test_an_empty_name_is_a_field_error(client_for, owner, tenant):
    response = client_for(owner).post(SETTINGS, {"name": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_through_the_api_an_admin_may_rename_but_not_change_the_rule(api_client_for, members, tenant):
    url = f"/api/v1/tenants/{tenant.slug}/"
    admin = api_client_for(members[Role.ADMIN].user)
    refused = admin.patch(url, {"require_internal_subscriptions": True}, format="json")
    assert refused.status_code == 403
    assert refused.json()["errors"] == {"require_internal_subscriptions": [refused.json()["message"]]}
    owner = api_client_for(members[Role.OWNER].user)
    response = owner.patch(url, {"require_internal_subscriptions": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["require_internal_subscriptions"] is True


def test_the_subscription_list_says_when_an_own_service_needs_no_subscription(client_for, owner, tenant, app):
    own = ServiceFactory(tenant=tenant, slug="own-service", name="Own service")
    SubscriptionFactory(app=app, plan=PlanFactory(service=own), service=own)
    page = client_for(owner).get("/subscriptions/").content.decode()
    assert "without a subscription: the tenant does not require internal subscriptions" in page
    assert "Not needed to call it: apps of Acme call its own services without a subscription" in page
    tenant.require_internal_subscriptions = True
    tenant.save()
    page = client_for(owner).get("/subscriptions/").content.decode()
    assert "only with an approved subscription too: the tenant requires internal subscriptions" in page
    assert "Not needed to call it" not in page
