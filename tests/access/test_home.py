"""The home page per role: the tenant's apps with their open subscriptions and today's calls (from the hourly
rollups), the requests waiting for owners and admins, the services and prompts changed lately, and the first steps
an empty tenant still has to take."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.access.models import SubscriptionStatus
from apps.analytics.models import CallRollup, Granularity
from apps.catalog.models import Visibility
from apps.tenants.models import Role
from tests.factories import (
    AppFactory,
    PlanFactory,
    PromptServiceFactory,
    PromptTemplateFactory,
    PromptVersionFactory,
    ProviderFactory,
    ServiceFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

S = SubscriptionStatus


def _calls(tenant_id: int, app_id: int, bucket, calls: int, model: str = "echo") -> None:
    CallRollup.objects.create(
        granularity=Granularity.HOUR, bucket=bucket, tenant_id=tenant_id, app_id=app_id, model=model, calls=calls
    )


def test_apps_show_their_open_subscriptions_and_the_calls_since_midnight_utc(
    client_for, members, app, tenant, other_tenant, other_app
):
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    this_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    _calls(tenant.pk, app.pk, midnight, 7)
    _calls(tenant.pk, app.pk, this_hour, 5, model="other")  # this hour may be midnight's: another model's row
    _calls(tenant.pk, app.pk, midnight - timedelta(hours=1), 900)  # yesterday
    _calls(other_tenant.pk, other_app.pk, this_hour, 300)  # another tenant's app
    translate = ServiceFactory(tenant=other_tenant, slug="translate", name="Translate", visibility=Visibility.PUBLIC)
    classify = ServiceFactory(tenant=other_tenant, slug="classify", name="Classify", visibility=Visibility.PUBLIC)
    refused = ServiceFactory(tenant=other_tenant, slug="refused", name="Refused", visibility=Visibility.PUBLIC)
    SubscriptionFactory(app=app, plan=PlanFactory(service=translate), status=S.APPROVED)
    SubscriptionFactory(app=app, plan=PlanFactory(service=classify))
    SubscriptionFactory(app=app, plan=PlanFactory(service=refused), status=S.REJECTED)
    AppFactory(tenant=tenant, slug="quiet-bot", name="Quiet bot")
    response = client_for(members[Role.DEVELOPER].user).get("/")
    shown = {shown_app.slug: shown_app for shown_app in response.context["apps"]}
    assert (shown["billing-bot"].calls_today, shown["quiet-bot"].calls_today) == (12, 0)
    assert [sub.service.slug for sub in shown["billing-bot"].open_subscriptions] == ["classify", "translate"]
    html = response.content.decode()
    assert "<strong>12</strong> calls today" in html
    assert "Pending approval" in html
    assert "Refused" not in html.split('id="apps-heading"')[1].split("recent-services-heading")[0]
    assert "Globex bot" not in html


def test_only_owners_and_admins_see_the_requests_waiting_for_them(client_for, members, tenant, other_app):
    summarize = ServiceFactory(tenant=tenant, slug="summarize", name="Summarize", visibility=Visibility.PUBLIC)
    SubscriptionFactory(app=other_app, plan=PlanFactory(service=summarize), purpose="Contracts")
    admin_html = client_for(members[Role.ADMIN].user).get("/").content.decode()
    assert "1 request waiting for your decision" in admin_html
    assert "Globex bot" in admin_html
    assert 'href="/approvals/"' in admin_html
    developer_html = client_for(members[Role.DEVELOPER].user).get("/").content.decode()
    assert "waiting for your decision" not in developer_html
    assert "Globex bot" not in developer_html


def test_services_and_prompts_changed_lately_are_those_the_tenant_may_see(client_for, members, tenant, other_tenant):
    ServiceFactory(tenant=other_tenant, slug="shared", name="Public of Globex", visibility=Visibility.PUBLIC)
    ServiceFactory(tenant=other_tenant, slug="hidden", name="Private of Globex")
    template = PromptTemplateFactory(service=PromptServiceFactory(tenant=tenant, slug="summarize", name="Summarize"))
    PromptVersionFactory(template=template, change_note="Shorter answers", author=members[Role.DEVELOPER].user)
    PromptTemplateFactory(service=PromptServiceFactory(tenant=other_tenant, slug="globex-prompt", name="Globex prompt"))
    response = client_for(members[Role.VIEWER].user).get("/")
    assert {service.slug for service in response.context["recent_services"]} == {"shared", "summarize"}
    assert [(v.template.service.slug, v.number) for v in response.context["recent_prompt_versions"]] == [
        ("summarize", 2),
        ("summarize", 1),
    ]
    html = response.content.decode()
    assert "Shorter answers" in html
    assert 'href="/prompts/summarize/"' in html  # the prompt's page in the workbench
    assert "Globex prompt" not in html
    assert "Private of Globex" not in html


def test_an_empty_tenant_shows_an_admin_the_first_steps_from_provider_to_key(client_for, members):
    html = client_for(members[Role.ADMIN].user).get("/").content.decode()
    assert "What to do first" in html
    for step in ("Connect a model provider", "Publish a service", "Create an app", "Issue the app an API key"):
        assert step in html


def test_a_developer_has_no_provider_step_and_a_viewer_no_steps(client_for, members):
    developer_html = client_for(members[Role.DEVELOPER].user).get("/").content.decode()
    assert "What to do first" in developer_html
    assert "Connect a model provider" not in developer_html
    viewer_html = client_for(members[Role.VIEWER].user).get("/").content.decode()
    assert "What to do first" not in viewer_html
    assert "Viewers cannot create apps" in viewer_html


def test_done_steps_are_marked_and_the_list_goes_once_all_are_done(client_for, members, tenant, app, issued_key):
    client = client_for(members[Role.DEVELOPER].user)
    response = client.get("/")
    assert [(step["key"], step["done"]) for step in response.context["first_steps"]] == [
        ("app", True),
        ("subscribe", False),
        ("key", True),
    ]
    assert response.content.decode().count('<span class="visually-hidden">Done:</span>') == 2
    service = ServiceFactory(tenant=tenant, slug="own")
    SubscriptionFactory(app=app, plan=PlanFactory(service=service), status=S.APPROVED)
    ProviderFactory(tenant=tenant)
    assert client.get("/").context["first_steps"] == []
    assert "What to do first" not in client_for(members[Role.ADMIN].user).get("/").content.decode()
