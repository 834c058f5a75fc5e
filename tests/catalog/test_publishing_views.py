"""Publishing from the web pages, as an admin: a prompt API with its first prompt version, a model API, details,
plans and the lifecycle, through the same services (and audit) as the API. Bad input gets a message at the field or
the action, with what was typed kept, and nothing half-saved."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.catalog.models import Lifecycle, Plan, Service
from apps.core.models import AuditEvent
from apps.prompts.models import PromptTemplate
from apps.tenants.models import Role
from tests.factories import (
    DeploymentFactory,
    PlanFactory,
    ProviderModelFactory,
    RouteFactory,
    ServiceFactory,
    SubscriptionFactory,
)
from tests.helpers import tenant_state

pytestmark = pytest.mark.django_db

VARIABLES = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
PROMPT_API = {
    "kind": "prompt",
    "name": "Summarize",
    "slug": "summarize",
    "summary": "Shorter text",
    "description": "Makes text **shorter**.",
    "tags": "nlp, Text",
    "team": "Platform",
    "route": "smart",
    "visibility": "shared",
    "shared_with": "globex",
    "approval_mode": "auto",
    "system_template": "You summarize.",
    "user_template": "Summarize: {{ text }}",
    "variables_schema": json.dumps(VARIABLES),
    "output_mode": "text",
    "output_schema": "",
}


@pytest.fixture
def admin_web(members, route, client_for):
    return client_for(members[Role.ADMIN].user)


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


def test_an_admin_creates_a_prompt_api_with_its_first_prompt_version(admin_web, other_tenant):
    response = admin_web.post("/services/new/", PROMPT_API)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    assert response["Location"] == "/catalog/summarize/manage/"
    service = Service.objects.get(slug="summarize")
    assert (service.kind, service.lifecycle, service.visibility, service.approval_mode) == (
        "prompt",
        "draft",
        "shared",
        "auto",
    )
    assert sorted(service.tags.values_list("name", flat=True)) == ["nlp", "text"]
    assert list(service.shared_with.all()) == [other_tenant]
    assert service.input_schema == VARIABLES
    prompt = PromptTemplate.objects.get(service=service)
    assert prompt.live_version.number == 1
    assert prompt.live_version.user_template == "Summarize: {{ text }}"
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {"service.create", "prompt.create"}
    page = admin_web.get(response["Location"]).content.decode()
    assert "Summarize is created, as a draft: add a plan, then publish it." in page
    assert "No plan yet." in page


def test_an_admin_creates_a_model_api_without_prompt_fields(admin_web, other_tenant):
    data = {**PROMPT_API, "kind": "model", "slug": "ledger", "user_template": "", "variables_schema": ""}
    response = admin_web.post("/services/new/", data)
    assert response.status_code == 302
    service = Service.objects.get(slug="ledger")
    assert (service.kind, service.input_schema) == ("model", {})
    assert not PromptTemplate.objects.exists()


BAD_CREATES = [
    ({"slug": "Not A Slug"}, "slug", 400),
    ({"name": ""}, "name", 400),
    ({"route": "globex-smart"}, "route", 400),  # another tenant's route is no choice
    ({"shared_with": "globex, nowhere"}, "shared_with", 400),
    ({"tags": "ok, -bad-"}, "tags", 400),
    ({"variables_schema": "{not json"}, "variables_schema", 400),
    ({"variables_schema": '{"type": "string"}'}, "variables_schema", 400),
    ({"variables_schema": '{"type": "object", "properties": {"text": {"type": "nope"}}}'}, "variables_schema", 400),
    ({"user_template": "Summarize: {{ txet }}"}, "user_template", 400),
    ({"user_template": "{% if %}"}, "user_template", 400),
    ({"user_template": ""}, "user_template", 400),
    ({"output_mode": "json"}, "output_schema", 400),
    ({"slug": "sentiment"}, "slug", 409),
]


@pytest.mark.parametrize(("change", "field", "status"), BAD_CREATES)
def test_bad_input_is_shown_at_its_field_with_what_was_typed_and_nothing_is_saved(
    admin_web, sentiment, other_route, tenant, change, field, status
):
    before = tenant_state(tenant)
    response = admin_web.post("/services/new/", {**PROMPT_API, **change})
    assert response.status_code == status
    form = response.context["form"]
    assert form.errors[field], form.errors
    assert list(form.errors) == [field]
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page  # the message sits under its field
    assert 'value="Shorter text"' in page  # what was typed is kept
    assert "Summarize: {{" in page or field == "user_template"
    assert tenant_state(tenant) == before
    assert not Service.objects.filter(slug="summarize").exists()


def test_the_page_without_routes_says_to_add_one_first(client_for, members):
    page = client_for(members[Role.OWNER].user).get("/services/new/").content.decode()
    assert "First, a route" in page
    assert 'href="/routes/"' in page


def test_editing_changes_details_tags_and_sharing_in_one_audited_save(admin_web, sentiment, other_tenant):
    form = admin_web.get("/catalog/sentiment/edit/").context["form"]
    assert form.initial["tags"] == "nlp, text"
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(name="Sentiment v2", tags="nlp", shared_with="globex", output_schema=json.dumps(data["output_schema"]))
    response = admin_web.post("/catalog/sentiment/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    sentiment.refresh_from_db()
    assert sentiment.name == "Sentiment v2"
    assert list(sentiment.tags.values_list("name", flat=True)) == ["nlp"]
    assert list(sentiment.shared_with.all()) == [other_tenant]
    event = AuditEvent.objects.get(action="service.update")
    assert event.changes["shared_with"] == [[], ["globex"]]
    assert event.changes["tags"] == [["nlp", "text"], ["nlp"]]


def test_a_refused_edit_keeps_the_service_as_it_was(admin_web, sentiment, tenant):
    before = tenant_state(tenant)
    form = admin_web.get("/catalog/sentiment/edit/").context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(name="Renamed", output_schema="{}")  # JSON output without a schema: refused by the service
    response = admin_web.post("/catalog/sentiment/edit/", data)
    assert response.status_code == 400
    assert response.context["form"].errors["output_schema"]
    assert 'value="Renamed"' in response.content.decode()
    assert tenant_state(tenant) == before


PLAN = {
    "name": "Gold",
    "slug": "gold",
    "description": "For production",
    "requests_per_minute": "60",
    "requests_per_day": "",
    "requests_per_month": "100000",
    "tokens_per_minute": "",
    "monthly_budget": "250.50",
    "allowed_models": ["smart", "fast"],
    "position": "1",
}


def test_an_admin_adds_and_edits_a_plan_with_limits_budget_and_models(admin_web, sentiment, tenant):
    RouteFactory(tenant=tenant, alias="fast")
    response = admin_web.post("/catalog/sentiment/plans/", {**PLAN, "over_budget_route": "fast"})
    assert response.status_code == 302, response.context["form"].errors
    plan = Plan.objects.get(slug="gold")
    assert (plan.requests_per_minute, plan.requests_per_day, plan.monthly_budget) == (60, None, Decimal("250.50"))
    assert (plan.allowed_models, plan.is_default) == (["smart", "fast"], True)  # the first plan is the default
    assert plan.over_budget_route == "fast"

    response = admin_web.post(
        "/catalog/sentiment/plans/gold/",
        {**PLAN, "requests_per_day": "500", "allowed_models": [], "over_budget_route": "fast"},
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.requests_per_day, plan.allowed_models) == (500, [])
    assert AuditEvent.objects.get(action="plan.update").changes["requests_per_day"] == [None, 500]
    page = admin_web.get("/catalog/sentiment/manage/").content.decode()
    assert "Plan Gold is saved." in page
    assert "<td>500</td>" in page
    assert "then <code>fast</code>" in page  # where calls go once its budget is reached
    form = admin_web.get("/catalog/sentiment/plans/gold/").content.decode()
    assert "Send to fast" in form
    assert "Send to smart" not in form  # the service's own route is no fallback: not offered


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"requests_per_day": "-1"}, "requests_per_day"),
        ({"requests_per_minute": "-5"}, "requests_per_minute"),
        ({"monthly_budget": "-10"}, "monthly_budget"),
        ({"allowed_models": ["globex-smart"]}, "allowed_models"),
        ({"slug": "Gold Plan"}, "slug"),
        ({"position": "101"}, "position"),
        ({"requests_per_minute": "0"}, "requests_per_minute"),
        ({"tokens_per_minute": "0"}, "tokens_per_minute"),
        ({"daily_budget": "-1"}, "daily_budget"),
        ({"budget_currency": "EUR"}, "budget_currency"),
        ({"budget_alert_percent": "0"}, "budget_alert_percent"),
        ({"budget_alert_percent": "101"}, "budget_alert_percent"),
        ({"over_budget_route": "smart"}, "over_budget_route"),  # the service's own route
        ({"over_budget_route": "globex-smart"}, "over_budget_route"),
    ],
)
def test_a_plan_with_a_negative_limit_or_unknown_model_is_refused_at_its_field(
    admin_web, sentiment, other_route, tenant, change, field
):
    before = tenant_state(tenant)
    response = admin_web.post("/catalog/sentiment/plans/", {**PLAN, "allowed_models": ["smart"], **change})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert f'id="id_{field}_error"' in response.content.decode()
    assert 'value="For production"' in response.content.decode()
    assert tenant_state(tenant) == before


def test_a_plan_in_use_cannot_be_deleted_and_the_page_says_so(admin_web, sentiment, tenant):
    plan = PlanFactory(service=sentiment, slug="free", name="Free")
    SubscriptionFactory(plan=plan)
    before = tenant_state(tenant)
    response = admin_web.post("/catalog/sentiment/plans/free/delete/")
    assert response.status_code == 409
    row = response.content.decode().split('id="plan-free"', 1)[1].split("</tr>", 1)[0]
    assert "used by 1 subscription(s)" in row  # said at the plan's own Delete button, on the service's page
    assert tenant_state(tenant) == before

    unused = PlanFactory(service=sentiment, slug="trial", name="Trial")
    assert admin_web.post("/catalog/sentiment/plans/trial/delete/").status_code == 302
    assert not Plan.objects.filter(pk=unused.pk).exists()


def test_publish_deprecate_with_a_sunset_date_and_retire_from_the_page(admin_web, sentiment):
    manage = "/catalog/sentiment/manage/"
    page = admin_web.get(manage).content.decode()
    assert 'action="/catalog/sentiment/publish/"' in page
    assert 'action="/catalog/sentiment/deprecate/"' not in page  # a draft cannot be deprecated

    assert admin_web.post("/catalog/sentiment/publish/")["Location"] == manage
    page = admin_web.get(manage).content.decode()
    assert "Sentiment is published" in page
    assert 'action="/catalog/sentiment/deprecate/"' in page
    assert "data-confirm=" in page  # deprecating and retiring ask first

    sunset = _in(45)
    assert admin_web.post("/catalog/sentiment/deprecate/", {"sunset_on": sunset.isoformat()}).status_code == 302
    sentiment.refresh_from_db()
    assert (sentiment.lifecycle, sentiment.sunset_on) == ("deprecated", sunset)
    assert f"to be retired on {sunset:%Y-%m-%d}" in admin_web.get(manage).content.decode()
    catalog_page = admin_web.get("/catalog/sentiment/").content.decode()
    assert f'datetime="{sunset:%Y-%m-%d}"' in catalog_page

    assert admin_web.post("/catalog/sentiment/retire/").status_code == 302
    sentiment.refresh_from_db()
    assert sentiment.lifecycle == "retired"
    page = admin_web.get(manage).content.decode()
    assert "Sentiment is retired" in page
    assert "/publish/" not in page
    assert "/retire/" not in page
    assert list(
        AuditEvent.objects.filter(action__startswith="service.").order_by("pk").values_list("action", flat=True)
    ) == [
        "service.create",
        "service.publish",
        "service.deprecate",
        "service.retire",
    ]


def test_a_move_that_is_not_allowed_is_refused_at_the_action_and_the_page_stays_usable(admin_web, sentiment, tenant):
    Service.objects.filter(pk=sentiment.pk).update(lifecycle=Lifecycle.RETIRED)
    before = tenant_state(tenant)
    response = admin_web.post("/catalog/sentiment/publish/")  # a stale page's button
    assert response.status_code == 409
    page = response.content.decode()
    assert "A retired service cannot become published; it can become nothing: retired is final." in page
    assert 'id="lifecycle"' in page
    assert 'id="plans"' in page
    assert tenant_state(tenant) == before


@pytest.mark.parametrize("days", [0, -1])
def test_a_sunset_date_that_is_not_ahead_is_refused_at_its_field(admin_web, sentiment, tenant, days):
    Service.objects.filter(pk=sentiment.pk).update(lifecycle=Lifecycle.PUBLISHED)
    before = tenant_state(tenant)
    response = admin_web.post("/catalog/sentiment/deprecate/", {"sunset_on": _in(days).isoformat()})
    assert response.status_code == 400
    assert response.context["deprecate_form"].errors["sunset_on"] == ["The sunset date must be after today."]
    page = response.content.decode()
    assert 'id="id_sunset_on_error"' in page
    assert f'value="{_in(days):%Y-%m-%d}"' in page
    assert tenant_state(tenant) == before


def test_an_unknown_service_or_plan_is_404(admin_web, sentiment):
    assert admin_web.get("/catalog/nothing/manage/").status_code == 404
    assert admin_web.post("/catalog/nothing/retire/").status_code == 404
    assert admin_web.get("/catalog/sentiment/plans/nothing/").status_code == 404


def test_a_plan_keeps_its_daily_budget_currency_and_alert(admin_web, sentiment, tenant):
    budgets = {"daily_budget": "12.00", "budget_currency": "USD", "budget_alert_percent": "90"}
    response = admin_web.post("/catalog/sentiment/plans/", {**PLAN, "allowed_models": ["smart"], **budgets})
    assert response.status_code == 302, response.context["form"].errors
    plan = Plan.objects.get(slug="gold")
    assert (plan.daily_budget, plan.budget_currency, plan.budget_alert_percent) == (Decimal("12.00"), "USD", 90)
    page = admin_web.get("/catalog/sentiment/plans/gold/").content.decode()
    assert 'name="daily_budget" value="12.00"' in page
    assert "<td>$12.00</td>" in admin_web.get("/catalog/sentiment/manage/").content.decode()


def _edit_data(web, slug: str) -> dict:
    """What the edit page's form posts unchanged (JSON fields as their text, unticked boxes left out)."""
    form = web.get(f"/catalog/{slug}/edit/").context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None and value is not False}
    return {name: json.dumps(value) if isinstance(value, dict) else value for name, value in data.items()}


