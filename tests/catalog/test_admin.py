"""Services, plans, subscriptions and prompts in the Django admin: listed and shown to superusers, never added,
changed or deleted there (writes go through the audited services)."""

from __future__ import annotations

import pytest

from tests.factories import PlanFactory, PromptTemplateFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(sentiment):
    plan = PlanFactory(service=sentiment, slug="free", name="Free plan")
    subscription = SubscriptionFactory(plan=plan, purpose="Tickets triage")
    prompt = PromptTemplateFactory()
    return {
        "catalog/service": (sentiment, "Sentiment"),
        "catalog/plan": (plan, "Free plan"),
        "access/subscription": (subscription, "Tickets triage"),
        "prompts/prompttemplate": (prompt, prompt.service.name),
        "prompts/promptversion": (prompt.live_version, "Summarize: {{ text }}"),
    }


@pytest.mark.parametrize(
    "model",
    ["catalog/service", "catalog/plan", "access/subscription", "prompts/prompttemplate", "prompts/promptversion"],
)
def test_the_admin_shows_but_never_changes_them(superuser_client, rows, model):
    obj, text = rows[model]
    listing = superuser_client.get(f"/admin/{model}/")
    assert listing.status_code == 200
    page = superuser_client.get(f"/admin/{model}/{obj.pk}/change/")
    assert page.status_code == 200
    assert text in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert superuser_client.get(f"/admin/{model}/add/").status_code == 403
    assert superuser_client.post(f"/admin/{model}/{obj.pk}/change/", {}).status_code == 403
    assert superuser_client.post(f"/admin/{model}/{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()
