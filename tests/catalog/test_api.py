"""The management API of a tenant's services and plans: members read, owners and admins write."""

from __future__ import annotations

import pytest

from apps.catalog.models import Lifecycle, Service
from apps.core.models import AuditEvent
from apps.tenants.models import Role
from tests.catalog.conftest import SENTIMENT_INPUT, SENTIMENT_OUTPUT
from tests.factories import ServiceFactory, SubscriptionFactory
from tests.helpers import API, tenant_state

pytestmark = pytest.mark.django_db

SERVICES = f"{API}/tenants/acme/services/"
NEW = {
    "slug": "summarize",
    "name": "Summarize",
    "kind": "prompt",
    "route": "smart",
    "summary": "Shorter text",
    "tags": ["nlp"],
    "visibility": "public",
    "input_schema": SENTIMENT_INPUT,
}


@pytest.fixture
def admin_api(admin, route, api_client_for):
    """An admin of acme, which has the route `smart`."""
    return api_client_for(admin.user)


def test_an_admin_creates_and_reads_a_service(admin_api):
    created = admin_api.post(SERVICES, NEW, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["lifecycle"] == "draft"
    assert (body["route"], body["tags"], body["approval_mode"], body["plans"]) == ("smart", ["nlp"], "manual", [])
    assert admin_api.get(f"{SERVICES}summarize/").json() == body
    assert [s["slug"] for s in admin_api.get(SERVICES).json()["results"]] == ["summarize"]


def test_json_output_with_its_schema(admin_api):
    created = admin_api.post(SERVICES, {**NEW, "output_mode": "json", "output_schema": SENTIMENT_OUTPUT}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["output_schema"] == SENTIMENT_OUTPUT


def test_partial_update(admin_api, sentiment):
    response = admin_api.patch(f"{SERVICES}sentiment/", {"summary": "Mood", "tags": ["x"]}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["summary"], response.json()["tags"]) == ("Mood", ["x"])


def test_capturing_bodies_is_switched_on_for_a_number_of_days_and_audited(admin_api, sentiment):
    response = admin_api.patch(f"{SERVICES}sentiment/", {"capture_bodies_days": 7}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["capture_bodies_days"] == 7
    event = AuditEvent.objects.filter(action="service.update").latest("created_at")
    assert event.changes["capture_bodies_days"] == [0, 7]


@pytest.mark.parametrize(
    ("steps", "final"),
    [
        (["publish"], "published"),
        (["publish", "deprecate"], "deprecated"),
        (["publish", "deprecate", "publish"], "published"),
        (["retire"], "retired"),
    ],
)
def test_lifecycle_actions(admin_api, sentiment, steps, final):
    for step in steps:
        response = admin_api.post(f"{SERVICES}sentiment/{step}/")
        assert response.status_code == 200, response.content
    assert response.json()["lifecycle"] == final


def test_a_refused_transition_is_a_409_naming_the_lifecycle(admin_api, sentiment):
    response = admin_api.post(f"{SERVICES}sentiment/deprecate/")
    assert response.status_code == 409
    assert "lifecycle" in response.json()["errors"]
    admin_api.post(f"{SERVICES}sentiment/retire/")
    assert admin_api.post(f"{SERVICES}sentiment/publish/").status_code == 409


def test_share_with_tenants_by_slug(admin_api, sentiment, other_tenant, third_tenant):
    response = admin_api.post(f"{SERVICES}sentiment/share/", {"tenants": ["initech", "globex"]}, format="json")
    assert response.status_code == 200, response.content
    assert sorted(response.json()["shared_with"]) == ["globex", "initech"]


def test_plans_crud(admin_api, sentiment):
    plans = f"{SERVICES}sentiment/plans/"
    created = admin_api.post(plans, {"slug": "free", "name": "Free", "requests_per_day": 100}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["is_default"] is True
    changed = admin_api.patch(f"{plans}free/", {"monthly_budget": "9.50"}, format="json")
    assert (changed.status_code, changed.json()["monthly_budget"]) == (200, "9.50")
    assert [p["slug"] for p in admin_api.get(plans).json()["results"]] == ["free"]
    assert admin_api.get(f"{SERVICES}sentiment/").json()["plans"][0]["slug"] == "free"
    assert admin_api.delete(f"{plans}free/").status_code == 204
    assert admin_api.get(f"{plans}free/").status_code == 404


def test_a_plan_in_use_cannot_be_deleted(admin_api, sentiment):
    plans = f"{SERVICES}sentiment/plans/"
    admin_api.post(plans, {"slug": "free", "name": "Free"}, format="json")
    SubscriptionFactory(plan=sentiment.plans.get())
    response = admin_api.delete(f"{plans}free/")
    assert response.status_code == 409
    assert "subscription" in response.json()["message"]


WRITES = [
    ("post", SERVICES, NEW),
    ("patch", f"{SERVICES}sentiment/", {"name": "Pwned"}),
    ("post", f"{SERVICES}sentiment/publish/", None),
    ("post", f"{SERVICES}sentiment/retire/", None),
    ("post", f"{SERVICES}sentiment/share/", {"tenants": ["globex"]}),
    ("post", f"{SERVICES}sentiment/plans/", {"slug": "free", "name": "Free"}),
]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_below_admin_gets_403_and_changes_nothing(
    members, sentiment, other_tenant, api_client_for, tenant, role, method, path, body
):
    before = tenant_state(tenant)
    response = getattr(api_client_for(members[role].user), method)(path, body, format="json")
    assert response.status_code == 403, response.content
    assert tenant_state(tenant) == before


@pytest.mark.parametrize("role", Role.values)
def test_every_member_reads(members, sentiment, api_client_for, role):
    client = api_client_for(members[role].user)
    assert client.get(f"{SERVICES}sentiment/").status_code == 200
    assert client.get(f"{SERVICES}sentiment/plans/").status_code == 200


def test_the_list_shows_only_the_tenants_own_services_in_every_lifecycle(admin_api, sentiment, other_route):
    Service.objects.filter(pk=sentiment.pk).update(lifecycle=Lifecycle.RETIRED)
    ServiceFactory(tenant=other_route.tenant, route=other_route, visibility="public")
    assert [s["slug"] for s in admin_api.get(SERVICES).json()["results"]] == ["sentiment"]
