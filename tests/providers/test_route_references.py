"""A route still named elsewhere is not deleted: by a service published on it or embedding with it, by a plan that
allows it or sends calls to it once over budget, by a limit set's over-budget route. The web page and the API
answer what to change first (409), nothing is lost, and the route goes once nothing names it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.access.models import LimitSet
from apps.providers.models import Route
from apps.tenants.models import Role
from tests.factories import PlanFactory, RouteFactory, ServiceFactory
from tests.helpers import API, tenant_state

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _published_on(tenant, route):
    return ServiceFactory(tenant=tenant, slug="summarize", route=route)


def _semantic_cache(tenant, route):
    return ServiceFactory(
        tenant=tenant, slug="summarize", route=RouteFactory(tenant=tenant, alias="main"), semantic_cache=True,
        semantic_cache_route=route.alias, cache_ttl_seconds=60,
    )  # fmt: skip


def _allowed(tenant, route):
    service = ServiceFactory(tenant=tenant, slug="summarize", route=RouteFactory(tenant=tenant, alias="main"))
    return PlanFactory(service=service, slug="free", allowed_models=["main", route.alias])


def _over_budget(tenant, route):
    service = ServiceFactory(tenant=tenant, slug="summarize", route=RouteFactory(tenant=tenant, alias="main"))
    return PlanFactory(service=service, slug="free", monthly_budget=Decimal(5), over_budget_route=route.alias)


def _limits(tenant, route):
    return LimitSet.objects.create(tenant=tenant, budget_per_month=Decimal(5), over_budget_route=route)


REFERENCES = [
    pytest.param(_published_on, "service 'summarize'", id="service"),
    pytest.param(_semantic_cache, "service 'summarize' (semantic cache)", id="semantic-cache"),
    pytest.param(_allowed, "plan 'free' of service 'summarize' (allowed models)", id="plan-allowed-models"),
    pytest.param(_over_budget, "plan 'free' of service 'summarize' (over-budget route)", id="plan-over-budget"),
    pytest.param(_limits, "the limits of tenant 'acme' (over-budget route)", id="limit-set"),
]


@pytest.mark.parametrize(("reference", "named"), REFERENCES)
def test_the_api_refuses_with_what_names_the_route_and_deletes_it_once_nothing_does(
    members, api_client_for, tenant, route, reference, named
):
    referrer = reference(tenant, route)
    api = api_client_for(members[Role.ADMIN].user)
    before = tenant_state(tenant)
    response = api.delete(f"{API}/tenants/{tenant.slug}/routes/{route.alias}/")
    assert response.status_code == 409
    assert response.json()["message"] == f"Route 'smart' is still used by {named}: change those first."
    assert tenant_state(tenant) == before
    referrer.delete()
    assert api.delete(f"{API}/tenants/{tenant.slug}/routes/{route.alias}/").status_code == 204
    assert not Route.objects.filter(pk=route.pk).exists()


@pytest.mark.parametrize(("reference", "named"), REFERENCES)
def test_the_route_page_says_what_names_the_route_and_keeps_it(members, client_for, tenant, route, reference, named):
    reference(tenant, route)
    web = client_for(members[Role.ADMIN].user)
    response = web.post(f"/routes/{route.alias}/delete/", follow=True)
    assert response.status_code == 200
    assert f"Route &#x27;smart&#x27; is still used by {named.replace(chr(39), '&#x27;')}" in response.content.decode()
    assert Route.objects.filter(pk=route.pk).exists()


def test_every_reference_is_named(members, api_client_for, tenant, route):
    _published_on(tenant, route)
    other = ServiceFactory(tenant=tenant, slug="translate", route=RouteFactory(tenant=tenant, alias="main"))
    PlanFactory(service=other, slug="pro", allowed_models=[route.alias], over_budget_route=route.alias)
    response = api_client_for(members[Role.ADMIN].user).delete(f"{API}/tenants/{tenant.slug}/routes/smart/")
    assert response.json()["message"] == (
        "Route 'smart' is still used by service 'summarize', plan 'pro' of service 'translate' (over-budget route): "
        "change those first."
    )


def test_another_tenants_references_do_not_hold_a_route(members, api_client_for, tenant, route, other_tenant):
    # The same alias in another tenant names that tenant's route, not this one.
    other_route = RouteFactory(tenant=other_tenant, alias=route.alias)
    ServiceFactory(tenant=other_tenant, route=other_route)
    PlanFactory(service__tenant=other_tenant, service__route=other_route, allowed_models=[route.alias])
    response = api_client_for(members[Role.ADMIN].user).delete(f"{API}/tenants/{tenant.slug}/routes/smart/")
    assert response.status_code == 204


def test_the_route_page_names_what_uses_it_and_offers_no_delete_until_nothing_does(members, client_for, tenant, route):
    web = client_for(members[Role.ADMIN].user)
    plan = _over_budget(tenant, route)
    html = web.get("/routes/smart/").content.decode()
    assert "Still used by plan &#x27;free&#x27; of service &#x27;summarize&#x27; (over-budget route)" in html
    assert '<button type="button" class="danger" disabled aria-describedby="route-used-by">' in html
    assert 'hx-post="/routes/smart/delete/"' not in html
    plan.delete()
    html = web.get("/routes/smart/").content.decode()
    assert "Still used by" not in html
    assert 'hx-post="/routes/smart/delete/"' in html
    assert 'hx-confirm="Delete the route smart? Apps calling it get an error from now on."' in html
