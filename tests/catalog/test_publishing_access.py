"""Who reaches the publishing pages and actions: every page and action against owner, admin, developer, viewer, the
owner of another tenant and an anonymous visitor. Owners and admins (the API's rule: service_manage_allowed) get
the page or the change; developers and viewers get the 403 page naming the role to ask for, and no button;
another tenant gets 404; anonymous visitors are sent to log in. A refusal changes nothing."""

from __future__ import annotations

import pytest

from apps.catalog.models import Lifecycle, Service
from apps.tenants.models import Role
from tests.factories import PlanFactory
from tests.helpers import tenant_state

pytestmark = pytest.mark.django_db

MANAGERS = (Role.OWNER, Role.ADMIN)
WHO = [Role.OWNER, Role.ADMIN, Role.DEVELOPER, Role.VIEWER, "other-tenant", "anonymous"]
NEW_SERVICE = {"kind": "model", "name": "Ledger", "slug": "ledger", "route": "smart", "visibility": "private",
               "approval_mode": "manual"}  # fmt: skip
PLAN = {"name": "Gold", "slug": "gold", "position": "0"}
SERVICE_EDIT = {"name": "Sentiment 2", "route": "smart", "visibility": "public", "approval_mode": "auto",
                "output_mode": "json", "output_schema": '{"type": "object"}', "expected_tokens_per_call": "1000",
                "capture_bodies_days": "0"}  # fmt: skip

# (id, method, path, form data, lifecycle the service starts in)
SERVICE_ACTIONS = [
    ("manage", "get", "/catalog/sentiment/manage/", None, Lifecycle.DRAFT),
    ("edit-page", "get", "/catalog/sentiment/edit/", None, Lifecycle.DRAFT),
    ("edit", "post", "/catalog/sentiment/edit/", SERVICE_EDIT, Lifecycle.DRAFT),
    ("publish", "post", "/catalog/sentiment/publish/", {}, Lifecycle.DRAFT),
    ("deprecate", "post", "/catalog/sentiment/deprecate/", {"sunset_on": ""}, Lifecycle.PUBLISHED),
    ("retire", "post", "/catalog/sentiment/retire/", {}, Lifecycle.PUBLISHED),
    ("plan-create-page", "get", "/catalog/sentiment/plans/", None, Lifecycle.DRAFT),
    ("plan-create", "post", "/catalog/sentiment/plans/", PLAN, Lifecycle.DRAFT),
    ("plan-edit-page", "get", "/catalog/sentiment/plans/free/", None, Lifecycle.DRAFT),
    ("plan-edit", "post", "/catalog/sentiment/plans/free/", {**PLAN, "requests_per_day": "5"}, Lifecycle.DRAFT),
    ("plan-delete", "post", "/catalog/sentiment/plans/free/delete/", {}, Lifecycle.DRAFT),
]


@pytest.fixture
def web(client, members, mallory):
    """web(who) → Django's test client as that person (not logged in for "anonymous")."""

    def as_(who):
        if who == "other-tenant":
            client.force_login(mallory)
        elif who != "anonymous":
            client.force_login(members[who].user)
        return client

    return as_


@pytest.fixture
def service(sentiment):
    PlanFactory(service=sentiment, slug="free", name="Free", is_default=True)
    return sentiment


def _call(client, method, path, data):
    return client.get(path) if method == "get" else client.post(path, data)


def _assert_refused(response, who, before, tenant):
    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif who == "other-tenant":
        assert response.status_code == 404
    else:
        assert response.status_code == 403
        page = response.content.decode()
        assert "needs the admin role in Acme" in page
        assert "Ask an owner or admin of Acme for the admin role." in page
    assert tenant_state(tenant) == before


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    ("method", "path", "data", "start"), [pytest.param(*action[1:], id=action[0]) for action in SERVICE_ACTIONS]
)
def test_each_service_page_and_action_answers_only_its_managers(web, service, tenant, who, method, path, data, start):
    Service.objects.filter(pk=service.pk).update(lifecycle=start)
    before = tenant_state(tenant)
    response = _call(web(who), method, path, data)
    if who in MANAGERS:
        assert response.status_code == (200 if method == "get" else 302), response.content.decode()[:3000]
        if method == "post":
            assert response["Location"] == "/catalog/sentiment/manage/"
            assert tenant_state(tenant) != before
    else:
        _assert_refused(response, who, before, tenant)


@pytest.mark.parametrize("who", WHO)
def test_creating_a_service_is_for_managers(web, service, route, tenant, who):
    before = tenant_state(tenant)
    page = web(who).get("/services/new/")
    created = web(who).post("/services/new/", NEW_SERVICE)
    if who in MANAGERS:
        assert page.status_code == 200
        assert created.status_code == 302
        assert Service.objects.get(slug="ledger").tenant == tenant
    elif who == "other-tenant":
        # her own tenant's page; acme's route is not one of hers, so nothing is created anywhere
        assert page.status_code == 200
        assert created.status_code == 400
        assert "smart" not in page.content.decode()
        assert not Service.objects.filter(slug="ledger").exists()
        assert tenant_state(tenant) == before
    else:
        _assert_refused(page, who, before, tenant)
        _assert_refused(created, who, before, tenant)


@pytest.mark.parametrize("who", WHO)
def test_every_member_reads_the_list_of_services_and_only_managers_see_the_buttons(web, service, who):
    response = web(who).get("/services/")
    if who == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    page = response.content.decode()
    assert ("Sentiment" in page) is (who != "other-tenant")
    assert ('href="/services/new/"' in page) is (who in (*MANAGERS, "other-tenant"))  # Mallory owns globex
    assert ('href="/catalog/sentiment/manage/"' in page) is (who in MANAGERS)
    catalog = web(who).get("/catalog/").content.decode()
    assert ('href="/services/new/"' in catalog) is (who in (*MANAGERS, "other-tenant"))


@pytest.mark.parametrize("who", [Role.OWNER, Role.ADMIN, Role.DEVELOPER, Role.VIEWER])
def test_the_catalog_page_of_an_own_service_offers_manage_to_managers_only(web, service, who):
    page = web(who).get("/catalog/sentiment/").content.decode()
    assert ('href="/catalog/sentiment/manage/"' in page) is (who in MANAGERS)


def test_another_tenant_sees_no_manage_button_on_a_service_it_may_use(web, service):
    Service.objects.filter(pk=service.pk).update(lifecycle=Lifecycle.PUBLISHED)  # public: globex sees it
    page = web("other-tenant").get("/catalog/sentiment/")
    assert page.status_code == 200
    assert "/manage/" not in page.content.decode()


@pytest.mark.parametrize("who", WHO)
def test_the_description_preview_is_for_members(web, who):
    response = web(who).post("/services/preview/", {"description": "**bold** <script>alert(1)</script>"})
    if who == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html
