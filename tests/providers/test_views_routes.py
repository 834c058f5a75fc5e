"""The Routes pages: list, create, the route page with its deployments (traffic shares, fallback order) and
settings, htmx edits of deployments, read-only pages for other roles, and 404 for another tenant's routes."""

from __future__ import annotations

import re

import pytest

from apps.providers.models import Deployment, Route
from apps.tenants.models import Role
from tests.factories import DeploymentFactory, ProviderFactory, ProviderModelFactory, RouteFactory
from tests.helpers import tenant_state

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
NONE = '<span class="muted">none</span>'


@pytest.fixture
def admin_web(members, client_for):
    return client_for(members[Role.ADMIN].user)


@pytest.fixture
def spare_model(echo_provider):
    """A model of the tenant that `smart` does not deploy yet."""
    return ProviderModelFactory(provider=echo_provider, name="spare")


def _shares(html: str) -> dict[str, str]:
    """{model name: its traffic share} of the deployments table, in the table's order."""
    rows = re.findall(r'<tr id="deployment-\d+">(.*?)</tr>', html, re.S)
    return {
        re.search(r"<code>([^<]+)</code>", row).group(1): re.search(r'<td class="share">(.*?)</td>', row).group(1)
        for row in rows
    }


def test_empty_routes_page_explains_how_routes_appear(admin_web, tenant):
    html = admin_web.get("/routes/").content.decode()
    assert "No routes yet" in html
    assert "publishes each" in html


def test_route_list_shows_aliases_and_deployments(admin_web, route):
    html = admin_web.get("/routes/").content.decode()
    assert 'href="/routes/smart/"' in html
    assert "<code>echo</code>" in html


def test_creating_a_route_with_slashes_opens_its_page(admin_web, echo_model):
    form = {"alias": "team/llama3.1:8b@eu", "description": "", "deadline_seconds": "30", "retries": "2"}
    response = admin_web.post("/routes/", form)
    assert response.status_code == 302
    assert response["Location"] == "/routes/team/llama3.1:8b@eu/"
    page = admin_web.get(response["Location"])
    assert page.status_code == 200
    assert "This route has no deployment yet" in page.content.decode()
    assert Route.objects.get(alias="team/llama3.1:8b@eu").deadline_seconds == 30


@pytest.mark.parametrize(
    ("alias", "status"), [("my route", 400), ("smart", 409), ("a/deployments", 400), ("trailing/", 400)]
)
def test_bad_aliases_are_an_error_on_the_alias_field(admin_web, route, alias, status):
    response = admin_web.post("/routes/", {"alias": alias, "deadline_seconds": "120", "retries": "1"})
    assert response.status_code == status
    assert response.context["form"].errors["alias"]
    assert list(Route.objects.filter(tenant=route.tenant).values_list("alias", flat=True)) == ["smart"]


def test_shares_are_per_priority_group_and_disabled_deployments_get_none(admin_web, route, echo_provider):
    Deployment.objects.filter(route=route).update(weight=3)
    for name, weight, priority, enabled in [("b", 1, 0, True), ("fallback", 5, 1, True), ("off", 9, 0, False)]:
        model = ProviderModelFactory(provider=echo_provider, name=name)
        DeploymentFactory(route=route, model=model, weight=weight, priority=priority, enabled=enabled)
    html = admin_web.get("/routes/smart/").content.decode()
    assert _shares(html) == {"echo": "75 %", "b": "25 %", "fallback": "100 %", "off": NONE}


def test_a_disabled_provider_gets_no_traffic(admin_web, route, tenant):
    other = ProviderModelFactory(provider=ProviderFactory(tenant=tenant, slug="down", enabled=False), name="down")
    DeploymentFactory(route=route, model=other, weight=5)
    shares = _shares(admin_web.get("/routes/smart/").content.decode())
    assert shares == {"echo": "100 %", "down": NONE}


