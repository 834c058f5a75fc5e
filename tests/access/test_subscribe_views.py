"""The subscribe panel of a service's page (apps/access/views_subscribe.py): the tenant's apps' subscriptions to the
service, and subscribing one of my apps through subscription_request (same rules and audit as the API)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.access.models import Subscription
from apps.catalog.models import Plan, Service
from apps.core.models import AuditEvent
from apps.tenants.models import Role
from tests.factories import AppFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(tenant, route):
    """A published, public prompt API of acme that asks for approval, with one plan."""
    svc = Service.objects.create(
        tenant=tenant,
        slug="summarize",
        name="Summarize",
        kind="prompt",
        visibility="public",
        lifecycle="published",
        approval_mode="manual",
        route=route,
    )
    Plan.objects.create(service=svc, slug="free", name="Free")
    return svc


@pytest.fixture
def dev(other_tenant):
    """A developer of globex who manages app globex-bot (not globex-other)."""
    user = UserFactory(username="dev")
    MembershipFactory(tenant=other_tenant, role=Role.DEVELOPER, user=user)
    app = AppFactory(tenant=other_tenant, slug="globex-bot", name="Globex bot")
    AppFactory(tenant=other_tenant, slug="globex-other", name="Globex other")
    assign_perm("access.manage_app", user, app)
    return user


def url(slug="summarize"):
    return reverse("access:service-subscribe", args=[slug])


def post(client, plan, **fields):
    data = {"app": "globex-bot", "plan": str(plan.pk), "purpose": "Summaries of support tickets", **fields}
    return client.post(url(), data, HTTP_HX_REQUEST="true")


def test_the_panel_offers_only_the_apps_i_manage_and_the_services_plans(client_for, dev, service):
    body = client_for(dev).get(url()).content.decode()
    assert 'value="globex-bot"' in body
    assert "globex-other" not in body
    assert f'value="{service.plans.get().pk}"' in body
    assert "None of Globex's apps has asked for this service yet." in body


def test_subscribing_asks_for_approval_is_audited_and_shows_pending(client_for, dev, service):
    client = client_for(dev)
    response = post(client, service.plans.get())
    assert response.status_code == 200
    subscription = Subscription.objects.get(service=service, app__slug="globex-bot")
    assert (subscription.status, subscription.purpose) == ("pending", "Summaries of support tickets")
    assert AuditEvent.objects.filter(action="subscription.request", object_id=str(subscription.pk)).exists()
    body = response.content.decode()
    assert "Globex bot asked for the Free plan: Acme decides." in body
    assert "Pending approval" in client.get(url()).content.decode()


def test_a_purpose_is_required_at_its_field_and_nothing_is_saved(client_for, dev, service):
    response = post(client_for(dev), service.plans.get(), purpose="  ")
    assert response.status_code == 400
    assert 'id="id_purpose_error"' in response.content.decode()
    assert not Subscription.objects.exists()


def test_an_app_i_do_not_manage_is_refused_at_its_field(client_for, dev, service):
    response = post(client_for(dev), service.plans.get(), app="globex-other")
    assert response.status_code == 400
    assert 'id="id_app_error"' in response.content.decode()
    assert not Subscription.objects.exists()


def test_a_second_request_is_refused_at_the_action(client_for, dev, service):
    client = client_for(dev)
    post(client, service.plans.get())
    response = post(client, service.plans.get())
    assert response.status_code == 409
    assert "already has a subscription to Summarize (pending approval)" in response.content.decode()
    assert Subscription.objects.count() == 1


def test_a_service_the_tenant_cannot_see_is_refused_at_the_action_as_if_it_did_not_exist(client_for, dev, service):
    client = client_for(dev)
    plan = service.plans.get()
    Service.objects.filter(pk=service.pk).update(visibility="private")  # hidden since the page was shown
    response = post(client, plan)
    assert response.status_code == 404
    assert "No service &#x27;summarize&#x27; is visible to Globex: nothing was requested." in response.content.decode()
    assert not Subscription.objects.exists()
    assert client.get(url()).status_code == 404
    assert client.get(url("no-such-service")).status_code == 404


def test_a_viewer_sees_the_states_but_no_form_and_gets_the_403_naming_the_role(client_for, other_tenant, service):
    viewer = UserFactory(username="viewer")
    MembershipFactory(tenant=other_tenant, role=Role.VIEWER, user=viewer)
    client = client_for(viewer)
    assert "Request subscription" not in client.get(url()).content.decode()
    response = client.post(url(), {"app": "x", "plan": str(service.plans.get().pk), "purpose": "p"})
    assert response.status_code == 403
    assert "developer role" in response.content.decode()
    assert not Subscription.objects.exists()


def test_each_apps_state_shows_until_when_or_why(client_for, dev, other_tenant, service):
    plan = service.plans.get()
    approved = AppFactory(tenant=other_tenant, slug="approved-bot", name="Approved bot")
    rejected = AppFactory(tenant=other_tenant, slug="rejected-bot", name="Rejected bot")
    until = timezone.now() + timedelta(days=30)
    Subscription.objects.create(app=approved, service=service, plan=plan, status="approved", expires_at=until)
    Subscription.objects.create(app=rejected, service=service, plan=plan, status="rejected", reason="Use v2 instead")
    body = client_for(dev).get(url()).content.decode()
    assert f"{until.day} {until.strftime('%B')} {until.year}" in body
    assert "Reason: Use v2 instead" in body


def test_the_service_page_loads_the_panel_by_its_address(client_for, dev, service):
    body = client_for(dev).get(reverse("catalog:service-detail", args=["summarize"])).content.decode()
    assert f'hx-get="{url()}"' in body
    assert f'hx-get="{reverse("access:service-try-it", args=["summarize"])}"' in body
