"""GET /api/v1/services/: the catalog as a tenant sees it, read by apps with their key and by people."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.access.models import ApiKey, ApiKeyScope
from apps.access.services import token_revoke
from apps.catalog.models import Lifecycle, Visibility
from apps.catalog.permissions import CATALOG_SCOPE
from tests.factories import MembershipFactory, PlanFactory, ServiceFactory, TagFactory
from tests.helpers import API

pytestmark = pytest.mark.django_db

CATALOG = f"{API}/services/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def shelf(tenant, other_tenant, third_tenant, route, other_route):
    """acme's services in every visibility and lifecycle, and one draft of globex's own."""

    def make(slug, visibility, lifecycle=Lifecycle.PUBLISHED, shared=()):
        service = ServiceFactory(tenant=tenant, route=route, slug=slug, visibility=visibility, lifecycle=lifecycle)
        service.shared_with.set(shared)
        return service

    public = make("public-live", Visibility.PUBLIC)
    public.tags.set([TagFactory(name="nlp")])
    PlanFactory(service=public, slug="free", name="Free", requests_per_day=100, is_default=True)
    make("shared-with-globex", Visibility.SHARED, shared=[other_tenant])
    make("shared-with-initech", Visibility.SHARED, shared=[third_tenant])
    make("private-live", Visibility.PRIVATE)
    make("public-draft", Visibility.PUBLIC, Lifecycle.DRAFT)
    make("public-deprecated", Visibility.PUBLIC, Lifecycle.DEPRECATED)
    make("public-retired", Visibility.PUBLIC, Lifecycle.RETIRED)
    ServiceFactory(tenant=other_tenant, route=other_route, slug="globex-draft", lifecycle=Lifecycle.DRAFT)


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(row["slug"] for row in response.json()["results"])


def test_a_key_of_tenant_b_sees_its_own_and_the_public_and_shared_with_b_live_services(shelf, other_tenant, key_for):
    _, secret = key_for(other_tenant)
    assert slugs(bearer(secret).get(CATALOG)) == [
        "globex-draft",
        "public-deprecated",
        "public-live",
        "shared-with-globex",
    ]


def test_a_listed_service_says_what_a_caller_needs(shelf, other_tenant, key_for):
    _, secret = key_for(other_tenant)
    row = next(r for r in bearer(secret).get(CATALOG).json()["results"] if r["slug"] == "public-live")
    assert row["owner"] == "acme"
    assert (row["lifecycle"], row["status"], row["kind"], row["tags"]) == ("published", "published", "model", ["nlp"])
    assert row["plans"] == [
        {
            "slug": "free",
            "name": "Free",
            "description": "",
            "requests_per_day": 100,
            "requests_per_month": None,
            "requests_per_minute": None,
            "tokens_per_minute": None,
            "daily_budget": None,
            "monthly_budget": None,
            "budget_currency": "USD",
            "is_default": True,
        }
    ]
    assert row["docs_url"] == "http://testserver/catalog/public-live/"
    assert row["openapi_url"] == "http://testserver/api/v1/services/public-live/openapi.json"
    assert "route" not in row
    assert "shared_with" not in row


@pytest.mark.parametrize(
    ("query", "expected"),
    [("?q=deprecated", ["public-deprecated"]), ("?tag=nlp", ["public-live"]), ("?kind=prompt", [])],
)
def test_filters(shelf, other_tenant, key_for, query, expected):
    _, secret = key_for(other_tenant)
    assert slugs(bearer(secret).get(f"{CATALOG}{query}")) == expected


def test_an_unknown_kind_filter_is_a_400(shelf, other_tenant, key_for):
    _, secret = key_for(other_tenant)
    response = bearer(secret).get(f"{CATALOG}?kind=robot")
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]


@pytest.mark.parametrize(
    ("slug", "status"),
    [
        ("public-live", 200),
        ("shared-with-globex", 200),
        ("shared-with-initech", 404),
        ("private-live", 404),
        ("public-draft", 404),
        ("public-retired", 404),
        ("no-such-service", 404),
    ],
)
def test_detail_and_openapi_of_what_the_key_may_not_see_are_404(shelf, other_tenant, key_for, slug, status):
    _, secret = key_for(other_tenant)
    client = bearer(secret)
    detail = client.get(f"{CATALOG}{slug}/")
    assert detail.status_code == status
    assert client.get(f"{CATALOG}{slug}/openapi.json").status_code == status
    if status == 404:
        assert detail.json() == {"message": "Not found."}
    else:
        assert {"description", "input_schema", "output_mode"} <= set(detail.json())


def test_a_key_without_the_catalog_scope_gets_403(shelf, other_tenant, key_for):
    _, secret = key_for(other_tenant, scopes=["gateway"])
    response = bearer(secret).get(CATALOG)
    assert response.status_code == 403
    assert "catalog" in response.json()["message"]


def test_a_revoked_key_gets_401(shelf, other_tenant, key_for):
    key, secret = key_for(other_tenant)
    token_revoke(token=key)
    response = bearer(secret).get(CATALOG)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_or_forged_key_gets_401(shelf, other_tenant, key_for):
    key, secret = key_for(other_tenant)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(secret).get(CATALOG).status_code == 401
    assert bearer(f"{secret[:-4]}xxxx").get(CATALOG).status_code == 401


def test_without_credentials_the_answer_is_401(shelf):
    assert APIClient().get(CATALOG).status_code == 401


def test_an_app_key_reads_only_the_catalog_not_the_management_api(other_tenant, key_for):
    _, secret = key_for(other_tenant)
    assert bearer(secret).get(f"{API}/tenants/globex/services/").status_code in (401, 403)


def test_a_person_reads_the_catalog_of_their_tenant(shelf, mallory, api_client_for):
    assert "shared-with-globex" in slugs(api_client_for(mallory).get(CATALOG))


def test_a_person_in_several_tenants_names_one(shelf, mallory, tenant, api_client_for):
    MembershipFactory(user=mallory, tenant=tenant)
    client = api_client_for(mallory)
    refused = client.get(CATALOG)
    assert refused.status_code == 400
    assert "tenant" in refused.json()["errors"]
    assert "private-live" in slugs(client.get(f"{CATALOG}?tenant=acme"))
    assert "private-live" not in slugs(client.get(f"{CATALOG}?tenant=globex"))


def test_a_person_cannot_read_the_catalog_of_a_tenant_they_are_not_in(shelf, mallory, api_client_for):
    assert api_client_for(mallory).get(f"{CATALOG}?tenant=acme").status_code == 404


def test_the_scope_name_is_the_access_apps(db):
    assert ApiKeyScope.CATALOG == CATALOG_SCOPE