def test_adding_changing_and_removing_a_deployment_with_htmx(admin_web, route, spare_model):
    added = admin_web.post(
        "/routes/smart/deployments/",
        {"model": "spare", "weight": "1", "priority": "0", "timeout_seconds": "60"},
        headers=HTMX,
    )
    assert added.status_code == 200
    assert added.content.decode().startswith('<section id="deployments">')
    assert _shares(added.content.decode()) == {"echo": "50 %", "spare": "50 %"}
    deployment = Deployment.objects.get(model=spare_model)
    url = f"/routes/smart/deployments/{deployment.pk}/"
    changed = admin_web.post(
        url, {"weight": "3", "priority": "0", "timeout_seconds": "9", "enabled": "on"}, headers=HTMX
    )
    assert _shares(changed.content.decode()) == {"spare": "75 %", "echo": "25 %"}
    deployment.refresh_from_db()
    assert (deployment.weight, deployment.timeout_seconds) == (3, 9.0)
    removed = admin_web.post(f"{url}remove/", headers=HTMX)
    assert _shares(removed.content.decode()) == {"echo": "100 %"}
    assert not Deployment.objects.filter(pk=deployment.pk).exists()


def test_a_refused_deployment_change_says_why_and_changes_nothing(admin_web, route):
    deployment = route.deployments.get()
    url = f"/routes/smart/deployments/{deployment.pk}/"
    response = admin_web.post(url, {"weight": "0", "priority": "0", "timeout_seconds": "60"}, headers=HTMX)
    assert response.status_code == 400
    assert "echo was not changed: Weight: Ensure this value is greater than or equal to 1." in response.content.decode()
    assert Deployment.objects.get(pk=deployment.pk).weight == 1


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"model": "echo"}, 409, "echo is already a deployment of smart."),
        ({"model": "globex-model"}, 400, "Select a valid choice."),
        ({"model": "spare", "weight": "0"}, 400, "Ensure this value is greater than or equal to 1."),
    ],
)
def test_refused_deployments_show_the_error_in_the_add_form(
    admin_web, route, spare_model, other_tenant, data, status, message
):
    ProviderModelFactory(provider=ProviderFactory(tenant=other_tenant), name="globex-model")
    form = {"weight": "1", "priority": "0", "timeout_seconds": "60", **data}
    response = admin_web.post("/routes/smart/deployments/", form, headers=HTMX)
    assert response.status_code == status
    assert message in response.content.decode()
    assert route.deployments.count() == 1


def test_route_settings_are_saved_and_checked(admin_web, route):
    form = {"description": "Best model", "deadline_seconds": "45", "retries": "0"}
    assert admin_web.post("/routes/smart/", form).status_code == 302
    route.refresh_from_db()
    assert (route.description, route.deadline_seconds, route.retries, route.enabled) == ("Best model", 45, 0, False)
    refused = admin_web.post("/routes/smart/", {**form, "retries": "9", "enabled": "on"})
    assert refused.status_code == 400
    assert refused.context["form"].errors["retries"]
    assert Route.objects.get(pk=route.pk).enabled is False


@pytest.mark.parametrize(("ttl", "expected"), [("3600", 3600), ("604800", 604800), ("", None)])
def test_a_route_caches_answers_for_the_ttl_set_on_its_page(admin_web, route, ttl, expected):
    form = {"description": "", "deadline_seconds": "45", "retries": "1", "enabled": "on", "cache_ttl_seconds": ttl}
    assert admin_web.post("/routes/smart/", form).status_code == 302
    route.refresh_from_db()
    assert route.cache_ttl_seconds == expected
    created = admin_web.post("/routes/", {**form, "alias": "cached"})
    assert created.status_code == 302
    assert Route.objects.get(alias="cached").cache_ttl_seconds == expected


