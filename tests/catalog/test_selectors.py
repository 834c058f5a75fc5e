"""Who sees which service: each visibility (private, shared, public) in each lifecycle, seen by its own tenant, a
tenant it is shared with and a stranger; filters; and whose catalog a person reads."""

from __future__ import annotations

import pytest
from django.http import Http404

from apps.catalog.models import Lifecycle, Visibility
from apps.catalog.selectors import (
    catalog_tenant_for_person,
    service_get_visible,
    service_list_visible_to,
    tag_list_visible_to,
)
from apps.core.errors import ApplicationError
from tests.factories import MembershipFactory, ServiceFactory, TagFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

VIEWERS = ["owner", "partner", "stranger"]  # acme owns it; it is shared with globex (partner), not with initech


def expected_visible(visibility: str, lifecycle: str, viewer: str) -> bool:
    if viewer == "owner":
        return True
    if lifecycle not in (Lifecycle.PUBLISHED, Lifecycle.DEPRECATED):
        return False
    return visibility == Visibility.PUBLIC or (visibility == Visibility.SHARED and viewer == "partner")


MATRIX = [
    pytest.param(visibility, lifecycle, viewer, id=f"{visibility}-{lifecycle}-seen-by-{viewer}")
    for visibility in Visibility.values
    for lifecycle in Lifecycle.values
    for viewer in VIEWERS
]


@pytest.mark.parametrize(("visibility", "lifecycle", "viewer"), MATRIX)
def test_visibility_matrix(tenant, other_tenant, third_tenant, route, visibility, lifecycle, viewer):
    service = ServiceFactory(tenant=tenant, route=route, slug="svc", visibility=visibility, lifecycle=lifecycle)
    service.shared_with.set([other_tenant])
    viewer_tenant = {"owner": tenant, "partner": other_tenant, "stranger": third_tenant}[viewer]
    visible = expected_visible(visibility, lifecycle, viewer)

    assert list(service_list_visible_to(tenant=viewer_tenant)) == ([service] if visible else [])
    if visible:
        assert service_get_visible(tenant=viewer_tenant, slug="svc") == service
    else:
        with pytest.raises(Http404):
            service_get_visible(tenant=viewer_tenant, slug="svc")


def test_a_service_shared_with_several_tenants_is_listed_once(tenant, other_tenant, third_tenant, route):
    service = ServiceFactory(tenant=tenant, route=route, visibility=Visibility.SHARED)
    service.shared_with.set([other_tenant, third_tenant])
    assert service_list_visible_to(tenant=other_tenant).count() == 1


@pytest.fixture
def shelf(tenant, other_tenant, route, other_route):
    nlp, finance = TagFactory(name="nlp"), TagFactory(name="finance")
    mood = ServiceFactory(tenant=tenant, route=route, slug="mood", name="Mood", summary="Sentiment of a text")
    mood.tags.set([nlp])
    ledger = ServiceFactory(tenant=other_tenant, route=other_route, slug="ledger", name="Ledger", kind="prompt")
    ledger.visibility = Visibility.PUBLIC
    ledger.save()
    ledger.tags.set([finance])
    hidden = ServiceFactory(tenant=other_tenant, route=other_route, slug="hidden", name="Hidden")
    hidden.tags.set([TagFactory(name="secret")])
    return {"mood": mood, "ledger": ledger}


@pytest.mark.parametrize(
    ("filters", "slugs"),
    [
        ({}, ["ledger", "mood"]),
        ({"q": "SENTIMENT"}, ["mood"]),
        ({"q": "ledg"}, ["ledger"]),
        ({"tag": "NLP"}, ["mood"]),
        ({"kind": "prompt"}, ["ledger"]),
        ({"owner": "globex"}, ["ledger"]),
        ({"lifecycle": "draft"}, []),
        ({"tag": "secret"}, []),
    ],
)
def test_filters(shelf, tenant, filters, slugs):
    assert [s.slug for s in service_list_visible_to(tenant=tenant, filters=filters)] == slugs


def test_tags_of_invisible_services_stay_hidden(shelf, tenant):
    assert [tag.name for tag in tag_list_visible_to(tenant=tenant)] == ["finance", "nlp"]


def test_a_person_reads_the_catalog_of_the_tenant_they_name_or_of_their_only_one(tenant, other_tenant):
    person = UserFactory()
    MembershipFactory(user=person, tenant=tenant)
    assert catalog_tenant_for_person(user=person, slug=None) == tenant
    assert catalog_tenant_for_person(user=person, slug="acme") == tenant
    with pytest.raises(Http404):
        catalog_tenant_for_person(user=person, slug="globex")
    MembershipFactory(user=person, tenant=other_tenant)
    with pytest.raises(ApplicationError) as refused:
        catalog_tenant_for_person(user=person, slug=None)
    assert refused.value.field == "tenant"
    assert catalog_tenant_for_person(user=person, slug="globex") == other_tenant


def test_a_person_in_no_tenant_has_no_catalog(db):
    TenantFactory()
    with pytest.raises(ApplicationError):
        catalog_tenant_for_person(user=UserFactory(), slug=None)
