"""Writes of services: who may, what they check, the lifecycle, sharing; each audited and bumping the gateway's
configuration version."""

from __future__ import annotations

import pytest

from apps.catalog.models import Lifecycle, Service, Tag, Visibility
from apps.catalog.services import service_create, service_set_lifecycle, service_share, service_update
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.models import AuditEvent, ConfigVersion
from apps.tenants.models import Role
from tests.catalog.conftest import SENTIMENT_INPUT
from tests.factories import MembershipFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def create(tenant, route, membership, **overrides):
    fields = {
        "slug": "summarize",
        "name": "Summarize",
        "kind": "prompt",
        "route": route,
        "visibility": "private",
        "approval_mode": "manual",
        "input_schema": SENTIMENT_INPUT,
        **overrides,
    }
    return service_create(tenant=tenant, actor_membership=membership, **fields)


def test_an_admin_creates_a_draft_service_with_tags_created_on_the_fly(
    tenant, route, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        service = create(tenant, route, admin, tags=[" NLP ", "nlp", "Finance"])
    assert service.lifecycle == Lifecycle.DRAFT
    assert sorted(service.tags.values_list("name", flat=True)) == ["finance", "nlp"]
    assert Tag.objects.count() == 2
    event = AuditEvent.objects.get(action="service.create")
    assert (event.tenant, event.object_repr) == (tenant, "Summarize")
    assert ConfigVersion.objects.get(name="gateway").version >= 1


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_below_admin_cannot_create(tenant, route, members, role):
    with pytest.raises(NotPermitted):
        create(tenant, route, members[role])
    assert not Service.objects.exists()


def test_an_admin_of_another_tenant_cannot_create_here(tenant, route, other_tenant):
    outsider = MembershipFactory(tenant=other_tenant, role=Role.OWNER)
    with pytest.raises(NotPermitted):
        create(tenant, route, outsider)


def test_the_route_must_be_the_tenants_own(tenant, admin, other_route):
    with pytest.raises(ApplicationError) as refused:
        create(tenant, other_route, admin)
    assert refused.value.field == "route"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"input_schema": {"type": "objekt"}}, "input_schema", id="unknown-type"),
        pytest.param({"input_schema": {"properties": []}}, "input_schema", id="properties-not-object"),
        pytest.param({"input_schema": ["not", "a", "schema"]}, "input_schema", id="not-an-object"),
        pytest.param({"input_schema": {"type": "string"}}, "input_schema", id="input-not-an-object"),
        pytest.param({"output_mode": "json", "output_schema": {"type": 5}}, "output_schema", id="bad-output-schema"),
        pytest.param({"output_mode": "json"}, "output_schema", id="json-output-without-schema"),
        pytest.param({"tags": ["no spaces"]}, "tags", id="tag-with-space"),
        pytest.param({"tags": ["ünïcode"]}, "tags", id="tag-non-ascii"),
        pytest.param({"tags": [f"t{n}" for n in range(21)]}, "tags", id="too-many-tags"),
        pytest.param({"slug": "Bad Slug"}, "slug", id="bad-slug"),
        pytest.param({"kind": "robot"}, "kind", id="unknown-kind"),
        pytest.param({"expected_tokens_per_call": 0}, "expected_tokens_per_call", id="zero-tokens"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(tenant, route, admin, overrides, field):
    with pytest.raises(ApplicationError) as refused:
        create(tenant, route, admin, **overrides)
    assert refused.value.field == field
    assert refused.value.message
    assert (Service.objects.count(), Tag.objects.count(), AuditEvent.objects.count()) == (0, 0, 0)


def test_the_schema_error_repeats_the_validators_message(tenant, route, admin):
    with pytest.raises(ApplicationError) as refused:
        create(tenant, route, admin, input_schema={"type": "objekt"})
    assert "'objekt' is not valid" in refused.value.message


def test_a_duplicate_slug_is_a_conflict(tenant, route, admin, other_tenant, other_route):
    ServiceFactory(tenant=other_tenant, route=other_route, slug="summarize")  # slugs are global addresses
    with pytest.raises(ConflictError) as refused:
        create(tenant, route, admin, tags=["fresh"])
    assert refused.value.field == "slug"
    assert not Tag.objects.filter(name="fresh").exists()


def test_update_changes_fields_and_tags_and_records_the_difference(sentiment, admin):
    service_update(service=sentiment, actor_membership=admin, data={"name": "Mood", "tags": ["nlp"], "slug": "x"})
    sentiment.refresh_from_db()
    assert (sentiment.name, sentiment.slug) == ("Mood", "sentiment")  # the slug is the address: it stays
    assert list(sentiment.tags.values_list("name", flat=True)) == ["nlp"]
    event = AuditEvent.objects.get(action="service.update")
    assert event.changes == {"name": ["Sentiment", "Mood"], "tags": [["nlp", "text"], ["nlp"]]}


def test_update_checks_the_resulting_output_mode(sentiment, admin):
    with pytest.raises(ApplicationError) as refused:
        service_update(service=sentiment, actor_membership=admin, data={"output_schema": None})
    assert refused.value.field == "output_schema"
    sentiment.refresh_from_db()
    assert sentiment.output_schema


ALLOWED = {
    (Lifecycle.DRAFT, Lifecycle.PUBLISHED),
    (Lifecycle.DRAFT, Lifecycle.RETIRED),
    (Lifecycle.PUBLISHED, Lifecycle.DEPRECATED),
    (Lifecycle.PUBLISHED, Lifecycle.RETIRED),
    (Lifecycle.DEPRECATED, Lifecycle.PUBLISHED),
    (Lifecycle.DEPRECATED, Lifecycle.RETIRED),
}
TRANSITIONS = [
    pytest.param(start, end, (start, end) in ALLOWED, id=f"{start}-to-{end}")
    for start in Lifecycle.values
    for end in Lifecycle.values
]


@pytest.mark.parametrize(("start", "end", "allowed"), TRANSITIONS)
def test_lifecycle_transitions(tenant, route, admin, start, end, allowed):
    service = ServiceFactory(tenant=tenant, route=route, lifecycle=start)
    if allowed:
        service_set_lifecycle(service=service, actor_membership=admin, lifecycle=end)
        assert AuditEvent.objects.filter(object_id=str(service.pk), changes={"lifecycle": [start, end]}).exists()
    else:
        with pytest.raises(ConflictError) as refused:
            service_set_lifecycle(service=service, actor_membership=admin, lifecycle=end)
        assert refused.value.field == "lifecycle"
    service.refresh_from_db()
    assert service.lifecycle == (end if allowed else start)


def test_publishing_stamps_published_at_once(sentiment, admin):
    service_set_lifecycle(service=sentiment, actor_membership=admin, lifecycle=Lifecycle.PUBLISHED)
    first = sentiment.published_at
    assert first is not None
    service_set_lifecycle(service=sentiment, actor_membership=admin, lifecycle=Lifecycle.DEPRECATED)
    service_set_lifecycle(service=sentiment, actor_membership=admin, lifecycle=Lifecycle.PUBLISHED)
    assert sentiment.published_at == first


def test_a_developer_cannot_publish(sentiment, members):
    with pytest.raises(NotPermitted):
        service_set_lifecycle(service=sentiment, actor_membership=members[Role.DEVELOPER], lifecycle="published")


def test_sharing_a_private_service_makes_it_shared(tenant, route, admin, other_tenant, third_tenant):
    service = create(tenant, route, admin)
    service_share(service=service, actor_membership=admin, tenants=[other_tenant, third_tenant, other_tenant])
    service.refresh_from_db()
    assert service.visibility == Visibility.SHARED
    assert sorted(service.shared_with.values_list("slug", flat=True)) == ["globex", "initech"]
    service_share(service=service, actor_membership=admin, tenants=[third_tenant])
    assert list(service.shared_with.values_list("slug", flat=True)) == ["initech"]


def test_sharing_with_its_own_tenant_is_refused(sentiment, admin, tenant):
    with pytest.raises(ApplicationError) as refused:
        service_share(service=sentiment, actor_membership=admin, tenants=[tenant])
    assert refused.value.field == "tenants"