@pytest.mark.parametrize("ttl", ["0", "-1", "604801", "soon"])
@pytest.mark.parametrize("where", ["/routes/smart/", "/routes/"])
def test_a_bad_cache_ttl_is_refused_at_its_field(admin_web, route, tenant, where, ttl):
    before = tenant_state(tenant)
    form = {"alias": "cached", "deadline_seconds": "45", "retries": "1", "cache_ttl_seconds": ttl}
    response = admin_web.post(where, form)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["cache_ttl_seconds"]
    assert 'id="id_cache_ttl_seconds_error"' in response.content.decode()
    assert tenant_state(tenant) == before
    assert Route.objects.get(pk=route.pk).cache_ttl_seconds is None


def test_deleting_a_route_goes_back_to_the_list(admin_web, route):
    response = admin_web.post("/routes/smart/delete/", headers=HTMX)
    assert response["HX-Redirect"] == "/routes/"
    assert not Route.objects.filter(pk=route.pk).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_viewers_and_developers_see_read_only_route_pages(client_for, members, route, spare_model, tenant, role):
    client = client_for(members[role].user)
    html = client.get("/routes/smart/").content.decode()
    assert _shares(html) == {"echo": "100 %"}
    for control in ('<input type="number"', "Add deployment", "Save settings", "Delete route", "Remove"):
        assert control not in html
    assert "Add route" not in client.get("/routes/").content.decode()
    deployment = route.deployments.get()
    before = tenant_state(tenant)
    writes = [
        ("/routes/", {"alias": "new", "deadline_seconds": "1", "retries": "1"}),
        ("/routes/smart/", {"deadline_seconds": "1", "retries": "1"}),
        ("/routes/smart/delete/", {}),
        ("/routes/smart/deployments/", {"model": "spare", "weight": "1", "priority": "0", "timeout_seconds": "1"}),
        (f"/routes/smart/deployments/{deployment.pk}/", {"weight": "5", "priority": "0", "timeout_seconds": "1"}),
        (f"/routes/smart/deployments/{deployment.pk}/remove/", {}),
    ]
    for url, data in writes:
        assert client.post(url, data, headers=HTMX).status_code == 403, url
    assert tenant_state(tenant) == before


def test_another_tenants_admin_gets_404_for_routes_and_changes_nothing(client_for, mallory, route, tenant, other_route):
    client = client_for(mallory)
    deployment = route.deployments.get()
    before = tenant_state(tenant)
    assert client.get("/routes/smart/").status_code == 404
    assert 'href="/routes/smart/"' not in client.get("/routes/").content.decode()
    for url in [
        "/routes/smart/",
        "/routes/smart/delete/",
        "/routes/smart/deployments/",
        f"/routes/smart/deployments/{deployment.pk}/",
        f"/routes/{other_route.alias}/deployments/{deployment.pk}/",
        f"/routes/{other_route.alias}/deployments/{deployment.pk}/remove/",
    ]:
        response = client.post(url, {"weight": "5", "priority": "0", "timeout_seconds": "1"}, headers=HTMX)
        assert response.status_code == 404, url
    assert tenant_state(tenant) == before


def test_an_unknown_route_is_a_404_page(admin_web, tenant):
    RouteFactory(tenant=tenant, alias="a.b")
    assert admin_web.get("/routes/a.c/").status_code == 404
    assert admin_web.get("/routes/a.b/").status_code == 200


@pytest.mark.parametrize("where", ["/routes/smart/", "/routes/"])
def test_the_routing_strategy_is_chosen_on_the_route_forms(admin_web, route, tenant, where):
    form = {"alias": "thrifty", "deadline_seconds": "45", "retries": "1", "enabled": "on"}
    page = admin_web.get(where).content.decode()
    assert '<option value="cost">' in page
    before = tenant_state(tenant)
    refused = admin_web.post(where, {**form, "strategy": "fastest"})
    assert refused.status_code == 400
    assert list(refused.context["form"].errors) == ["strategy"]
    assert tenant_state(tenant) == before
    assert admin_web.post(where, {**form, "strategy": "cost"}).status_code == 302
    alias = "smart" if where == "/routes/smart/" else "thrifty"
    assert Route.objects.get(tenant=tenant, alias=alias).strategy == "cost"
