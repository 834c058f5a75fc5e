"""The catalog's web pages: browse and filter what the current tenant may see; a service's documentation page."""

from __future__ import annotations

import re

import pytest

from apps.catalog.models import Lifecycle, Service, Visibility
from tests.factories import PlanFactory, ServiceFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(sentiment):
    Service.objects.filter(pk=sentiment.pk).update(lifecycle=Lifecycle.PUBLISHED)
    sentiment.refresh_from_db()
    PlanFactory(service=sentiment, slug="free", name="Free", requests_per_day=100, is_default=True)
    return sentiment


def test_the_list_shows_visible_services_and_filters_them(published, other_tenant, other_route, mallory, client_for):
    ServiceFactory(tenant=other_tenant, route=other_route, slug="ledger", name="Ledger").tags.set(
        [TagFactory(name="finance")]
    )
    ServiceFactory(tenant=published.tenant, route=published.route, slug="secret", name="Secret Thing")
    client = client_for(mallory)
    page = client.get("/catalog/").content.decode()
    assert "Sentiment" in page
    assert "Ledger" in page
    assert "Secret Thing" not in page
    assert re.search(r'aria-current="page">(?:(?!</a>).)*Catalog</a>', page, re.DOTALL)  # icons may come first
    filtered = client.get("/catalog/?tag=finance").content.decode()
    assert ("Ledger" in filtered, "Sentiment" in filtered) == (True, False)
    assert "Sentiment" in client.get("/catalog/?q=positive&kind=prompt").content.decode()
    assert "No services found" in client.get("/catalog/?q=nothing-like-this").content.decode()


def test_the_detail_page_documents_the_service(published, mallory, client_for):
    response = client_for(mallory).get("/catalog/sentiment/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong>sentiment</strong>" in page  # the Markdown description, rendered
    assert "<td>100</td>" in page  # the free plan's requests per day
    assert "<code>text</code>" in page  # the input table
    assert "what to classify" in page
    assert '<a href="/catalog/sentiment/openapi/">OpenAPI document</a>' in page  # readable, for any member
    assert "<code>/api/v1/services/sentiment/openapi.json</code>" in page  # what apps fetch with their key
    assert "curl -sS -X POST &#x27;http://testserver/api/v1/services/sentiment/invoke&#x27;" in page
    assert "httpx.post(" in page
    assert "await fetch(" in page
    assert "Deprecated" not in page


def test_a_deprecated_service_shows_a_warning(published, mallory, client_for):
    Service.objects.filter(pk=published.pk).update(lifecycle=Lifecycle.DEPRECATED)
    page = client_for(mallory).get("/catalog/sentiment/").content.decode()
    assert "message-warning" in page
    assert "badge-deprecated" in page


def test_subscribers_are_told_when_a_service_keeps_its_calls(published, mallory, client_for):
    assert "Calls are kept" not in client_for(mallory).get("/catalog/sentiment/").content.decode()
    Service.objects.filter(pk=published.pk).update(capture_bodies_days=14)
    page = client_for(mallory).get("/catalog/sentiment/").content.decode()
    assert "Calls are kept" in page
    assert "for\n    14 days" in page


def test_a_script_in_the_description_does_not_reach_the_page(published, mallory, client_for):
    evil = "Hello <script>alert('pwned')</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))"
    Service.objects.filter(pk=published.pk).update(description=evil)
    page = client_for(mallory).get("/catalog/sentiment/").content.decode()
    assert "Hello" in page
    for forbidden in ("alert('pwned')", "onerror", "javascript:alert"):
        assert forbidden not in page


@pytest.mark.parametrize(
    ("visibility", "lifecycle"),
    [(Visibility.PRIVATE, Lifecycle.PUBLISHED), (Visibility.PUBLIC, Lifecycle.DRAFT)],
)
def test_a_service_the_tenant_may_not_see_is_404(sentiment, mallory, client_for, visibility, lifecycle):
    Service.objects.filter(pk=sentiment.pk).update(visibility=visibility, lifecycle=lifecycle)
    assert client_for(mallory).get("/catalog/sentiment/").status_code == 404


def test_the_owner_sees_its_draft_with_a_notice(sentiment, owner, client_for):
    page = client_for(owner).get("/catalog/sentiment/").content.decode()
    assert "Draft." in page


def test_the_catalog_needs_a_login(client):
    response = client.get("/catalog/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_model_apis_page_and_snippets_call_chat_completions_not_invoke(tenant, route, mallory, client_for):
    ServiceFactory(tenant=tenant, route=route, slug="ledger", name="Ledger", visibility=Visibility.PUBLIC)
    page = client_for(mallory).get("/catalog/ledger/").content.decode()
    assert "/invoke" not in page
    assert "<code>POST /v1/chat/completions</code>" in page
    assert "curl -sS -X POST &#x27;http://testserver/v1/chat/completions&#x27;" in page
    assert "&quot;model&quot;: &quot;ledger&quot;" in page  # the body names the model API
    assert "print(response.json()[&quot;choices&quot;][0][&quot;message&quot;][&quot;content&quot;])" in page
    assert "console.log(answer.choices[0].message.content);" in page
    assert "<code>smart</code>" not in page  # its route stays the owner's business


def test_the_owners_page_of_a_model_api_names_the_route_its_own_apps_call(tenant, route, owner, client_for):
    ServiceFactory(tenant=tenant, route=route, slug="ledger", name="Ledger")
    page = client_for(owner).get("/catalog/ledger/").content.decode()
    assert "own apps call its route <code>smart</code> directly" in page