@pytest.fixture
def embed(tenant):
    """Route `embed`, served by a model with the embedding modality."""
    model = ProviderModelFactory(provider__tenant=tenant, modalities=["embedding"])
    return DeploymentFactory(route=RouteFactory(tenant=tenant, alias="embed"), model=model).route


def test_a_service_caches_by_ttl_and_semantically_from_its_edit_page(admin_web, sentiment, embed):
    cache = {"cache_ttl_seconds": "600", "semantic_cache": "on", "semantic_cache_route": embed.alias}
    response = admin_web.post("/catalog/sentiment/edit/", {**_edit_data(admin_web, "sentiment"), **cache})
    assert response.status_code == 302, response.context["form"].errors
    sentiment.refresh_from_db()
    assert (sentiment.cache_ttl_seconds, sentiment.semantic_cache, sentiment.semantic_cache_route) == (
        600,
        True,
        "embed",
    )
    assert sentiment.semantic_cache_threshold == 0.95


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cache_ttl_seconds": "0"}, "cache_ttl_seconds"),
        ({"cache_ttl_seconds": "604801"}, "cache_ttl_seconds"),
        ({"cache_ttl_seconds": "60", "semantic_cache": "on"}, "semantic_cache_route"),
        ({"cache_ttl_seconds": "60", "semantic_cache": "on", "semantic_cache_route": "smart"}, "semantic_cache_route"),
        ({"semantic_cache": "on", "semantic_cache_route": "embed"}, "cache_ttl_seconds"),
        ({"semantic_cache_threshold": "0.5"}, "semantic_cache_threshold"),
    ],
)
def test_bad_cache_settings_are_refused_at_their_field(admin_web, sentiment, embed, tenant, change, field):
    before = tenant_state(tenant)
    response = admin_web.post("/catalog/sentiment/edit/", {**_edit_data(admin_web, "sentiment"), **change})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert tenant_state(tenant) == before
    sentiment.refresh_from_db()
    assert (sentiment.cache_ttl_seconds, sentiment.semantic_cache) == (None, False)


def test_a_model_apis_edit_page_has_no_output_settings_and_saves(admin_web, tenant, route):
    ServiceFactory(tenant=tenant, route=route, slug="ledger", name="Ledger", lifecycle=Lifecycle.DRAFT)
    page = admin_web.get("/catalog/ledger/edit/")
    assert page.status_code == 200
    assert "output_mode" not in page.context["form"].fields
    data = {"name": "Ledger API", "route": "smart", "visibility": "public", "approval_mode": "manual",
            "expected_tokens_per_call": "500", "capture_bodies_days": "7"}  # fmt: skip
    assert admin_web.post("/catalog/ledger/edit/", data).status_code == 302
    service = Service.objects.get(slug="ledger")
    assert (service.name, service.visibility, service.capture_bodies_days) == ("Ledger API", "public", 7)
