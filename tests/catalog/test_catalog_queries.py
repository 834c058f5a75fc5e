"""The catalog answers with a constant number of queries: listing a page (with its count) costs the same with
more services than a page holds, each with tags and plans, as with 5. A query per row would show at 90 as
surely as at 5,000, in a fraction of the time."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.catalog.models import Lifecycle, Plan, Service, Tag, Visibility
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import API

pytestmark = pytest.mark.django_db

MANY = 90  # 60 visible to globex: more than a page (50)
FEW = 5


def add_services(*, tenant, route, start: int, stop: int, shared_with) -> None:
    """Published services numbered start..stop-1 of `tenant`: public, shared with `shared_with` or private (every
    third one), each with two tags and two plans."""
    visibility = [Visibility.PUBLIC, Visibility.SHARED, Visibility.PRIVATE]
    services = Service.objects.bulk_create(
        Service(
            tenant=tenant,
            route=route,
            slug=f"svc-{n:05d}",
            name=f"Service {n:05d}",
            summary="A bulk service",
            kind="prompt",
            visibility=visibility[n % 3],
            lifecycle=Lifecycle.PUBLISHED,
        )
        for n in range(start, stop)
    )
    tags = [Tag.objects.get_or_create(name=f"tag-{n}")[0] for n in range(10)]
    Service.tags.through.objects.bulk_create(
        Service.tags.through(service_id=service.pk, tag_id=tags[(i + k) % 10].pk)
        for i, service in enumerate(services)
        for k in (0, 1)
    )
    Service.shared_with.through.objects.bulk_create(
        Service.shared_with.through(service_id=service.pk, tenant_id=shared_with.pk)
        for service in services
        if service.visibility == Visibility.SHARED
    )
    Plan.objects.bulk_create(
        Plan(service=service, slug=slug, name=slug.title(), requests_per_day=100, is_default=slug == "free")
        for service in services
        for slug in ("free", "pro")
    )


def queries_for(client: APIClient, path: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured), response


@pytest.fixture
def readers(other_tenant, key_for):
    """The two kinds of catalog readers of globex: an app with its key, and a person."""
    _, secret = key_for(other_tenant)
    app = APIClient()
    app.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    person = APIClient()
    person.force_login(MembershipFactory(tenant=other_tenant, user=UserFactory()).user)
    return {"app": app, "person": person}


PATHS = [f"{API}/services/", f"{API}/services/?tag=tag-3", f"{API}/services/?q=service&kind=prompt"]


@pytest.mark.parametrize("reader", ["app", "person"])
def test_listing_takes_as_many_queries_with_a_full_page_of_services_as_with_5(
    tenant, other_tenant, route, readers, reader
):
    client = readers[reader]
    add_services(tenant=tenant, route=route, start=0, stop=FEW, shared_with=other_tenant)
    client.get(PATHS[0])  # warm-up: the key's last use is recorded at most once a minute
    few = [queries_for(client, path) for path in PATHS]

    add_services(tenant=tenant, route=route, start=FEW, stop=MANY, shared_with=other_tenant)
    many = [queries_for(client, path) for path in PATHS]

    listed = many[0][1].json()
    assert listed["count"] == MANY - MANY // 3  # every third service is private to acme
    assert len(listed["results"]) == 50
    assert all(len(row["tags"]) == 2 and len(row["plans"]) == 2 for row in listed["results"])
    assert [count for count, _ in many] == [count for count, _ in few]
    assert max(count for count, _ in many) <= 8


def test_the_web_catalog_takes_as_many_queries_with_a_full_page_of_services_as_with_5(
    tenant, other_tenant, route, client
):
    client.force_login(MembershipFactory(tenant=other_tenant, user=UserFactory()).user)
    add_services(tenant=tenant, route=route, start=0, stop=FEW, shared_with=other_tenant)
    client.get("/catalog/")
    few_queries, _ = queries_for(client, "/catalog/")
    add_services(tenant=tenant, route=route, start=FEW, stop=MANY, shared_with=other_tenant)
    many_queries, response = queries_for(client, "/catalog/")
    assert b"Service 00000" in response.content
    assert many_queries == few_queries, (few_queries, many_queries)
